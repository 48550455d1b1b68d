// Resuming the native fit loop from a FitState: 6 epochs in one call equal 3, then 3
// more from the state the first call left (shuffle order, generator, epoch) with the
// net's dropout draws and the optimizer carried over, bitwise, float and double; the
// state reports each epoch before the hook sees it; a bad order is refused.
// Built with -DFASTMLP_CPP_TESTS=ON and run by ctest.
#include <algorithm>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include "fastmlp/fit.h"

using namespace fastmlp;

namespace {

int failures = 0, checks = 0;

void expect(bool ok, const char* what, const char* type) {
    ++checks;
    if (!ok && failures++ < 20) std::printf("FAIL %s: %s\n", type, what);
}

std::vector<LayerSpec> layers(index_t in, index_t out) {
    std::vector<LayerSpec> l(4);
    l[0] = {LayerKind::linear, in, 12, true, {}, 0.0};
    l[1].kind = LayerKind::activation;
    l[1].act.kind = Act::tanh;
    l[2].kind = LayerKind::dropout;
    l[2].p = 0.25;
    l[3] = {LayerKind::linear, 12, out, true, {}, 0.0};
    return l;
}

// Its own buffers, SGD with momentum over them, the net with a dropout seed.
template <class T>
struct Model {
    std::vector<T> params, grads, buf;
    Net<T> net;
    Optimizer<T> opt;
    Model(const std::vector<LayerSpec>& l, index_t in, const std::vector<T>& p0)
        : params(p0), grads(p0.size()), buf(p0.size()), net(l, in, params.data(), grads.data()) {
        opt.spec.kind = OptKind::sgd;
        opt.spec.lr = 0.05;
        opt.spec.momentum = 0.9;
        opt.spans.push_back({params.data(), grads.data(), index_t(params.size()), 0});
        opt.state = {buf.data()};
        net.dropout_seed = 11;
    }
};

template <class T>
void check(const char* type) {
    const index_t n = 37, in = 3, out = 2;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> x(size_t(n * in)), y(size_t(n * out));
    for (T& v : x) v = T(u(rng));
    for (T& v : y) v = T(u(rng));
    const auto l = layers(in, out);
    std::vector<T> p0(size_t(param_count(l)));
    for (T& v : p0) v = T(u(rng) * 0.5);
    const Dataset<T> train{Input<T>(x.data()), {y.data(), nullptr, nullptr}, n};
    const Dataset<T>* none = nullptr;
    FitOptions o;
    o.batch_size = 5;
    o.seed = 42;
    o.epochs = 6;
    o.report_every = 1;
    const auto go_on = [](auto...) { return true; };

    Model<T> whole(l, in, p0);
    const FitResult all = fit(whole.net, whole.opt, LossSpec{}, train, none, o, go_on);

    Model<T> first(l, in, p0);
    FitState st;
    o.epochs = 3;
    index_t reported = 0;
    fit(first.net, first.opt, LossSpec{}, train, none, o,
        [&](index_t e, bool report, double, double, double) {
            if (report) {
                reported = e;
                expect(st.epoch == e && index_t(st.result.loss.size()) == e,
                       "the state is the reported epoch's", type);
            }
            return true;
        },
        &st);
    expect(reported == 3 && st.epoch == 3, "three epochs reported", type);

    // m and s take up where `first` stopped (the order is the caller's to set).
    const auto continue_first = [&](Model<T>& m, FitState& s) {
        m.buf = first.buf;
        m.opt.step_count = first.opt.step_count;
        m.net.dropout_draws = first.net.dropout_draws;
        s.epoch = st.epoch;
        s.rng = st.rng;
    };
    Model<T> second(l, in, first.params);
    FitState resumed;
    continue_first(second, resumed);
    resumed.order = st.order;
    o.epochs = 6;
    const FitResult rest = fit(second.net, second.opt, LossSpec{}, train, none, o, go_on, &resumed);
    expect(second.params == whole.params, "resumed weights equal the uninterrupted run's", type);
    expect(second.buf == whole.buf, "resumed momentum equals the uninterrupted run's", type);
    expect(rest.loss.size() == 3 && std::equal(rest.loss.begin(), rest.loss.end(),
                                               all.loss.begin() + 3),
           "resumed losses are epochs 4..6", type);

    // The same order in 8-byte entries (as more than 2^32 samples would need) resumes alike.
    Model<T> wide(l, in, first.params);
    FitState resumed_wide;
    continue_first(wide, resumed_wide);
    const std::vector<std::int64_t> order = st.order.values();
    resumed_wide.order.assign(order.data(), n, true);
    expect(resumed_wide.order.wide() && !st.order.wide(), "the order's widths", type);
    fit(wide.net, wide.opt, LossSpec{}, train, none, o, go_on, &resumed_wide);
    expect(wide.params == whole.params, "a wide order resumes as the narrow one", type);
    expect(resumed_wide.order.values() == resumed.order.values(), "both orders move alike", type);

    FitState bad;
    bad.epoch = 1;
    const std::vector<std::int64_t> zeros(size_t(n), 0);
    bad.order.assign(zeros.data(), n);  // not a permutation
    ++checks;
    try {
        Model<T> m(l, in, p0);
        fit(m.net, m.opt, LossSpec{}, train, none, o, go_on, &bad);
        if (failures++ < 20) std::printf("FAIL %s: a bad order was accepted\n", type);
    } catch (const std::invalid_argument&) {
    }
}

}  // namespace

int main() {
    check<float>("float");
    check<double>("double");
    std::printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
