// CSR input against the same rows densified: the sparse Linear kernels against
// the dense ones (with and without bias, fused activations, accumulation), Net
// forward/backward/train_step, fit (shuffled minibatches, sample weights, sparse
// validation data) and fit_lbfgs, float and double; results bitwise the same on
// 1 and 2 threads (with 2 seen to run); and that bad CSR structure and CSR into a network not
// starting with a Linear are refused.
// Built with -DFASTMLP_CPP_TESTS=ON and run by ctest.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include "fastmlp/lbfgs.h"
#include "fastmlp/parallel.h"

using namespace fastmlp;

namespace {

int failures = 0, checks = 0;

// A random CSR matrix and its dense twin. Row 1 is empty, column 0 never
// stored; columns within a row are unsorted and one row repeats a column (it
// adds up, as scipy's toarray() does).
template <class T>
struct Sparse {
    index_t n = 0, in = 0;
    std::vector<index_t> indptr{0}, indices;
    std::vector<T> data, dense;
    Csr<T> csr() const { return {indptr.data(), indices.data(), data.data()}; }
};

template <class T>
Sparse<T> random_csr(index_t n, index_t in, double density, std::mt19937_64& rng) {
    Sparse<T> s;
    s.n = n;
    s.in = in;
    s.dense.assign(size_t(n * in), T(0));
    std::uniform_real_distribution<double> u(-1, 1), p(0, 1);
    for (index_t i = 0; i < n; ++i) {
        const size_t first = s.indices.size();
        for (index_t k = 1; k < in && i != 1; ++k) {
            if (p(rng) >= density) continue;
            s.indices.push_back(k);
            s.data.push_back(T(u(rng)));
        }
        std::reverse(s.indices.begin() + std::ptrdiff_t(first), s.indices.end());
        std::reverse(s.data.begin() + std::ptrdiff_t(first), s.data.end());
        if (i == 2 && s.indices.size() > first) {
            s.indices.push_back(s.indices[first]);
            s.data.push_back(T(u(rng)));
        }
        for (size_t k = first; k < s.indices.size(); ++k)
            s.dense[size_t(i * in + s.indices[k])] += s.data[k];
        s.indptr.push_back(index_t(s.indices.size()));
    }
    return s;
}

template <class T>
std::vector<T> uniform(size_t count, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> v(count);
    for (T& e : v) e = T(u(rng));
    return v;
}

// got against want, relative to the largest |want|.
template <class T>
void expect_close(const char* what, const char* where, const std::vector<T>& got,
                  const std::vector<T>& want, double rtol) {
    double scale = 0;
    for (T w : want) scale = std::max(scale, std::fabs(double(w)));
    for (size_t i = 0; i < want.size(); ++i) {
        ++checks;
        if (!(std::fabs(double(got[i]) - double(want[i])) <= rtol * scale) && failures++ < 20)
            std::printf("MISMATCH %s %s [%zu]: %.17g, want %.17g\n", where, what, i,
                        double(got[i]), double(want[i]));
    }
}

template <class T>
void expect_same(const char* what, const char* where, const std::vector<T>& a,
                 const std::vector<T>& b) {
    ++checks;
    if (a != b && failures++ < 20) std::printf("MISMATCH %s %s: not bitwise equal\n", where, what);
}

template <class T>
double rtol_of() {
    return sizeof(T) == 8 ? 1e-12 : 1e-5;
}

// The kernels against the dense ones on the densified matrix.
template <class T>
void check_kernels(const char* type) {
    std::mt19937_64 rng(1);
    const index_t n = 37, in = 23, out = 19;
    const Sparse<T> x = random_csr<T>(n, in, 0.2, rng);
    const std::vector<T> w = uniform<T>(size_t(in * out), rng), b = uniform<T>(size_t(out), rng),
                         g = uniform<T>(size_t(n * out), rng);
    char where[64];
    for (Act kind : {Act::identity, Act::relu, Act::tanh}) {
        for (bool bias : {true, false}) {
            std::snprintf(where, sizeof where, "%s act=%d bias=%d", type, int(kind), bias);
            ActSpec act;
            act.kind = kind;
            const ActSpec* a = kind == Act::identity ? nullptr : &act;
            std::vector<T> ys(size_t(n * out)), ps(ys.size()), yd(ys.size()), pd(ys.size());
            linear_forward_csr(ys.data(), ps.data(), x.csr(), w.data(), bias ? b.data() : nullptr,
                               n, out, a);
            linear_forward(yd.data(), pd.data(), x.dense.data(), w.data(),
                           bias ? b.data() : nullptr, n, in, out, a);
            expect_close("forward", where, ys, yd, rtol_of<T>());
            if (a) expect_close("forward pre-activation", where, ps, pd, rtol_of<T>());
        }
    }
    for (bool accumulate : {false, true}) {
        std::snprintf(where, sizeof where, "%s accumulate=%d", type, accumulate);
        std::vector<T> dws = uniform<T>(size_t(in * out), rng), dbs = uniform<T>(size_t(out), rng);
        std::vector<T> dwd = dws, dbd = dbs;
        linear_backward_csr(dws.data(), dbs.data(), g.data(), x.csr(), n, in, out, accumulate);
        linear_backward<T>(nullptr, dwd.data(), dbd.data(), g.data(), x.dense.data(), w.data(), n,
                           in, out, accumulate, nullptr);
        expect_close("dw", where, dws, dwd, rtol_of<T>());
        expect_close("db", where, dbs, dbd, rtol_of<T>());
    }
}

std::vector<LayerSpec> mlp(index_t in, index_t hidden, index_t out) {
    std::vector<LayerSpec> layers(3);
    layers[0] = {LayerKind::linear, in, hidden, true, {}, 0.0};
    layers[1].kind = LayerKind::activation;
    layers[1].act.kind = Act::tanh;
    layers[2] = {LayerKind::linear, hidden, out, true, {}, 0.0};
    return layers;
}

// A model: its flat buffers, Adam's state and the Net over them.
template <class T>
struct Model {
    std::vector<T> params, grads, m, v;
    Net<T> net;
    Optimizer<T> opt;
    Model(const std::vector<LayerSpec>& layers, index_t in, const std::vector<T>& p0)
        : params(p0), grads(p0.size()), m(p0.size()), v(p0.size()),
          net(layers, in, params.data(), grads.data()) {
        opt.spec.kind = OptKind::adam;
        opt.spec.lr = 0.01;
        opt.spans.push_back({params.data(), grads.data(), index_t(params.size()), 0});
        opt.state = {m.data(), v.data()};
    }
};

// Both runs of a fit: the CSR rows and the same rows dense.
template <class T, class Run>
void on_both(const char* what, const char* where, const std::vector<LayerSpec>& layers,
             const Sparse<T>& x, Run&& run) {
    std::mt19937_64 rng(3);
    const std::vector<T> p0 = uniform<T>(size_t(param_count(layers)), rng);
    Model<T> sparse(layers, x.in, p0), dense(layers, x.in, p0);
    run(sparse, Input<T>(x.csr()));
    run(dense, Input<T>(x.dense.data()));
    expect_close(what, where, sparse.params, dense.params, sizeof(T) == 8 ? 1e-11 : 1e-4);
}

template <class T>
void check_net(const char* type) {
    std::mt19937_64 rng(2);
    const index_t n = 41, in = 29, hidden = 17, out = 3;
    const Sparse<T> x = random_csr<T>(n, in, 0.15, rng), vx = random_csr<T>(9, in, 0.3, rng);
    const std::vector<T> y = uniform<T>(size_t(n * out), rng);
    const std::vector<T> vy = uniform<T>(size_t(9 * out), rng);
    std::vector<T> sw = uniform<T>(size_t(n), rng);
    for (T& e : sw) e = std::fabs(e);
    const std::vector<LayerSpec> layers = mlp(in, hidden, out);
    const Targets<T> t{y.data(), nullptr, nullptr};

    on_both<T>("weights after train_step", type, layers, x, [&](Model<T>& mdl, Input<T> xi) {
        std::vector<T> pred(size_t(n * out)), scratch(size_t(mdl.net.predict_scratch(n)));
        mdl.net.predict(xi, n, pred.data(), scratch.data());
        const T* f = mdl.net.forward(xi, n);
        ++checks;
        if (!std::equal(pred.begin(), pred.end(), f) && failures++ < 20)
            std::printf("MISMATCH %s: predict differs from forward\n", type);
        for (int step = 0; step < 2; ++step) mdl.net.train_step(xi, t, n, LossSpec{}, mdl.opt);
    });
    FitOptions o;
    o.epochs = 3;
    o.batch_size = 8;
    o.seed = 5;
    for (bool shuffle : {true, false}) {
        o.shuffle = shuffle;
        char where[64];
        std::snprintf(where, sizeof where, "%s shuffle=%d", type, shuffle);
        on_both<T>("weights after fit", where, layers, x, [&](Model<T>& mdl, Input<T> xi) {
            const Dataset<T> train{xi, {y.data(), nullptr, sw.data()}, n};
            const Dataset<T> val{xi.sparse() ? Input<T>(vx.csr()) : Input<T>(vx.dense.data()),
                                 {vy.data(), nullptr, nullptr}, vx.n};
            fit(mdl.net, mdl.opt, LossSpec{}, train, &val, o, [](auto...) { return true; });
        });
    }
    // Cross-entropy labels through L-BFGS.
    std::vector<std::int64_t> labels(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) labels[size_t(i)] = i % out;
    LossSpec ce;
    ce.kind = LossKind::cross_entropy;
    LbfgsOptions lo;
    lo.max_iter = 5;
    on_both<T>("weights after fit_lbfgs", type, layers, x, [&](Model<T>& mdl, Input<T> xi) {
        const Dataset<T> data{xi, {nullptr, labels.data(), nullptr}, n};
        fit_lbfgs(mdl.net, ce, data, 1e-3, lo, [](index_t, double) { return true; });
    });
}

// Big enough for the kernels to take 2 threads (a 256-row batch's sparse
// product is ~8 MFLOP, past parallel.h's kParallelMinFlops): every result
// bitwise the same on 1. The 2-thread run repeats until a worker took part:
// on a busy machine a late worker leaves all its parts to the caller.
template <class T>
void check_threads(const char* type) {
    std::mt19937_64 rng(4);
    const index_t n = 512, in = 300, hidden = 256;
    const Sparse<T> x = random_csr<T>(n, in, 0.2, rng);
    const std::vector<T> y = uniform<T>(size_t(n), rng);
    const std::vector<LayerSpec> layers = mlp(in, hidden, 1);
    const std::vector<T> p0 = uniform<T>(size_t(param_count(layers)), rng);
    std::vector<T> params[2], preds[2];
    auto train_and_predict = [&](int slot) {
        Model<T> mdl(layers, in, p0);
        FitOptions o;
        o.epochs = 2;
        o.batch_size = 256;
        const Dataset<T> train{Input<T>(x.csr()), {y.data(), nullptr, nullptr}, n};
        fit(mdl.net, mdl.opt, LossSpec{}, train, static_cast<const Dataset<T>*>(nullptr), o,
             [](auto...) { return true; });
        params[slot] = mdl.params;
        preds[slot].resize(size_t(n));
        std::vector<T> scratch(size_t(mdl.net.predict_scratch(n)));
        mdl.net.predict(x.csr(), n, preds[slot].data(), scratch.data());
    };
    set_num_threads(1);
    train_and_predict(0);
    set_num_threads(2);
    bool threaded = false;  // without OpenMP, one run
    for (int attempt = 0; attempt < 20 && !threaded; ++attempt) {
        const long long regions = multithreaded_regions();
        train_and_predict(1);
        threaded = !openmp_enabled() || multithreaded_regions() > regions;
        expect_same("weights after fit on 1 and 2 threads", type, params[0], params[1]);
        expect_same("predict on 1 and 2 threads", type, preds[0], preds[1]);
    }
    ++checks;
    if (!threaded) {
        ++failures;
        std::printf("MISMATCH %s: nothing ran on 2 threads in 20 runs\n", type);
    }
    set_num_threads(1);
}

template <class F>
void expect_rejected(const char* what, F&& f) {
    ++checks;
    try {
        f();
        ++failures;
        std::printf("MISMATCH: %s was accepted\n", what);
    } catch (const std::invalid_argument&) {
    }
}

void check_rejected() {
    const std::vector<index_t> indices{0, 2, 1};
    expect_rejected("indptr not starting at 0", [&] {
        const std::vector<index_t> p{1, 2, 3};
        check_csr(p.data(), indices.data(), 2, 3, 3, "x");
    });
    expect_rejected("decreasing indptr", [&] {
        const std::vector<index_t> p{0, 2, 1, 3};
        check_csr(p.data(), indices.data(), 3, 3, 3, "x");
    });
    expect_rejected("indptr past the stored values", [&] {
        const std::vector<index_t> p{0, 2, 4};
        check_csr(p.data(), indices.data(), 2, 3, 3, "x");
    });
    expect_rejected("column index == cols", [&] {
        const std::vector<index_t> p{0, 1, 3};
        check_csr(p.data(), indices.data(), 2, 2, 3, "x");
    });
    expect_rejected("negative column index", [&] {
        const std::vector<index_t> p{0, 1}, neg{-1};
        check_csr(p.data(), neg.data(), 1, 3, 1, "x");
    });
    const std::vector<index_t> p{0, 1, 3};
    check_csr(p.data(), indices.data(), 2, 3, 3, "x");  // valid: no throw
    ++checks;

    std::vector<LayerSpec> layers = mlp(3, 4, 1);
    layers.erase(layers.begin());  // tanh first
    layers[1].in = 3;
    std::vector<double> params(size_t(param_count(layers))), grads(params.size()), y(2);
    Net<double> net(layers, 3, params.data(), grads.data());
    const std::vector<double> data{1, 2, 3};
    const Csr<double> x{p.data(), indices.data(), data.data()};
    expect_rejected("CSR into a network starting with an activation",
                    [&] { net.forward(x, 2); });
    expect_rejected("CSR predict into a network starting with an activation",
                    [&] { net.predict(x, 2, y.data(), grads.data()); });
}

}  // namespace

int main() {
    check_kernels<float>("float");
    check_kernels<double>("double");
    check_net<float>("float");
    check_net<double>("double");
    check_threads<float>("float");
    check_threads<double>("double");
    check_rejected();
    std::printf("%s: test_sparse, %d checks, %d failures\n", failures ? "FAILED" : "OK", checks,
                failures);
    return failures ? 1 : 0;
}
