// AVX-512F micro-kernels: sgemm 12x32 and dgemm 12x16, i.e. 12 rows x 2 zmm
// accumulators (24 of the 32 registers), B rows loaded, A elements broadcast.
// Edges use AVX-512 lane masks. Compile this file alone with -mavx512f -mfma.
#include "gemm_ukernel.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

namespace fastmlp {

namespace {

using i64 = std::int64_t;
constexpr int MR = 12;

// Sum of t[0..W) as a fixed halving tree (W a power of two); t is clobbered.
template <class T, int W>
T pairwise_sum(T* t) {
    for (int w = W / 2; w > 0; w /= 2)
        for (int i = 0; i < w; ++i) t[i] += t[i + w];
    return t[0];
}

struct F32 {
    using T = float;
    using V = __m512;
    using Mask = __mmask16;
    static constexpr int L = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const T* p) { return _mm512_loadu_ps(p); }
    static V bcast(const T* p) { return _mm512_set1_ps(*p); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
    static Mask mask(i64 n) { return Mask(n >= L ? 0xFFFFu : (1u << n) - 1u); }  // lanes [0, n)
    static V mload(const T* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void mstore(T* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
    static T hsum(V v) {  // GCC 12 -Wuninitialized trips on every AVX-512 lane shuffle
        alignas(64) T t[L];
        _mm512_store_ps(t, v);
        return pairwise_sum<T, L>(t);
    }
};

struct F64 {
    using T = double;
    using V = __m512d;
    using Mask = __mmask8;
    static constexpr int L = 8;
    static V zero() { return _mm512_setzero_pd(); }
    static V load(const T* p) { return _mm512_loadu_pd(p); }
    static V bcast(const T* p) { return _mm512_set1_pd(*p); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
    static V add(V a, V b) { return _mm512_add_pd(a, b); }
    static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
    static Mask mask(i64 n) { return Mask(n >= L ? 0xFFu : (1u << n) - 1u); }
    static V mload(const T* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
    static void mstore(T* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
    static T hsum(V v) {
        alignas(64) T t[L];
        _mm512_store_pd(t, v);
        return pairwise_sum<T, L>(t);
    }
};

template <class S>
void ukernel_packed(i64 kc, const typename S::T* a, const typename S::T* b, typename S::T* c,
                    i64 rs_c, bool accumulate) {
    using V = typename S::V;
    constexpr int L = S::L;
    for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
    V r[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) r[i][0] = r[i][1] = S::zero();
#pragma GCC unroll 2
    for (i64 k = 0; k < kc; ++k) {
        const V b0 = S::load(b), b1 = S::load(b + L);
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            const V ai = S::bcast(a + i);
            r[i][0] = S::fma(ai, b0, r[i][0]);
            r[i][1] = S::fma(ai, b1, r[i][1]);
        }
        a += MR;
        b += 2 * L;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
        typename S::T* ci = c + i * rs_c;
        if (accumulate) {
            r[i][0] = S::add(S::load(ci), r[i][0]);
            r[i][1] = S::add(S::load(ci + L), r[i][1]);
        }
        S::store(ci, r[i][0]);
        S::store(ci + L, r[i][1]);
    }
}

// M rows, NV vectors of columns; the last vector is masked when MASKED.
template <class S, int M, int NV, bool MASKED>
void strided_tile(i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
                  const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c, bool accumulate) {
    using V = typename S::V;
    constexpr int L = S::L;
    const typename S::Mask last = S::mask(n - (NV - 1) * L);
    i64 off[M];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) off[i] = i * rs_a;
    V r[M][NV];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) r[i][v] = S::zero();
    for (i64 k = 0; k < kc; ++k) {
        V bv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            bv[v] = (MASKED && v == NV - 1) ? S::mload(b + v * L, last) : S::load(b + v * L);
#pragma GCC unroll 16
        for (int i = 0; i < M; ++i) {
            const V ai = S::bcast(a + off[i]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) r[i][v] = S::fma(ai, bv[v], r[i][v]);
        }
        a += cs_a;
        b += rs_b;
    }
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
        typename S::T* ci = c + i * rs_c;
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
            const bool masked = MASKED && v == NV - 1;
            if (accumulate)
                r[i][v] = S::add(masked ? S::mload(ci + v * L, last) : S::load(ci + v * L), r[i][v]);
            if (masked)
                S::mstore(ci + v * L, last, r[i][v]);
            else
                S::store(ci + v * L, r[i][v]);
        }
    }
}

template <class S, int M>
void strided_rows(i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
                  const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c, bool accumulate) {
    constexpr int L = S::L;
    if (n == 2 * L)
        strided_tile<S, M, 2, false>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
    else if (n > L)
        strided_tile<S, M, 2, true>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
    else if (n == L)
        strided_tile<S, M, 1, false>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
    else
        strided_tile<S, M, 1, true>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
}

template <class S>
void ukernel_strided(i64 m, i64 n, i64 kc, const typename S::T* a, i64 rs_a, i64 cs_a,
                     const typename S::T* b, i64 rs_b, typename S::T* c, i64 rs_c,
                     bool accumulate) {
#define FASTMLP_ROWS(M) \
    case M: return strided_rows<S, M>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate)
    switch (m) {
        FASTMLP_ROWS(1); FASTMLP_ROWS(2); FASTMLP_ROWS(3); FASTMLP_ROWS(4);
        FASTMLP_ROWS(5); FASTMLP_ROWS(6); FASTMLP_ROWS(7); FASTMLP_ROWS(8);
        FASTMLP_ROWS(9); FASTMLP_ROWS(10); FASTMLP_ROWS(11);
        default: return strided_rows<S, MR>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
    }
#undef FASTMLP_ROWS
}

// R rows of A dotted with x: two accumulators per row along k, a masked tail,
// then one horizontal sum per row.
template <class S, int R>
void dot_rows(i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
              typename S::T* y, i64 rs_y, bool accumulate) {
    using V = typename S::V;
    constexpr int L = S::L;
    V s[R][2];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = S::zero();
    i64 k = 0;
    for (; k + 2 * L <= kc; k += 2 * L) {
        const V x0 = S::load(x + k), x1 = S::load(x + k + L);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            s[r][0] = S::fma(S::load(a + r * rs_a + k), x0, s[r][0]);
            s[r][1] = S::fma(S::load(a + r * rs_a + k + L), x1, s[r][1]);
        }
    }
    if (k + L <= kc) {
        const V x0 = S::load(x + k);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) s[r][0] = S::fma(S::load(a + r * rs_a + k), x0, s[r][0]);
        k += L;
    }
    if (k < kc) {
        const typename S::Mask m = S::mask(kc - k);
        const V x1 = S::mload(x + k, m);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) s[r][1] = S::fma(S::mload(a + r * rs_a + k, m), x1, s[r][1]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        const typename S::T v = S::hsum(S::add(s[r][0], s[r][1]));
        y[r * rs_y] = accumulate ? y[r * rs_y] + v : v;
    }
}

template <class S>
void dot(i64 m, i64 kc, const typename S::T* a, i64 rs_a, const typename S::T* x,
         typename S::T* y, i64 rs_y, bool accumulate) {
    i64 i = 0;
    for (; i + 4 <= m; i += 4) dot_rows<S, 4>(kc, a + i * rs_a, rs_a, x, y + i * rs_y, rs_y, accumulate);
    for (; i < m; ++i) dot_rows<S, 1>(kc, a + i * rs_a, rs_a, x, y + i * rs_y, rs_y, accumulate);
}


// Blocking for Skylake-SP/Ice Lake/Zen 4 caches (L1 >= 32 KiB, L2 >= 1 MiB):
// a kc x nr B panel (24 KiB) in L1, an mc x kc A block (288 KiB) in L2.
const GemmKernels kTable = {
    "avx512",
    {MR, 32, 384, 192, 4096, ukernel_packed<F32>, ukernel_strided<F32>, dot<F32>},
    {MR, 16, 192, 192, 4096, ukernel_packed<F64>, ukernel_strided<F64>, dot<F64>},
};

}  // namespace

const GemmKernels* gemm_kernels_avx512() { return &kTable; }

}  // namespace fastmlp

#else

namespace fastmlp {
const GemmKernels* gemm_kernels_avx512() { return nullptr; }
}  // namespace fastmlp

#endif
