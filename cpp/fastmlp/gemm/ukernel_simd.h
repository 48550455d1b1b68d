// The SIMD micro-kernels shared by the x86 and NEON kernel files, written once
// over a vector-traits type S (T, V, Mask, lane count L; zero, load, bcast,
// fma, add, mul, store, mask, mload, mstore, hsum; relu(c) = c < 0 ? 0 : c
// keeping NaN; step(x) = x > 0 ? 1 : 0; hsums(v, out), the hsums of
// kDotRows registers at once, in the same bits; fma_lane if a packed kernel
// uses LANES). Each ISA file includes this after defining its traits and compiles
// it with its own target flags. Everything here has internal linkage
// (anonymous namespace), so one file's instructions can never be picked by the
// linker for another file's code.
#pragma once
#include "fastmlp/gemm/ukernel.h"

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#endif

// Full unrolling keeps the accumulator arrays in registers; GCC and Clang take
// the hint, other compilers get nothing (MSVC would warn on an unknown pragma).
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_PRAGMA(x) _Pragma(#x)
#define FASTMLP_UNROLL(n) FASTMLP_PRAGMA(GCC unroll n)
#else
#define FASTMLP_UNROLL(n)
#endif

namespace fastmlp {
namespace {

using i64 = std::int64_t;

// Fetch the cache line at p into L1 ahead of its use (a hint only).
void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#elif defined(_M_X64) || defined(_M_IX86)
    _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
    (void)p;
#endif
}

// C[MR x NV*L] (+)= packed A * packed B. With LANES, A's values of a k step
// are loaded L at a time and B is multiplied by lane (S::fma_lane(a, l, b, c)
// = c + b * a[l]): one register per L rows instead of one per row, which NEON's
// 32 registers need next to 24 accumulators. The products are the same.
template <class S, int MR, int NV, bool LANES = false>
void ukernel_packed(i64 kc, const typename S::T* a, const typename S::T* b, typename S::T* c,
                    i64 rs_c, bool accumulate) {
    using V = typename S::V;
    constexpr int L = S::L;
    constexpr int G = LANES ? L : 1;  // rows per A register
    static_assert(MR % G == 0, "lane groups must tile the rows");
    for (int i = 0; i < MR; ++i) prefetch(c + i * rs_c);
    V r[MR][NV];
    FASTMLP_UNROLL(16)
    for (int i = 0; i < MR; ++i)
        FASTMLP_UNROLL(4)
        for (int v = 0; v < NV; ++v) r[i][v] = S::zero();
    FASTMLP_UNROLL(4)
    for (i64 k = 0; k < kc; ++k) {
        V bv[NV];
        FASTMLP_UNROLL(4)
        for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * L);
        FASTMLP_UNROLL(16)
        for (int i = 0; i < MR; i += G) {
            const V ai = LANES ? S::load(a + i) : S::bcast(a + i);
            FASTMLP_UNROLL(16)
            for (int l = 0; l < G; ++l)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) {
                    if constexpr (LANES)
                        r[i + l][v] = S::fma_lane(ai, l, bv[v], r[i + l][v]);
                    else
                        r[i + l][v] = S::fma(ai, bv[v], r[i + l][v]);
                }
        }
        a += MR;
        b += NV * L;
    }
    FASTMLP_UNROLL(16)
    for (int i = 0; i < MR; ++i) {
        typename S::T* ci = c + i * rs_c;
        FASTMLP_UNROLL(4)
        for (int v = 0; v < NV; ++v) {
            if (accumulate) r[i][v] = S::add(S::load(ci + v * L), r[i][v]);
            S::store(ci + v * L, r[i][v]);
        }
    }
}

// Which of TileEpilogue's sums over k a strided kernel adds.
enum Sums { kNoSums, kColSums, kRowSums };

// Rows per block of NV column vectors: as many as ACC accumulator registers
// hold beside the sums' registers (NV for column sums, one per row for row
// sums), at most MR.
template <int MR, int ACC, int NV, int SUMS>
constexpr int block_rows() {
    const int r = SUMS == kColSums ? (ACC - NV) / NV : SUMS == kRowSums ? ACC / (NV + 1) : ACC / NV;
    return r < 1 ? 1 : r < MR ? r : MR;
}

// Loads and stores of vector v of a row of NV vectors, the last one masked to
// `last` when MASKED.
template <class S, int NV, bool MASKED>
struct RowVectors {
    using T = typename S::T;
    using V = typename S::V;
    typename S::Mask last;
    V ld(const T* p, int v) const { return MASKED && v == NV - 1 ? S::mload(p, last) : S::load(p); }
    void st(T* p, int v, V x) const {
        if (MASKED && v == NV - 1)
            S::mstore(p, last, x);
        else
            S::store(p, x);
    }
};

// Rows [row, m) in blocks of exactly R (m - row a multiple of R) and NV vectors
// of columns, the last one masked when MASKED; the epilogue is applied in
// registers, one stage at a time so each option is tested once per block.
// With kColSums there must be one block (the sums are its columns'); with
// kRowSums each block adds its rows' sums.
template <class S, int R, int NV, bool MASKED, int SUMS>
void rows_blocks(i64 row, i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
                 const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c, bool accumulate,
                 const TileEpilogue<typename S::T>* ep) {
    using T = typename S::T;
    using V = typename S::V;
    constexpr int L = S::L;
    const RowVectors<S, NV, MASKED> rv{S::mask(n - (NV - 1) * L)};
    auto ld = [&](const T* p, int v) { return rv.ld(p, v); };
    auto st = [&](T* p, int v, V x) { rv.st(p, v, x); };
    const T* bias = ep ? ep->bias : nullptr;
    const T* dx = ep ? ep->dact_x : nullptr;
    T* out = ep ? ep->act_out : nullptr;
    const i64 rs_dx = ep ? ep->rs_dact : 0, rs_out = ep ? ep->rs_act : 0;
    const bool relu = ep && ep->act_relu;
    const bool in_place = out == c && rs_out == rs_c;
    i64 off[R];
    FASTMLP_UNROLL(16)
    for (int i = 0; i < R; ++i) off[i] = i * rs_a;
    for (; row < m; row += R) {
        V r[R][NV], colsum[NV], rowsum[R];
        FASTMLP_UNROLL(16)
        for (int i = 0; i < R; ++i) {
            rowsum[i] = S::zero();
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) r[i][v] = S::zero();
        }
        FASTMLP_UNROLL(4)
        for (int v = 0; v < NV; ++v) colsum[v] = S::zero();
        const T* ak = a + row * rs_a;
        const T* bk = b;
        for (i64 k = 0; k < kc; ++k) {
            V bv[NV];
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) {
                bv[v] = ld(bk + v * L, v);
                if constexpr (SUMS == kColSums) colsum[v] = S::add(colsum[v], bv[v]);
            }
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i) {
                const V ai = S::bcast(ak + off[i]);
                if constexpr (SUMS == kRowSums) rowsum[i] = S::add(rowsum[i], ai);
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) r[i][v] = S::fma(ai, bv[v], r[i][v]);
            }
            ak += cs_a;
            bk += rs_b;
        }
        if constexpr (SUMS == kColSums)
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) {
                T* s = ep->colsum_b + v * L;
                st(s, v, S::add(ld(s, v), colsum[v]));
            }
        if constexpr (SUMS == kRowSums)
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i) {
                T lanes[L];  // every lane holds the sum
                S::store(lanes, rowsum[i]);
                ep->rowsum_a[row + i] += lanes[0];
            }
        T* ci = c + row * rs_c;
        if (accumulate)
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) r[i][v] = S::add(ld(ci + i * rs_c + v * L, v), r[i][v]);
        if (bias)
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) r[i][v] = S::add(r[i][v], ld(bias + v * L, v));
        if (dx) {
            const T* d = dx + row * rs_dx;
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v)
                    r[i][v] = S::mul(r[i][v], S::step(ld(d + i * rs_dx + v * L, v)));
        }
        // An activation in place (act_out is C) stores once.
        if (!in_place)
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) st(ci + i * rs_c + v * L, v, r[i][v]);
        if (out) {
            T* o = out + row * rs_out;
            FASTMLP_UNROLL(16)
            for (int i = 0; i < R; ++i)
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v)
                    st(o + i * rs_out + v * L, v, relu ? S::relu(r[i][v]) : r[i][v]);
        }
    }
}

// The last m - row < R rows as one block.
template <class S, int R, int NV, bool MASKED, int SUMS>
void rows_tail(i64 row, i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
               const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c, bool accumulate,
               const TileEpilogue<typename S::T>* ep) {
    if constexpr (R > 1) {
        if (m - row == R - 1)
            return rows_blocks<S, R - 1, NV, MASKED, SUMS>(row, m, n, kc, a, rs_a, cs_a, b, rs_b,
                                                           c, rs_c, accumulate, ep);
        rows_tail<S, R - 1, NV, MASKED, SUMS>(row, m, n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                              accumulate, ep);
    }
}

// Rows [row, m) in blocks of as many rows as the ACC accumulator registers
// allow; column sums in the first block only.
template <class S, int MR, int ACC, int NV, bool MASKED, int SUMS>
void rows_all(i64 row, i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
              const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c, bool accumulate,
              const TileEpilogue<typename S::T>* ep) {
    constexpr int R = block_rows<MR, ACC, NV, SUMS>();
    if constexpr (SUMS == kColSums) {
        const i64 end = m - row < R ? m : row + R;
        if (end - row == R)
            rows_blocks<S, R, NV, MASKED, SUMS>(row, end, n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                                accumulate, ep);
        else
            rows_tail<S, R, NV, MASKED, SUMS>(row, end, n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                              accumulate, ep);
        if (end < m)
            rows_all<S, MR, ACC, NV, MASKED, kNoSums>(end, m, n, kc, a, rs_a, cs_a, b, rs_b, c,
                                                      rs_c, accumulate, ep);
    } else {
        const i64 full = row + (m - row) / R * R;
        rows_blocks<S, R, NV, MASKED, SUMS>(row, full, n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                            accumulate, ep);
        if (full < m)
            rows_tail<S, R, NV, MASKED, SUMS>(full, m, n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                              accumulate, ep);
    }
}

// The `strided` kernel: n <= 4 vectors.
template <class S, int MR, int ACC>
void ukernel_strided(i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
                     const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c,
                     bool accumulate, const TileEpilogue<typename S::T>* ep) {
    constexpr int L = S::L;
    const bool masked = n % L != 0;
    const i64 nv = (n + L - 1) / L;
    const int sums = !ep ? kNoSums : ep->colsum_b ? kColSums : ep->rowsum_a ? kRowSums : kNoSums;
#define FASTMLP_ROWS(NV, SUMS)                                                                  \
    return masked ? rows_all<S, MR, ACC, NV, true, SUMS>(0, m, n, kc, a, rs_a, cs_a, b, rs_b,  \
                                                         c, rs_c, accumulate, ep)              \
                  : rows_all<S, MR, ACC, NV, false, SUMS>(0, m, n, kc, a, rs_a, cs_a, b, rs_b, \
                                                          c, rs_c, accumulate, ep)
#define FASTMLP_SUMS(NV)                                         \
    switch (sums) {                                              \
        case kColSums: FASTMLP_ROWS(NV, kColSums);               \
        case kRowSums: FASTMLP_ROWS(NV, kRowSums);               \
        default: FASTMLP_ROWS(NV, kNoSums);                      \
    }
    switch (nv) {
        case 1: FASTMLP_SUMS(1);
        case 2: FASTMLP_SUMS(2);
        case 3: FASTMLP_SUMS(3);
        default: FASTMLP_SUMS(4);
    }
#undef FASTMLP_SUMS
#undef FASTMLP_ROWS
}

// One row of A times B, walked along B's rows (a wide layer's one-sample product,
// where the strided kernels, walking B's columns, would touch a new page every k
// step): y[j] = sum_k a[k * cs_a] * B(k, j) for j < n, each y[j] one fma chain
// over k in order from zero, as the strided kernels sum a row. y passes through
// L1 once per KB rows of B.
template <class S>
void row_times(i64 n, i64 kc, const typename S::T* a, i64 cs_a, const typename S::T* b,
               i64 rs_b, typename S::T* y) {
    using V = typename S::V;
    constexpr int L = S::L, KB = 8;
    const i64 full = n / L * L;
    const typename S::Mask tail = S::mask(n - full);
    for (i64 j = 0; j < full; j += L) S::store(y + j, S::zero());
    if (full < n) S::mstore(y + full, tail, S::zero());
    for (i64 k0 = 0; k0 < kc; k0 += KB) {
        const typename S::T* bk = b + k0 * rs_b;
        const int kb = kc - k0 < KB ? int(kc - k0) : KB;
        V av[KB];
        FASTMLP_UNROLL(8)
        for (int t = 0; t < KB; ++t) av[t] = t < kb ? S::bcast(a + (k0 + t) * cs_a) : S::zero();
        if (kb == KB) {
            for (i64 j = 0; j < full; j += L) {
                V r = S::load(y + j);
                FASTMLP_UNROLL(8)
                for (int t = 0; t < KB; ++t) r = S::fma(av[t], S::load(bk + t * rs_b + j), r);
                S::store(y + j, r);
            }
        } else {
            for (i64 j = 0; j < full; j += L) {
                V r = S::load(y + j);
                for (int t = 0; t < kb; ++t) r = S::fma(av[t], S::load(bk + t * rs_b + j), r);
                S::store(y + j, r);
            }
        }
        if (full < n) {
            V r = S::mload(y + full, tail);
            for (int t = 0; t < kb; ++t) r = S::fma(av[t], S::mload(bk + t * rs_b + full, tail), r);
            S::mstore(y + full, tail, r);
        }
    }
}

// Result c of row i of a matrix-vector product through the epilogue (column 0).
template <class T>
void dot_epilogue(const TileEpilogue<T>* ep, i64 i, T c, T* y) {
    if (ep && ep->bias) c += ep->bias[0];
    if (ep && ep->dact_x) c *= ep->dact_x[i * ep->rs_dact] > T(0) ? T(1) : T(0);
    *y = c;
    if (ep && ep->act_out) ep->act_out[i * ep->rs_act] = ep->act_relu && c < T(0) ? T(0) : c;
}

// out[r] = the horizontal sum of t[r] for R rows: S::hsums at once for
// kDotRows of them, the same bits as one by one.
template <class S, int R>
void hsum_rows(const typename S::V* t, typename S::T* out) {
    if constexpr (R == S::kDotRows)
        S::hsums(t, out);
    else
        FASTMLP_UNROLL(16)
        for (int r = 0; r < R; ++r) out[r] = S::hsum(t[r]);
}

// R rows of A dotted with x: two accumulators per row along k, a masked tail,
// then one horizontal sum per row.
template <class S, int R>
void dot_rows(i64 row, i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
              typename S::T* y, i64 rs_y, bool accumulate, const TileEpilogue<typename S::T>* ep) {
    using V = typename S::V;
    constexpr int L = S::L;
    a += row * rs_a;
    V s[R][2];
    FASTMLP_UNROLL(16)
    for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = S::zero();
    i64 k = 0;
    for (; k + 2 * L <= kc; k += 2 * L) {
        const V x0 = S::load(x + k), x1 = S::load(x + k + L);
        FASTMLP_UNROLL(16)
        for (int r = 0; r < R; ++r) {
            s[r][0] = S::fma(S::load(a + r * rs_a + k), x0, s[r][0]);
            s[r][1] = S::fma(S::load(a + r * rs_a + k + L), x1, s[r][1]);
        }
    }
    if (k + L <= kc) {
        const V x0 = S::load(x + k);
        FASTMLP_UNROLL(16)
        for (int r = 0; r < R; ++r) s[r][0] = S::fma(S::load(a + r * rs_a + k), x0, s[r][0]);
        k += L;
    }
    if (k < kc) {
        const typename S::Mask m = S::mask(kc - k);
        const V x1 = S::mload(x + k, m);
        FASTMLP_UNROLL(16)
        for (int r = 0; r < R; ++r) s[r][1] = S::fma(S::mload(a + r * rs_a + k, m), x1, s[r][1]);
    }
    V t[R];
    typename S::T v[R];
    FASTMLP_UNROLL(16)
    for (int r = 0; r < R; ++r) t[r] = S::add(s[r][0], s[r][1]);
    hsum_rows<S, R>(t, v);
    FASTMLP_UNROLL(16)
    for (int r = 0; r < R; ++r) {
        typename S::T* yr = y + (row + r) * rs_y;
        dot_epilogue(ep, row + r, accumulate ? *yr + v[r] : v[r], yr);
    }
}

// Rows in groups of S::kDotRows (whose horizontal sums S::hsums does at once),
// then 4 (if more), then 1: every row's sum the same bits either way.
template <class S>
void dot(i64 m, i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
         typename S::T* y, i64 rs_y, bool accumulate, const TileEpilogue<typename S::T>* ep) {
    constexpr int G = S::kDotRows;
    i64 i = 0;
    for (; i + G <= m; i += G) dot_rows<S, G>(i, kc, a, rs_a, x, y, rs_y, accumulate, ep);
    if constexpr (G > 4)
        for (; i + 4 <= m; i += 4) dot_rows<S, 4>(i, kc, a, rs_a, x, y, rs_y, accumulate, ep);
    for (; i < m; ++i) dot_rows<S, 1>(i, kc, a, rs_a, x, y, rs_y, accumulate, ep);
}

// R rows of A dotted with NC rows of X: one accumulator per pair, so each
// vector of A and of X is loaded once per k step; then the horizontal sums.
template <class S, int R, int NC>
void dots_block(i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x, i64 rs_x,
                typename S::T* c, i64 rs_c, i64 cs_c, bool accumulate) {
    using V = typename S::V;
    using T = typename S::T;
    constexpr int L = S::L, G = S::kDotRows;
    V s[R * NC];
    FASTMLP_UNROLL(32)
    for (int q = 0; q < R * NC; ++q) s[q] = S::zero();
    auto step = [&](auto load) {
        V xv[NC];
        FASTMLP_UNROLL(8)
        for (int j = 0; j < NC; ++j) xv[j] = load(x + j * rs_x);
        FASTMLP_UNROLL(8)
        for (int r = 0; r < R; ++r) {
            const V av = load(a + r * rs_a);
            FASTMLP_UNROLL(8)
            for (int j = 0; j < NC; ++j) s[r * NC + j] = S::fma(av, xv[j], s[r * NC + j]);
        }
    };
    i64 k = 0;
    for (; k + L <= kc; k += L) step([&](const T* p) { return S::load(p + k); });
    if (k < kc) {
        const typename S::Mask m = S::mask(kc - k);
        step([&](const T* p) { return S::mload(p + k, m); });
    }
    T v[R * NC];
    int q = 0;
    for (; q + G <= R * NC; q += G) hsum_rows<S, G>(s + q, v + q);
    for (; q < R * NC; ++q) v[q] = S::hsum(s[q]);
    FASTMLP_UNROLL(8)
    for (int r = 0; r < R; ++r)
        FASTMLP_UNROLL(8)
        for (int j = 0; j < NC; ++j) {
            T& cij = c[r * rs_c + j * cs_c];
            cij = accumulate ? cij + v[r * NC + j] : v[r * NC + j];
        }
}

template <class S, int R>
void dots_rows(int nc, i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
               i64 rs_x, typename S::T* c, i64 rs_c, i64 cs_c, bool accumulate) {
    switch (nc) {
        case 4: return dots_block<S, R, 4>(kc, a, rs_a, x, rs_x, c, rs_c, cs_c, accumulate);
        case 3: return dots_block<S, R, 3>(kc, a, rs_a, x, rs_x, c, rs_c, cs_c, accumulate);
        case 2: return dots_block<S, R, 2>(kc, a, rs_a, x, rs_x, c, rs_c, cs_c, accumulate);
        default: return dots_block<S, R, 1>(kc, a, rs_a, x, rs_x, c, rs_c, cs_c, accumulate);
    }
}

// Blocks of kDotRows / 2 rows x 4 columns (2 kDotRows accumulators: the
// horizontal sums go kDotRows at a time), rows left over one at a time.
template <class S>
void dots(i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
          i64 rs_x, typename S::T* c, i64 rs_c, i64 cs_c, bool accumulate) {
    constexpr int R = S::kDotRows / 2;
    i64 i = 0;
    for (; i + R <= m; i += R)
        for (i64 j = 0; j < n; j += 4)
            dots_rows<S, R>(int(n - j < 4 ? n - j : 4), kc, a + i * rs_a, rs_a, x + j * rs_x,
                            rs_x, c + i * rs_c + j * cs_c, rs_c, cs_c, accumulate);
    for (; i < m; ++i)
        for (i64 j = 0; j < n; j += 4)
            dots_rows<S, 1>(int(n - j < 4 ? n - j : 4), kc, a + i * rs_a, rs_a, x + j * rs_x,
                            rs_x, c + i * rs_c + j * cs_c, rs_c, cs_c, accumulate);
}

}  // namespace
}  // namespace fastmlp

#include "fastmlp/gemm/relu_mlp_simd.h"

#undef FASTMLP_UNROLL
#undef FASTMLP_PRAGMA
