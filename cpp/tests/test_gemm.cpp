// Standalone correctness test of the tuned gemm against a triple loop with its
// own activations (gemm_oracle.h): awkward sizes, every stride layout,
// accumulate, every epilogue field, float and double, each ISA this CPU runs
// (or only FASTMLP_ISA, which must then run), and bitwise equality across
// thread counts, with the threaded path seen to run. Built with
// -DFASTMLP_CPP_TESTS=ON, run by ctest.
//   test_gemm [--quick]   --quick: fewer random cases and no 784-wide product,
//                         for emulators; every path and edge case stays.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fastmlp/gemm/gemm.h"
#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/parallel.h"
#include "gemm_oracle.h"
#include "isa_list.h"

using namespace fastmlp;

namespace {

std::mt19937_64 rng(12345);
int failures = 0, checks = 0;

// Storage plus a strided view of it; padding between elements is filled with
// sentinels so writes outside the view are caught.
template <class T>
struct Buf {
    std::vector<T> s;
    index_t rs = 0, cs = 0;
    Buf(index_t rows, index_t cols, int layout) {
        switch (layout) {
            case 0: rs = cols, cs = 1; break;              // row-major
            case 1: rs = 1, cs = rows; break;              // column-major (a transposed view)
            case 2: rs = 2 * cols + 3, cs = 2; break;      // padded rows, every other column
            default: rs = 3, cs = 3 * rows + 1; break;     // padded columns
        }
        const index_t n = rows && cols ? (rows - 1) * rs + (cols - 1) * cs + 1 : 1;
        std::uniform_real_distribution<double> u(-1, 1);
        s.resize(std::size_t(n));
        for (T& v : s) v = T(u(rng));
    }
    Mat<T> m() { return {s.data(), rs, cs}; }
    CMat<T> c() const { return {s.data(), rs, cs}; }
};

template <class T>
bool close(T got, T want, T bound, index_t K) {
    const double eps = sizeof(T) == 4 ? 1.2e-7 : 2.3e-16;
    const double tol = eps * double(K + 8) * 4.0 * (double(bound) + 1.0);
    return std::fabs(double(got) - double(want)) <= tol || (std::isnan(got) && std::isnan(want));
}

struct Case {
    index_t M, N, K;
    int la, lb, lc;
    bool acc;
    int ep;  // bit 0 bias, 1 act_out, 2 dact (x and y = act(x), as Linear passes them), 3 colsum
    Act act, dact;
};

std::string describe(const Case& c, const char* type) {
    char b[200];
    std::snprintf(b, sizeof b, "%s M=%lld N=%lld K=%lld layouts A%d B%d C%d acc=%d ep=%d act=%d dact=%d",
                  type, (long long)c.M, (long long)c.N, (long long)c.K, c.la, c.lb, c.lc, c.acc,
                  c.ep, int(c.act), int(c.dact));
    return b;
}

// Runs one case with the current ISA; checks against the oracle and, for thread
// counts 1..3, that every output is bitwise identical.
template <class T>
void run_case(const Case& c, const char* type) {
    ++checks;
    Buf<T> A(c.M, c.K, c.la), B(c.K, c.N, c.lb), C0(c.M, c.N, c.lc);
    Buf<T> X(c.M, c.N, 0), Y(c.M, c.N, 0), bias(1, c.N, 0), cs0(1, c.N, 0);
    Buf<T> absA = A, absB = B;
    for (T& v : absA.s) v = std::fabs(v);
    for (T& v : absB.s) v = std::fabs(v);
    const ActSpec act{c.act, 0.1, 20.0}, dact{c.dact, 0.2, 20.0};
    for (std::size_t s = 0; s < X.s.size(); ++s) Y.s[s] = T(oracle::act(dact, double(X.s[s])));

    const Buf<T> O0(c.M, c.N, 1);
    Buf<T> Cref = C0, Oref = O0, csref = cs0;
    oracle::Epilogue<T> eref;
    if (c.ep & 1) eref.bias = bias.s.data();
    if (c.ep & 2) eref.act_out = Oref.m(), eref.act = act;
    if (c.ep & 4) eref.dact_x = X.c(), eref.dact = dact;
    if (c.ep & 8) eref.colsum_b = csref.s.data();
    oracle::gemm<T>(c.M, c.N, c.K, A.c(), B.c(), Cref.m(), c.acc, eref);
    // Error bound per element: |A||B| (+ |C0| + |bias|), all small multiples of 1.
    Buf<T> Cabs(c.M, c.N, 0);
    oracle::gemm<T>(c.M, c.N, c.K, absA.c(), absB.c(), Cabs.m(), false, {});

    auto make_ep = [&](Mat<T> act_out, T* colsum) {
        Epilogue<T> e;
        if (c.ep & 1) e.bias = bias.s.data();
        if (c.ep & 2) e.act_out = act_out, e.act = act;
        if (c.ep & 4) e.dact_x = X.c(), e.dact_y = Y.c(), e.dact = dact;
        if (c.ep & 8) e.colsum_b = colsum;
        return e;
    };

    std::vector<T> first_c, first_o, first_cs;
    for (int threads = 1; threads <= 3; ++threads) {
        set_num_threads(threads);
        Buf<T> Cg = C0, Og = O0, csg = cs0;
        Epilogue<T> eg = make_ep(Og.m(), csg.s.data());
        gemm<T>(c.M, c.N, c.K, A.c(), B.c(), Cg.m(), c.acc, c.ep ? &eg : nullptr);
        if (threads == 1) {
            first_c = Cg.s, first_o = Og.s, first_cs = csg.s;
            bool ok = true;
            for (index_t i = 0; i < c.M && ok; ++i)
                for (index_t j = 0; j < c.N && ok; ++j) {
                    const T bound = Cabs.m()(i, j) + 3;
                    ok = close(Cg.m()(i, j), Cref.m()(i, j), bound, c.K) &&
                         close(Og.m()(i, j), Oref.m()(i, j), bound, c.K);
                    Cg.m()(i, j) = Cref.m()(i, j) = T(0);
                }
            // Padding around the view of C must be untouched.
            ok = ok && Cg.s == Cref.s;
            for (std::size_t s = 0; s < csg.s.size() && ok; ++s)
                ok = close(csg.s[s], csref.s[s], T(c.K), c.K);
            if (!ok && failures++ < 20) std::printf("MISMATCH %s\n", describe(c, type).c_str());
        } else if (std::memcmp(first_c.data(), Cg.s.data(), Cg.s.size() * sizeof(T)) ||
                   std::memcmp(first_o.data(), Og.s.data(), Og.s.size() * sizeof(T)) ||
                   std::memcmp(first_cs.data(), csg.s.data(), csg.s.size() * sizeof(T))) {
            if (failures++ < 20)
                std::printf("NOT BITWISE EQUAL with %d threads: %s\n", threads,
                            describe(c, type).c_str());
        }
    }
}

template <class T>
void run_all(const char* type, const GemmUkernel<T>& uk, bool quick) {
    const index_t mr = uk.mr, nr = uk.nr, kc = uk.kc;
    std::vector<index_t> dims = {1, 2, 3, mr - 1, mr, mr + 1, nr - 1, nr, nr + 1, 2 * nr + 1, 32, 200, 257};
    std::vector<index_t> kdims = {1, 2, 3, 7, 32, 200, kc, kc + 1, 257};
    const Act acts[] = {Act::identity, Act::relu, Act::leaky_relu, Act::tanh, Act::sigmoid,
                        Act::gelu, Act::gelu_tanh, Act::silu, Act::softplus};
    std::uniform_int_distribution<int> pick(0, 1 << 20);
    auto any = [&](const std::vector<index_t>& v) { return v[std::size_t(pick(rng)) % v.size()]; };
    // Seed network and MLP products (row-major and the transposed views training uses).
    const index_t shapes[][3] = {{200, 32, 3}, {200, 1, 32}, {32, 1, 200}, {200, 32, 1},
                                 {3, 32, 200}, {256, 10, 512}, {512, 10, 256}, {256, 512, 784}};
    const std::size_t n_shapes = std::size(shapes) - (quick ? 1 : 0);  // quick: not the last
    for (std::size_t s = 0; s < n_shapes; ++s)
        for (int la = 0; la < 2; ++la)
            for (int lb = 0; lb < 2; ++lb)
                run_case<T>({shapes[s][0], shapes[s][1], shapes[s][2], la, lb, 0, la == lb, 1 | 2 | 8,
                             Act::tanh, Act::relu},
                            type);
    // The same with the relu epilogues the kernels fuse (training forward and backward).
    for (std::size_t s = 0; s < n_shapes; ++s)
        for (int la = 0; la < 2; ++la)
            for (int lb = 0; lb < 2; ++lb)
                run_case<T>({shapes[s][0], shapes[s][1], shapes[s][2], la, lb, 0, la != lb, 1 | 2 | 4,
                             Act::relu, Act::relu},
                            type);
    // Every layout combination and epilogue subset on random awkward sizes.
    for (int la = 0; la < 4; ++la)
        for (int lb = 0; lb < 4; ++lb)
            for (int lc = 0; lc < 4; ++lc)
                for (int rep = 0; rep < (quick ? 2 : 6); ++rep) {
                    Case c{any(dims), any(dims), any(kdims), la, lb, lc, bool(rep & 1), pick(rng) % 16,
                           acts[pick(rng) % 9], acts[pick(rng) % 9]};
                    run_case<T>(c, type);
                }
    // Every activation in both epilogue roles, and empty dimensions.
    for (Act a : acts) run_case<T>({37, 29, 41, 0, 0, 0, true, 15, a, a}, type);
    run_case<T>({5, 7, 0, 0, 0, 0, true, 15, Act::tanh, Act::silu}, type);
    run_case<T>({0, 7, 5, 0, 0, 0, false, 8, Act::identity, Act::identity}, type);
    // Large enough to run threaded and to cross KC/MC/NC block edges.
    run_case<T>({301, 263, 2 * kc + 5, 0, 0, 0, false, 15, Act::gelu, Act::sigmoid}, type);
    run_case<T>({263, 301, kc + 1, 1, 1, 2, true, 3, Act::relu, Act::relu}, type);
    run_case<T>({97, 1100, 300, 0, 1, 0, false, 1 | 2, Act::relu, Act::relu}, type);
    run_case<T>({13, uk.nc + 3, 70, 0, 0, 0, true, 1 | 2, Act::relu, Act::relu}, type);
    // Threaded matrix-vector (dot) and few-column (transposed) paths (above
    // parallel.h's kParallelMinFlops).
    run_case<T>({8001, 1, 300, 0, 0, 0, true, 15, Act::silu, Act::tanh}, type);
    run_case<T>({4001, 3, 400, 1, 0, 0, false, 15, Act::softplus, Act::gelu_tanh}, type);
    // A small batch through a wide layer: B read in place, split over columns (B's
    // 1.3 MB pass parallel.h's kStreamBytes); B by columns goes through C^T = B^T A^T.
    for (const index_t m : {index_t(1), index_t(5)})
        for (int lb = 0; lb < 2; ++lb)
            run_case<T>({m, 1100, 300, 0, lb, 0, lb == 1, 1 | 2 | 4 | 8, Act::relu, Act::relu},
                        type);
}

// Row i of C, and the column sums, are the same bits whether the product has
// all M rows or only rows [i, M): the kernels' row groups (the dot path's
// hsums of several rows at once, the strided kernels' row blocks and the
// column sums they fuse) round as a single row would.
template <class T>
void check_rows_independent(const char* type) {
    for (const index_t N : {index_t(1), index_t(3), index_t(32)}) {
        const index_t M = 37, K = 45;
        Buf<T> A(M, K, 0), B(K, N, 0);
        Buf<T> C(M, N, 0), sums(1, N, 0);
        Epilogue<T> ep;
        std::fill(sums.s.begin(), sums.s.end(), T(0));
        ep.colsum_b = sums.s.data();
        gemm<T>(M, N, K, A.c(), B.c(), C.m(), false, &ep);
        for (index_t i = 0; i < M; ++i) {
            ++checks;
            Buf<T> Ci(M - i, N, 0), si(1, N, 0);
            std::fill(si.s.begin(), si.s.end(), T(0));
            Epilogue<T> epi;
            epi.colsum_b = si.s.data();
            gemm<T>(M - i, N, K, CMat<T>{&A.s[std::size_t(i * K)], K, 1}, B.c(), Ci.m(), false,
                    &epi);
            if (std::memcmp(&C.s[std::size_t(i * N)], Ci.s.data(), Ci.s.size() * sizeof(T)) ||
                si.s != sums.s) {
                if (failures++ < 20)
                    std::printf("MISMATCH %s N=%lld: rows from %lld alone differ\n", type,
                                (long long)N, (long long)i);
                break;
            }
        }
    }
}

// A one-row product through a layer wider than a direct block (read along B's
// rows) gives the bits a few-row product (the direct path) gives that row: plain,
// accumulating, and with a bias and ReLU, into C itself or into act_out, or
// with relu' applied.
template <class T>
void check_one_row_bits(const char* type) {
    const index_t M = 3;
    for (const index_t N : {index_t(33), index_t(100), index_t(257)})
        for (const index_t K : {index_t(1), index_t(5), index_t(45), index_t(300)})
            for (int variant = 0; variant < 5; ++variant) {
                ++checks;
                Buf<T> A(M, K, 0), B(K, N, 0), bias(1, N, 0), dx(M, N, 0);
                Buf<T> C(M, N, 0), out(M, N, 0);
                const bool acc = variant == 1;
                Epilogue<T> ep;
                ep.act.kind = ep.dact.kind = Act::relu;
                if (variant >= 2) ep.bias = bias.s.data();
                if (variant == 2) ep.act_out = C.m();
                if (variant == 3) ep.act_out = out.m();
                if (variant == 4) ep.dact_x = dx.c();
                Buf<T> C1 = C, out1 = out;
                gemm<T>(M, N, K, A.c(), B.c(), C.m(), acc, &ep);
                if (variant == 2) ep.act_out = C1.m();
                if (variant == 3) ep.act_out = out1.m();
                gemm<T>(1, N, K, A.c(), B.c(), C1.m(), acc, &ep);
                if (std::memcmp(C.s.data(), C1.s.data(), std::size_t(N) * sizeof(T)) ||
                    std::memcmp(out.s.data(), out1.s.data(), std::size_t(N) * sizeof(T))) {
                    if (failures++ < 20)
                        std::printf("MISMATCH %s 1x%lldx%lld variant %d: one row differs\n", type,
                                    (long long)N, (long long)K, variant);
                }
            }
}

// A weight gradient x^T dy kept as packed panels (pack_outer) and formed a group
// of rows at a time, or all at once, gives the bits gemm gives it: tails of rows
// and columns, k up to 256, and zero columns of dy (sums of signed zeros).
template <class T>
void check_outer_bits(const char* type) {
    const index_t group = outer_group_rows<T>();
    for (const index_t rows : {index_t(1), index_t(37), index_t(100)})
        for (const index_t cols : {index_t(5), index_t(33), index_t(130)})
            for (const index_t k : {index_t(2), index_t(13), index_t(256)}) {
                ++checks;
                Buf<T> x(k, rows, 0), dy(k, cols, 0), want(rows, cols, 0);
                for (index_t r = 0; r < k; ++r) dy.s[std::size_t(r * cols + cols / 2)] = T(0);
                gemm<T>(rows, cols, k, CMat<T>{x.s.data(), 1, rows}, dy.c(), want.m(), false);
                std::vector<T> panels(std::size_t(outer_panels_size<T>(rows, cols, k)));
                pack_outer(x.s.data(), dy.s.data(), rows, cols, k, panels.data());
                std::vector<T> whole(std::size_t(rows * cols)), groups(whole.size());
                form_outer_rows(panels.data(), rows, cols, k, 0, rows, whole.data());
                for (index_t r0 = 0; r0 < rows; r0 += group)
                    form_outer_rows(panels.data(), rows, cols, k, r0, std::min(rows, r0 + group),
                                    groups.data() + r0 * cols);
                const std::size_t bytes = whole.size() * sizeof(T);
                if (std::memcmp(whole.data(), want.s.data(), bytes) ||
                    std::memcmp(groups.data(), want.s.data(), bytes)) {
                    if (failures++ < 20)
                        std::printf("MISMATCH %s outer %lldx%lldx%lld: formed rows differ\n",
                                    type, (long long)rows, (long long)cols, (long long)k);
                }
            }
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc == 2 && std::strcmp(argv[1], "--quick") == 0;
    if (argc > 2 || (argc == 2 && !quick)) {
        std::printf("usage: test_gemm [--quick]\n");
        return 2;
    }
    for (const char* isa : isas_to_test()) {
        if (!use_isa(isa)) return 1;
        const int before = failures, checks_before = checks;
        const long long regions = multithreaded_regions();
        const GemmKernels& k = gemm_kernels();
        run_all<float>("float", k.f32, quick);
        run_all<double>("double", k.f64, quick);
        check_rows_independent<float>("float");
        check_rows_independent<double>("double");
        check_one_row_bits<float>("float");
        check_one_row_bits<double>("double");
        check_outer_bits<float>("float");
        check_outer_bits<double>("double");
        // The large cases must have split over threads, or bitwise equality proved nothing.
        if (openmp_enabled() && multithreaded_regions() == regions) {
            ++failures;
            std::printf("FAILED: [%s] no product ran on more than one thread\n", isa);
        }
        std::printf("[%s] %d cases, %d failures\n", isa, checks - checks_before, failures - before);
    }
    std::printf(failures ? "FAILED\n" : "OK\n");
    return failures ? 1 : 0;
}
