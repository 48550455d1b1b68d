// AVX2+FMA micro-kernels: sgemm 6x16 and dgemm 6x8, i.e. 6 rows x 2 ymm
// accumulators (12 of the 16 registers), B rows loaded, A elements broadcast.
// Compile this file alone with -mavx2 -mfma.
#include "gemm_ukernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace fastmlp {

namespace {

using i64 = std::int64_t;
constexpr int MR = 6;

struct F32 {
    using T = float;
    using V = __m256;
    using Mask = __m256i;
    static constexpr int L = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const T* p) { return _mm256_loadu_ps(p); }
    static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
    static Mask mask(i64 n) {  // lanes [0, n)
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static V mload(const T* p, Mask m) { return _mm256_maskload_ps(p, m); }
    static void mstore(T* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
    static T hsum(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
};

struct F64 {
    using T = double;
    using V = __m256d;
    using Mask = __m256i;
    static constexpr int L = 4;
    static V zero() { return _mm256_setzero_pd(); }
    static V load(const T* p) { return _mm256_loadu_pd(p); }
    static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V add(V a, V b) { return _mm256_add_pd(a, b); }
    static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
    static Mask mask(i64 n) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static V mload(const T* p, Mask m) { return _mm256_maskload_pd(p, m); }
    static void mstore(T* p, Mask m, V v) { _mm256_maskstore_pd(p, m, v); }
    static T hsum(V v) {
        __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
};

template <class S>
void ukernel_packed(i64 kc, const typename S::T* a, const typename S::T* b, typename S::T* c,
                    i64 rs_c, bool accumulate) {
    using V = typename S::V;
    constexpr int L = S::L;
    for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
    V r[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) r[i][0] = r[i][1] = S::zero();
#pragma GCC unroll 4
    for (i64 k = 0; k < kc; ++k) {
        const V b0 = S::load(b), b1 = S::load(b + L);
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            const V ai = S::bcast(a + i);
            r[i][0] = S::fma(ai, b0, r[i][0]);
            r[i][1] = S::fma(ai, b1, r[i][1]);
        }
        a += MR;
        b += 2 * L;
    }
#pragma GCC unroll 6
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
    switch (m) {
        case 1: return strided_rows<S, 1>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
        case 2: return strided_rows<S, 2>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
        case 3: return strided_rows<S, 3>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
        case 4: return strided_rows<S, 4>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
        case 5: return strided_rows<S, 5>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
        default: return strided_rows<S, 6>(n, kc, a, rs_a, cs_a, b, rs_b, c, rs_c, accumulate);
    }
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


// Blocking for Zen 2/3 and Haswell-class caches: a kc x nr B panel stays in
// L1, an mc x kc A block in L2, a kc x nc B block in L3.
const GemmKernels kTable = {
    "avx2",
    {MR, 16, 144, 256, 4080, ukernel_packed<F32>, ukernel_strided<F32>, dot<F32>},
    {MR, 8, 72, 256, 4080, ukernel_packed<F64>, ukernel_strided<F64>, dot<F64>},
};

}  // namespace

const GemmKernels* gemm_kernels_avx2() { return &kTable; }

}  // namespace fastmlp

#else

namespace fastmlp {
const GemmKernels* gemm_kernels_avx2() { return nullptr; }
}  // namespace fastmlp

#endif
