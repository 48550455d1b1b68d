// Standalone GEMM bench: GFLOP/s for square and MLP shapes in the layouts
// training uses, and the fixed cost of the seed network's five products. Times
// are the best of many repeats (the machine may be shared; the minimum is the
// least disturbed run). Usage: bench_gemm [threads...]   (default: 1, and 2 when built with OpenMP)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastmlp/gemm/gemm.h"

using namespace fastmlp;

namespace {

using Clock = std::chrono::steady_clock;

// Fastest time of one call of f, repeated for at least ~0.15 s.
template <class F>
double best_seconds(F&& f) {
    f();
    std::vector<double> t;
    const auto start = Clock::now();
    while (t.size() < 5 || (std::chrono::duration<double>(Clock::now() - start).count() < 0.15 &&
                            t.size() < 100000)) {
        const auto t0 = Clock::now();
        f();
        t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return *std::min_element(t.begin(), t.end());
}

template <class T>
std::vector<T> random_vec(index_t n) {
    static std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<T> v(static_cast<std::size_t>(n));
    for (T& x : v) x = T(u(rng));
    return v;
}

template <class T>
CMat<T> cm(const T* p, index_t cols) { return {p, cols, 1}; }

// trans: 0 = A·B (both row-major), 1 = Aᵀ·B (A stored K x M), 2 = A·Bᵀ (B stored N x K).
template <class T>
double gflops(index_t M, index_t N, index_t K, int trans) {
    std::vector<T> a = random_vec<T>(M * K), b = random_vec<T>(K * N), c(std::size_t(M * N));
    const CMat<T> A = trans == 1 ? CMat<T>{a.data(), 1, M} : CMat<T>{a.data(), K, 1};
    const CMat<T> B = trans == 2 ? CMat<T>{b.data(), 1, K} : CMat<T>{b.data(), N, 1};
    const double s = best_seconds([&] { gemm<T>(M, N, K, A, B, rowmajor(c.data(), N), false); });
    return 2.0 * double(M) * double(N) * double(K) / s * 1e-9;
}

// One training step of the seed MLP 3 -> 32 (act) -> 1 on a batch of 200:
// forward with fused bias/activation, backward with fused colsum and act'.
template <class T>
double seed_step_us(Act act) {
    const index_t n = 200, d = 3, h = 32;
    std::vector<T> x = random_vec<T>(n * d), w1 = random_vec<T>(d * h), b1 = random_vec<T>(h),
                   w2 = random_vec<T>(h), b2 = random_vec<T>(1), z(n * h), a(n * h), y(n),
                   g = random_vec<T>(n), gh(n * h), gw1(d * h), gb1(h), gw2(h), gb2(1);
    return 1e6 * best_seconds([&] {
        Epilogue<T> e1;
        e1.bias = b1.data();
        e1.act_out = rowmajor(a.data(), h);
        e1.act = ActSpec{act};
        gemm<T>(n, h, d, cm(x.data(), d), cm(w1.data(), h),
                rowmajor(z.data(), h), false, &e1);
        Epilogue<T> e2;
        e2.bias = b2.data();
        gemm<T>(n, 1, h, cm(a.data(), h), cm(w2.data(), 1),
                rowmajor(y.data(), 1), false, &e2);
        Epilogue<T> e3;
        e3.colsum_b = gb2.data();
        gemm<T>(h, 1, n, CMat<T>{a.data(), 1, h}, cm(g.data(), 1),
                rowmajor(gw2.data(), 1), false, &e3);
        Epilogue<T> e4;
        e4.dact = ActSpec{act};
        e4.dact_x = cm(z.data(), h);
        e4.dact_y = cm(a.data(), h);
        gemm<T>(n, h, 1, cm(g.data(), 1), CMat<T>{w2.data(), 1, 1},
                rowmajor(gh.data(), h), false, &e4);
        Epilogue<T> e5;
        e5.colsum_b = gb1.data();
        gemm<T>(d, h, n, CMat<T>{x.data(), 1, d}, cm(gh.data(), h),
                rowmajor(gw1.data(), h), false, &e5);
    });
}

// The five seed products alone (no epilogue), each in microseconds.
template <class T>
void seed_products() {
    const index_t shapes[][4] = {{200, 32, 3, 0}, {200, 1, 32, 0}, {32, 1, 200, 1},
                                 {200, 32, 1, 2}, {3, 32, 200, 1}};
    for (auto& s : shapes) {
        const index_t M = s[0], N = s[1], K = s[2];
        std::vector<T> a = random_vec<T>(M * K), b = random_vec<T>(K * N), c(std::size_t(M * N));
        const CMat<T> A = s[3] == 1 ? CMat<T>{a.data(), 1, M} : CMat<T>{a.data(), K, 1};
        const CMat<T> B = s[3] == 2 ? CMat<T>{b.data(), 1, K} : CMat<T>{b.data(), N, 1};
        const double us = 1e6 * best_seconds(
            [&] { gemm<T>(M, N, K, A, B, rowmajor(c.data(), N), false); });
        std::printf("  seed %4lldx%-4lldx%-4lld %s  %7.3f us\n", (long long)M, (long long)K,
                    (long long)N, s[3] == 1 ? "AtB" : s[3] == 2 ? "ABt" : "AB ", us);
    }
}

// The eight products of one medium-MLP step (784 -> 512 -> relu -> 512 -> relu
// -> 10, batch 256) exactly as Net calls them, in microseconds: forward x·W with
// bias (+ relu) fused; backward dW = inᵀ·g with the bias gradient (colsum) and
// dIn = g·Wᵀ with relu' fused (none for the first layer).
template <class T>
void mlp_step() {
    const index_t n = 256, sizes[] = {784, 512, 512, 10};
    std::vector<std::vector<T>> w, b, z, a, gw, gb;
    for (int l = 0; l < 3; ++l) {
        const index_t k = sizes[l], m = sizes[l + 1];
        w.push_back(random_vec<T>(k * m));
        b.push_back(random_vec<T>(m));
        z.push_back(random_vec<T>(n * m));
        a.push_back(random_vec<T>(n * m));
        gw.emplace_back(std::size_t(k * m));
        gb.emplace_back(std::size_t(m));
    }
    const std::vector<T> x = random_vec<T>(n * sizes[0]);
    std::vector<T> g = random_vec<T>(n * 512), other(std::size_t(n * 512));
    double total = 0;
    auto timed = [&](const char* what, auto&& f) {
        const double us = 1e6 * best_seconds(f);
        total += us;
        std::printf("    %-28s %8.1f us\n", what, us);
    };
    for (int l = 0; l < 3; ++l) {
        const index_t k = sizes[l], m = sizes[l + 1];
        const T* in = l ? a[l - 1].data() : x.data();
        timed(l == 0 ? "fwd   x.W  256x784x512" : l == 1 ? "fwd   x.W  256x512x512"
                                                         : "fwd   x.W  256x512x10", [&] {
            Epilogue<T> ep;
            ep.bias = b[l].data();
            if (l < 2) ep.act = ActSpec{Act::relu}, ep.act_out = rowmajor(a[l].data(), m);
            gemm<T>(n, m, k, rowmajor(in, k), rowmajor<T>(w[l].data(), m),
                    rowmajor(z[l].data(), m), false, &ep);
        });
    }
    for (int l = 2; l >= 0; --l) {
        const index_t k = sizes[l], m = sizes[l + 1];
        const T* in = l ? a[l - 1].data() : x.data();
        timed(l == 2 ? "bwd   dW   512x256x10" : l == 1 ? "bwd   dW   512x256x512"
                                                        : "bwd   dW   784x256x512", [&] {
            Epilogue<T> ep;
            ep.colsum_b = gb[l].data();
            gemm<T>(k, m, n, CMat<T>{in, 1, k}, rowmajor<T>(g.data(), m),
                    rowmajor(gw[l].data(), m), false, &ep);
        });
        if (l == 0) break;
        timed(l == 2 ? "bwd   dX   256x10x512" : "bwd   dX   256x512x512", [&] {
            Epilogue<T> ep;
            ep.dact = ActSpec{Act::relu};
            ep.dact_x = rowmajor<T>(z[l - 1].data(), k);
            ep.dact_y = rowmajor<T>(a[l - 1].data(), k);
            gemm<T>(n, k, m, rowmajor<T>(g.data(), m), CMat<T>{w[l].data(), 1, m},
                    rowmajor(other.data(), k), false, &ep);
        });
    }
    std::printf("  medium MLP step, 8 products: %.1f us\n", total);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> threads;
    for (int i = 1; i < argc; ++i) threads.push_back(std::atoi(argv[i]));
    if (threads.empty()) threads = openmp_enabled() ? std::vector<int>{1, 2} : std::vector<int>{1};
    const index_t shapes[][4] = {
        {1024, 1024, 1024, 0}, {256, 512, 784, 0}, {784, 512, 256, 1}, {256, 784, 512, 2},
        {256, 512, 512, 0},    {512, 512, 256, 1}, {256, 512, 512, 2}, {256, 10, 512, 0},
        {512, 10, 256, 1},     {256, 512, 10, 2},  {64, 64, 64, 0},    {128, 256, 128, 0},
    };
    std::printf("isa %s\n", gemm_isa());
    for (int t : threads) {
        set_num_threads(t);
        std::printf("threads %d      M x K x N      op   float GF/s  double GF/s\n", t);
        for (auto& s : shapes) {
            const index_t M = s[0], N = s[1], K = s[2];
            const int tr = int(s[3]);
            std::printf("  %5lld x %4lld x %4lld  %s  %10.1f  %10.1f\n", (long long)M,
                        (long long)K, (long long)N, tr == 1 ? "AtB" : tr == 2 ? "ABt" : "AB ",
                        gflops<float>(M, N, K, tr), gflops<double>(M, N, K, tr));
        }
        for (Act act : {Act::relu, Act::tanh})
            std::printf("  seed step, 5 products + %s epilogues: float %.2f us, double %.2f us\n",
                        act == Act::relu ? "relu" : "tanh", seed_step_us<float>(act),
                        seed_step_us<double>(act));
        seed_products<float>();
        mlp_step<float>();
    }
    return 0;
}
