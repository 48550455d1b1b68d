// AVX-512F micro-kernels: sgemm 12x32 and dgemm 12x16, i.e. 12 rows x 2 zmm
// accumulators (24 of the 32 registers), B rows loaded, A elements broadcast.
// Edges use AVX-512 lane masks. Compile this file alone with -mavx512f -mfma.
#include "fastmlp/gemm/ukernel.h"

// MSVC's /arch:AVX512 implies FMA but does not define __FMA__.
#if defined(__AVX512F__) && (defined(__FMA__) || defined(_MSC_VER))
#include <immintrin.h>

#include "fastmlp/gemm/ukernel_simd.h"

namespace fastmlp {

namespace {

constexpr int MR = 12;
constexpr int ACC = 24;  // accumulator registers of the strided kernels

// Half h of v's lanes. The hsums below sum the lanes as a fixed halving tree
// (lane i + L/2 onto lane i, then i + L/4, ...), as the other ISAs' do, in
// registers. (The masked extract and shuffles: GCC 12 warns on the plain
// ones', and the cast's, undefined pass-through operand.)
template <int h>
__m256d half(__m512d v) {
    return _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, v, h);
}

// 128-bit quarters of a and b picked by imm as _mm512_shuffle_f32x4 does: two of
// a, then two of b.
template <int imm>
__m512 quarters(__m512 a, __m512 b) {
    return _mm512_mask_shuffle_f32x4(_mm512_setzero_ps(), 0xFFFF, a, b, imm);
}
template <int imm>
__m512d quarters(__m512d a, __m512d b) {
    return _mm512_mask_shuffle_f64x2(_mm512_setzero_pd(), 0xFF, a, b, imm);
}

// Overloads for halve_twice (MSVC has no operators on vector types).
inline __m512 plus(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
inline __m512d plus(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }

// The first two steps of the hsums of 8 registers (lane i + L/2, then i + L/4):
// x[p] holds rows 4p..4p+3 in its quarters, L/4 lanes each.
template <class V>
void halve_twice(const V* v, V (&x)[2]) {
    V w[4];
    for (int p = 0; p < 4; ++p)  // [row 2p | row 2p+1], L/2 lanes each
        w[p] = plus(quarters<0x44>(v[2 * p], v[2 * p + 1]), quarters<0xEE>(v[2 * p], v[2 * p + 1]));
    for (int p = 0; p < 2; ++p)
        x[p] = plus(quarters<0x88>(w[2 * p], w[2 * p + 1]), quarters<0xDD>(w[2 * p], w[2 * p + 1]));
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
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    // (not _mm512_max_ps: GCC 12 warns on its undefined pass-through operand)
    static V relu(V c) { return _mm512_mask_mov_ps(c, _mm512_cmp_ps_mask(c, zero(), _CMP_LT_OQ), zero()); }
    static V step(V x) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero(), _CMP_GT_OQ), _mm512_set1_ps(1));
    }
    static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
    static Mask mask(i64 n) { return Mask(n >= L ? 0xFFFFu : (1u << n) - 1u); }  // lanes [0, n)
    static V mload(const T* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void mstore(T* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
    static T hsum(V v) {
        const __m256 s8 = _mm256_add_ps(_mm256_castpd_ps(half<0>(_mm512_castps_pd(v))),
                                        _mm256_castpd_ps(half<1>(_mm512_castps_pd(v))));
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
    // out[r] = hsum(v[r]) for 8 rows, the same tree run on all of them at once:
    // each step halves the lanes per row and doubles the rows per register.
    static constexpr int kDotRows = 8;
    static void hsums(const V* v, T* out) {
        V x[2];
        halve_twice(v, x);
        // lane i + 2: quarter q holds rows q and q + 4, 2 lanes each; then lane i + 1
        const V y = add(_mm512_mask_shuffle_ps(zero(), 0xFFFF, x[0], x[1], 0x44),
                        _mm512_mask_shuffle_ps(zero(), 0xFFFF, x[0], x[1], 0xEE));
        T lanes[L];
        store(lanes, add(y, _mm512_mask_movehdup_ps(zero(), 0xFFFF, y)));
        for (int q = 0; q < 4; ++q) out[q] = lanes[4 * q], out[q + 4] = lanes[4 * q + 2];
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
    static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
    static V relu(V c) { return _mm512_mask_mov_pd(c, _mm512_cmp_pd_mask(c, zero(), _CMP_LT_OQ), zero()); }
    static V step(V x) {
        return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(x, zero(), _CMP_GT_OQ), _mm512_set1_pd(1));
    }
    static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
    static Mask mask(i64 n) { return Mask(n >= L ? 0xFFu : (1u << n) - 1u); }
    static V mload(const T* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
    static void mstore(T* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
    static T hsum(V v) {
        const __m256d s4 = _mm256_add_pd(half<0>(v), half<1>(v));
        const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
    // As F32::hsums, for 8 rows of 8 lanes.
    static constexpr int kDotRows = 8;
    static void hsums(const V* v, T* out) {
        V x[2];
        halve_twice(v, x);
        // lane i + 1: quarter q holds rows q and q + 4
        T lanes[L];
        store(lanes, add(_mm512_mask_unpacklo_pd(zero(), 0xFF, x[0], x[1]),
                         _mm512_mask_unpackhi_pd(zero(), 0xFF, x[0], x[1])));
        for (int q = 0; q < 4; ++q) out[q] = lanes[2 * q], out[q + 4] = lanes[2 * q + 1];
    }
};

// Blocking for Zen 4 / Skylake-SP caches (L2 >= 1 MiB): deep k blocks, so C
// is read and written once per 1024 k steps, not once per 192. The kc x nr B
// panel (128 KiB) then streams from L2 beside the mc x kc A block (384 KiB):
// L2 bandwidth covers the 176 bytes per 24 FMAs. Measured on Zen 4, one thread:
// 1024^3 sgemm 1.12x, dgemm 1.06-1.12x the L1-resident blocking (mc 384, kc 192).
const GemmKernels kTable = {
    "avx512",
    {MR, 32, 96, 1024, 2048, 4 * F32::L, kNeverNarrow, kNeverNarrow, ukernel_packed<F32, MR, 2>,
     ukernel_strided<F32, MR, ACC>, dot<F32>, dots<F32>, row_times<F32>,
     relu_mlp<F32, ACC>, 4 * F32::L},
    {MR, 16, 48, 1024, 2048, 4 * F64::L, kNeverNarrow, kNeverNarrow, ukernel_packed<F64, MR, 2>,
     ukernel_strided<F64, MR, ACC>, dot<F64>, dots<F64>, row_times<F64>,
     relu_mlp<F64, ACC>, 4 * F64::L},
};

}  // namespace

const GemmKernels* gemm_kernels_avx512() { return &kTable; }

}  // namespace fastmlp

#else

namespace fastmlp {
const GemmKernels* gemm_kernels_avx512() { return nullptr; }
}  // namespace fastmlp

#endif
