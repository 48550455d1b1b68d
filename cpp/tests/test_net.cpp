// The core's Net against a naive reference written here with plain loops (in
// double): forward output, loss, parameter and input gradients, and the weights
// after two train_steps with Adam (torch's update), for small ReLU/Tanh MLPs with
// and without bias, float and double, each ISA as in test_gemm (isa_list.h); that
// the fused two-layer pass gives the layer-by-layer bits; that an update flushes
// subnormal moments and gives the thread its mode back; and that the core refuses
// kinds outside its enums.
// Built with -DFASTMLP_CPP_TESTS=ON and run by ctest.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/net.h"
#include "isa_list.h"

using namespace fastmlp;

namespace {

int failures = 0, checks = 0;

LayerSpec linear(index_t in, index_t out, bool bias) {
    LayerSpec s;
    s.kind = LayerKind::linear;
    s.in = in;
    s.out = out;
    s.bias = bias;
    return s;
}

LayerSpec activation(Act kind) {
    LayerSpec s;
    s.kind = LayerKind::activation;
    s.act.kind = kind;
    return s;
}

using Vec = std::vector<double>;

// What the reference computes for one batch.
struct Pass {
    Vec out;   // n x d prediction
    double loss = 0;
    Vec grad;  // dloss/dparams, the core's layout: per Linear W (in x out) then b
    Vec dx;    // dloss/dx
};

// Forward, MSE (mean) and backprop for layers of Linear, ReLU and Tanh.
Pass reference(const std::vector<LayerSpec>& layers, index_t in, const Vec& params, const Vec& x,
               const Vec& y, index_t n) {
    std::vector<Vec> acts{x};  // acts[l]: input of layer l; the last: the output
    std::vector<index_t> width{in}, offset;
    index_t off = 0;
    for (const LayerSpec& L : layers) {
        const Vec& a = acts.back();
        Vec z;
        offset.push_back(off);
        if (L.kind == LayerKind::linear) {
            z.assign(std::size_t(n * L.out), 0.0);
            for (index_t i = 0; i < n; ++i)
                for (index_t j = 0; j < L.out; ++j) {
                    double s = L.bias ? params[std::size_t(off + L.in * L.out + j)] : 0.0;
                    for (index_t k = 0; k < L.in; ++k)
                        s += a[std::size_t(i * L.in + k)] * params[std::size_t(off + k * L.out + j)];
                    z[std::size_t(i * L.out + j)] = s;
                }
            off += L.in * L.out + (L.bias ? L.out : 0);
            width.push_back(L.out);
        } else {
            z = a;
            for (double& v : z) v = L.act.kind == Act::relu ? (v < 0 ? 0 : v) : std::tanh(v);
            width.push_back(width.back());
        }
        acts.push_back(z);
    }
    Pass p;
    p.out = acts.back();
    const double count = double(p.out.size());
    Vec g(p.out.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
        const double diff = p.out[i] - y[i];
        p.loss += diff * diff / count;
        g[i] = 2 * diff / count;
    }
    p.grad.assign(params.size(), 0.0);
    for (std::size_t l = layers.size(); l-- > 0;) {
        const LayerSpec& L = layers[l];
        const Vec &a = acts[l], &z = acts[l + 1];
        Vec gin(a.size(), 0.0);
        if (L.kind == LayerKind::linear) {
            const index_t o = offset[l];
            for (index_t i = 0; i < n; ++i)
                for (index_t j = 0; j < L.out; ++j) {
                    const double gij = g[std::size_t(i * L.out + j)];
                    if (L.bias) p.grad[std::size_t(o + L.in * L.out + j)] += gij;
                    for (index_t k = 0; k < L.in; ++k) {
                        p.grad[std::size_t(o + k * L.out + j)] += a[std::size_t(i * L.in + k)] * gij;
                        gin[std::size_t(i * L.in + k)] += gij * params[std::size_t(o + k * L.out + j)];
                    }
                }
        } else {
            for (std::size_t i = 0; i < a.size(); ++i)
                gin[i] = g[i] * (L.act.kind == Act::relu ? (a[i] > 0 ? 1.0 : 0.0) : 1 - z[i] * z[i]);
        }
        g = gin;
    }
    p.dx = g;
    return p;
}

// torch.optim.Adam, step t (from 1), no weight decay.
void adam_reference(const OptSpec& s, int t, Vec& p, const Vec& g, Vec& m, Vec& v) {
    const double bc1 = 1 - std::pow(s.beta1, t), bc2 = 1 - std::pow(s.beta2, t);
    for (std::size_t i = 0; i < p.size(); ++i) {
        m[i] = s.beta1 * m[i] + (1 - s.beta1) * g[i];
        v[i] = s.beta2 * v[i] + (1 - s.beta2) * g[i] * g[i];
        p[i] -= s.lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + s.eps);
    }
}

// got[i] against want[i], relative to the largest |want| (values near zero
// would make a plain relative error meaningless).
template <class T>
void expect_close(const char* what, const char* where, const T* got, const Vec& want,
                  double rtol) {
    double scale = 0;
    for (double w : want) scale = std::max(scale, std::fabs(w));
    for (std::size_t i = 0; i < want.size(); ++i) {
        ++checks;
        if (!(std::fabs(double(got[i]) - want[i]) <= rtol * scale) && failures++ < 20)
            std::printf("MISMATCH %s %s [%zu]: %.17g, want %.17g\n", where, what, i,
                        double(got[i]), want[i]);
    }
}

template <class T>
void check_net(const char* where, const std::vector<LayerSpec>& layers, index_t in, index_t n) {
    const double rtol = sizeof(T) == 8 ? 1e-12 : 1e-5;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    const index_t np = param_count(layers);
    std::vector<T> params(static_cast<std::size_t>(np)), grads(params.size());
    Net<T> net(layers, in, params.data(), grads.data());
    const index_t d = net.out_features();
    // Values drawn as T, so both sides start from the same numbers.
    std::vector<T> xt(std::size_t(n * in)), yt(std::size_t(n * d));
    for (std::vector<T>* v : {&params, &xt, &yt})
        for (T& e : *v) e = T(u(rng));
    const Vec p0(params.begin(), params.end()), x(xt.begin(), xt.end()), y(yt.begin(), yt.end());

    const Pass ref = reference(layers, in, p0, x, y, n);
    expect_close("forward", where, net.forward(xt.data(), n), ref.out, rtol);
    // Backward from the reference's dloss/dout, into the gradients and dx.
    std::vector<T> gout(ref.out.size()), dx(xt.size());
    for (std::size_t i = 0; i < gout.size(); ++i)
        gout[i] = T(2 * (ref.out[i] - y[i]) / double(gout.size()));
    net.backward(gout.data(), dx.data(), false);
    expect_close("grad", where, grads.data(), ref.grad, rtol);
    expect_close("dx", where, dx.data(), ref.dx, rtol);

    // Two Adam steps (the second with bias corrections past step 1).
    Optimizer<T> opt;
    opt.spec.kind = OptKind::adam;
    opt.spec.lr = 0.01;
    std::vector<T> m(params.size()), v(params.size());
    opt.spans.push_back({params.data(), grads.data(), np, 0});
    opt.state = {m.data(), v.data()};
    Vec pref = p0, mref(p0.size()), vref(p0.size());
    for (int t = 1; t <= 2; ++t) {
        const Pass r = reference(layers, in, pref, x, y, n);
        const double loss = net.train_step(xt.data(), Targets<T>{yt.data(), nullptr, nullptr}, n,
                                           LossSpec{}, opt).value;
        expect_close("train_step loss", where, &loss, Vec{r.loss}, rtol);
        adam_reference(opt.spec, t, pref, r.grad, mref, vref);
        expect_close("weights after train_step", where, params.data(), pref, rtol);
    }
}

// Net::loss_grad on Linear + ReLU + Linear to one output with MSE takes the fused
// pass (the kernels' relu_mlp): the same loss and gradient bits as forward,
// loss_forward and backward layer by layer, and close to the reference. Shapes
// cover the pass's 4-row output groups and 32-row chunks with their tails, every
// hidden vector count with and without a masked tail, and the widest it takes.
template <class T>
void check_fused_pass(const char* isa) {
    const index_t max_h = ukernel<T>().relu_mlp_max_h;
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(-1, 1);
    char where[128];
    for (index_t n : {1, 2, 3, 5, 37, 200, 1000})
        for (index_t in : {1, 3, 7})
            for (index_t h : {index_t(2), index_t(5), index_t(8), index_t(13), index_t(32), max_h / 2 + 1, max_h})
                for (bool bias : {true, false})
                    for (bool mean : {true, false}) {
                        const std::vector<LayerSpec> layers{linear(in, h, bias), activation(Act::relu),
                                                            linear(h, 1, bias)};
                        const std::size_t np = std::size_t(param_count(layers)),
                                          rows = std::size_t(n);
                        std::vector<T> params(np), fused(np), layered(np), x(rows * std::size_t(in)),
                            y(rows), gout(rows);
                        for (std::vector<T>* v : {&params, &x, &y})
                            for (T& e : *v) e = T(u(rng));
                        std::snprintf(where, sizeof where, "%s %s n=%lld in=%lld h=%lld bias=%d mean=%d",
                                      isa, sizeof(T) == 8 ? "double" : "float", (long long)n,
                                      (long long)in, (long long)h, bias, mean);
                        LossSpec loss;
                        loss.mean = mean;
                        const Targets<T> t{y.data(), nullptr, nullptr};
                        Net<T> a(layers, in, params.data(), fused.data());
                        const double got = a.loss_grad(x.data(), t, n, loss).value;
                        Net<T> b(layers, in, params.data(), layered.data());
                        const double want = loss_forward(loss, b.forward(x.data(), n), t, n, 1, gout.data());
                        b.backward(gout.data(), nullptr, false);
                        // As layer by layer, the step leaves no forward for backward() to use.
                        a.forward(x.data(), n);
                        a.loss_grad(x.data(), t, n, loss);
                        ++checks;
                        try {
                            a.backward(gout.data(), nullptr, false);
                            if (failures++ < 20)
                                std::printf("MISMATCH %s: backward ran after the fused pass\n", where);
                        } catch (const ProtocolError&) {
                        }
                        ++checks;
                        if (got != want && failures++ < 20)
                            std::printf("MISMATCH %s fused loss %.17g, layers %.17g\n", where, got, want);
                        for (std::size_t i = 0; i < fused.size(); ++i) {
                            ++checks;
                            if (fused[i] != layered[i] && failures++ < 20)
                                std::printf("MISMATCH %s fused grad [%zu] %.17g, layers %.17g\n",
                                            where, i, double(fused[i]), double(layered[i]));
                        }
                        const Pass ref = reference(layers, in, Vec(params.begin(), params.end()),
                                                   Vec(x.begin(), x.end()), Vec(y.begin(), y.end()), n);
                        const double denom = mean ? 1.0 : double(n);
                        Vec ref_grad = ref.grad;
                        for (double& e : ref_grad) e *= denom;
                        expect_close("fused loss", where, &got, Vec{ref.loss * denom},
                                     sizeof(T) == 8 ? 1e-12 : 1e-5);
                        expect_close("fused grad", where, fused.data(), ref_grad,
                                     sizeof(T) == 8 ? 1e-12 : 1e-5);
                    }
}

// A zero gradient decays subnormal Adam moments to zero (the update flushes them),
// moments whose arithmetic stays normal follow the rule in T, and afterwards this
// thread keeps subnormals again (FTZ/DAZ on x86, FZ on Arm, set per update).
template <class T>
void check_subnormal_moments_flushed(const char* isa) {
    const T tiny = std::numeric_limits<T>::min();
    const std::size_t n = 64, half = n / 2;
    std::vector<T> p(n, T(1)), g(n, T(0)), m(n, tiny / 4), v(n, tiny / 4);
    for (std::size_t i = half; i < n; ++i) m[i] = v[i] = tiny * 100;
    Optimizer<T> opt;
    opt.spec.kind = OptKind::adam;
    opt.spans.push_back({p.data(), g.data(), index_t(n), 0});
    opt.state = {m.data(), v.data()};
    const T want_m = tiny * 100 + (T(0) - tiny * 100) * (T(1) - T(opt.spec.beta1));
    const T want_v = tiny * 100 * T(opt.spec.beta2);
    opt.step();
    for (std::size_t i = 0; i < n; ++i) {
        ++checks;
        const bool flushed = i < half;
        if ((m[i] != (flushed ? T(0) : want_m) || v[i] != (flushed ? T(0) : want_v)) &&
            failures++ < 20)
            std::printf("MISMATCH %s %s subnormal moments [%zu]: m %g v %g\n", isa,
                        sizeof(T) == 8 ? "double" : "float", i, double(m[i]), double(v[i]));
    }
    ++checks;
    volatile T quarter = tiny;  // volatile: divided at run time, in this thread's mode
    if (!(quarter / 4 > 0) && failures++ < 20)
        std::printf("MISMATCH %s: subnormals still flushed after the update\n", isa);
}

// Expects std::invalid_argument from f: kinds can arrive from Python as any integer.
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

void check_unknown_kinds_rejected() {
    std::vector<double> buf(64), grads(64), m(64), v(64);
    expect_rejected("activation kind 99", [&] {
        Net<double> net({linear(3, 2, true), activation(static_cast<Act>(99))}, 3, buf.data(),
                        grads.data());
    });
    expect_rejected("layer kind 7", [&] {
        LayerSpec s = linear(3, 2, true);
        s.kind = static_cast<LayerKind>(7);
        param_count({linear(3, 2, true), s});
    });
    expect_rejected("loss kind 9", [&] {
        LossSpec loss;
        loss.kind = static_cast<LossKind>(9);
        loss_forward<double>(loss, buf.data(), {buf.data(), nullptr, nullptr}, 4, 2, nullptr);
    });
    expect_rejected("optimizer kind 7", [&] {
        Optimizer<double> opt;
        opt.spec.kind = static_cast<OptKind>(7);
        opt.spans.push_back({buf.data(), grads.data(), 8, 0});
        opt.state = {m.data(), v.data()};
        opt.step();
    });
    expect_rejected("GEMM epilogue activation 42", [&] {
        Epilogue<double> ep;
        ep.act.kind = static_cast<Act>(42);
        ep.act_out = rowmajor(m.data(), 4);
        gemm<double>(4, 4, 4, rowmajor<double>(buf.data(), 4), rowmajor<double>(buf.data(), 4),
                     rowmajor(v.data(), 4), false, &ep);
    });
}

template <class T>
void check_all(const char* isa) {
    const char* type = sizeof(T) == 8 ? "double" : "float";
    char where[96];
    for (bool bias : {true, false}) {
        std::snprintf(where, sizeof where, "%s %s bias=%d 3-5relu-2", isa, type, bias);
        check_net<T>(where, {linear(3, 5, bias), activation(Act::relu), linear(5, 2, bias)}, 3, 9);
        std::snprintf(where, sizeof where, "%s %s bias=%d 4-7tanh-6relu-3", isa, type, bias);
        check_net<T>(where,
                     {linear(4, 7, bias), activation(Act::tanh), linear(7, 6, bias),
                      activation(Act::relu), linear(6, 3, bias)},
                     4, 11);
        // One output: the matrix-vector (dot) kernel; 37 rows: its 4-row blocks and a tail.
        std::snprintf(where, sizeof where, "%s %s bias=%d 6-4relu-1", isa, type, bias);
        check_net<T>(where, {linear(6, 4, bias), activation(Act::relu), linear(4, 1, bias)}, 6, 37);
    }
}

}  // namespace

int main() {
    int isas = 0;
    for (const char* isa : isas_to_test()) {
        if (!use_isa(isa)) return 1;
        check_all<float>(isa);
        check_all<double>(isa);
        check_fused_pass<float>(isa);
        check_fused_pass<double>(isa);
        check_subnormal_moments_flushed<float>(isa);
        check_subnormal_moments_flushed<double>(isa);
        ++isas;
    }
    check_unknown_kinds_rejected();
    std::printf("%s: test_net, %d ISA(s), %d checks, %d failures\n", failures ? "FAILED" : "OK",
                isas, checks, failures);
    return failures ? 1 : 0;
}
