// The seed workload (200 x 3 -> 32 -> ReLU -> 1, MSE, Adam, full batch) run by
// the core alone: the native cost of one epoch with no Python around it.
//   bench_seed [epochs]   (built with -DFASTMLP_CPP_TESTS=ON)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastmlp/fit.h"

using namespace fastmlp;

int main(int argc, char** argv) {
    const index_t epochs = argc > 1 ? std::atoll(argv[1]) : 20000;
    set_num_threads(1);
    const index_t n = 200, in = 3, hidden = 32;
    std::vector<LayerSpec> layers(3);
    layers[0] = {LayerKind::linear, in, hidden, true, {}, 0.0};
    layers[1].kind = LayerKind::activation;
    layers[1].act.kind = Act::relu;
    layers[2] = {LayerKind::linear, hidden, 1, true, {}, 0.0};
    const index_t np = param_count(layers);
    const size_t count = static_cast<size_t>(np);
    std::vector<float> params(count), grads(count), m(count), v(count);
    std::mt19937 gen(0);
    std::normal_distribution<float> normal;
    for (auto& p : params) p = 0.3f * normal(gen);
    std::vector<float> x(static_cast<size_t>(n * in)), y(static_cast<size_t>(n));
    for (auto& e : x) e = normal(gen);
    for (index_t i = 0; i < n; ++i)
        y[size_t(i)] = 0.2f * x[size_t(3 * i)] - 1.3f * x[size_t(3 * i + 1)] -
                       0.5f * x[size_t(3 * i + 2)] + normal(gen);
    Net<float> net(layers, in, params.data(), grads.data());
    Optimizer<float> opt;
    opt.spec.kind = OptKind::adam;
    opt.spans.push_back({params.data(), grads.data(), np, 0});
    opt.state = {m.data(), v.data()};
    FitOptions o;
    o.epochs = epochs;
    o.shuffle = false;
    Dataset<float> data{x.data(), {y.data(), nullptr, nullptr}, n};
    const auto t0 = std::chrono::steady_clock::now();
    const FitResult r = fit<float>(net, opt, LossSpec{}, data, nullptr, o,
                            [](index_t, bool, double, double, double) { return true; });
    const double us = std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - t0).count();
    std::printf("seed fit: %.3f us/epoch over %lld epochs, final loss %.6f\n", us / double(epochs),
                (long long)epochs, r.loss.back());
    return 0;
}
