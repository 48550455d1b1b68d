// AVX2+FMA micro-kernels: sgemm 6x16 and dgemm 6x8, i.e. 6 rows x 2 ymm
// accumulators (12 of the 16 registers), B rows loaded, A elements broadcast.
// Compile this file alone with -mavx2 -mfma.
#include "fastmlp/gemm/ukernel.h"

// MSVC's /arch:AVX2 implies FMA but does not define __FMA__.
#if defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#include <immintrin.h>

#include "fastmlp/gemm/ukernel_simd.h"

namespace fastmlp {

namespace {

constexpr int MR = 6;
constexpr int ACC = 12;  // accumulator registers of the strided kernels
// A 4-vector-wide strided block has ACC / 4 = 3 rows and no register left for
// B, which each row then reloads. With more rows than that and enough k steps
// for the reloads to cost more than the per-block stores, the direct path takes
// 2-vector blocks of 6 rows (Zen 3, 1 thread: 64x256x256 x@W and 1024x128x128
// 1.5x faster, 512x512x4 X^T@dY 1.5x and 512x512x8 1.05x slower: the k limit).
constexpr int kNarrowMinM = ACC / 4 + 1, kNarrowMinK = 16;

// The first step of the hsums of 4 registers (lane i + L/2): w[p] holds rows
// 2p and 2p + 1 in its halves.
inline void halve(const __m256* v, __m256 (&w)[2]) {
    for (int p = 0; p < 2; ++p)
        w[p] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x31));
}
inline void halve(const __m256d* v, __m256d (&w)[2]) {
    for (int p = 0; p < 2; ++p)
        w[p] = _mm256_add_pd(_mm256_permute2f128_pd(v[2 * p], v[2 * p + 1], 0x20),
                             _mm256_permute2f128_pd(v[2 * p], v[2 * p + 1], 0x31));
}

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
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V relu(V c) { return _mm256_max_ps(zero(), c); }  // max returns c if c is NaN
    static V step(V x) { return _mm256_and_ps(_mm256_cmp_ps(x, zero(), _CMP_GT_OQ), _mm256_set1_ps(1)); }
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
    // out[r] = hsum(v[r]) for 4 rows, the same tree run on all of them at once:
    // each step halves the lanes per row and doubles the rows per register.
    static constexpr int kDotRows = 4;
    static void hsums(const V* v, T* out) {
        V w[2];
        halve(v, w);  // lane i + 4
        // lane i + 2: half h holds rows h and h + 2, 2 lanes each; then lane i + 1
        const V y = add(_mm256_shuffle_ps(w[0], w[1], 0x44), _mm256_shuffle_ps(w[0], w[1], 0xEE));
        T lanes[L];
        store(lanes, add(y, _mm256_movehdup_ps(y)));
        out[0] = lanes[0], out[1] = lanes[4], out[2] = lanes[2], out[3] = lanes[6];
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
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static V relu(V c) { return _mm256_max_pd(zero(), c); }
    static V step(V x) { return _mm256_and_pd(_mm256_cmp_pd(x, zero(), _CMP_GT_OQ), _mm256_set1_pd(1)); }
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
    // As F32::hsums, for 4 rows of 4 lanes.
    static constexpr int kDotRows = 4;
    static void hsums(const V* v, T* out) {
        V w[2];
        halve(v, w);  // lane i + 2
        T lanes[L];  // lane i + 1: rows 0, 2, 1, 3
        store(lanes, add(_mm256_unpacklo_pd(w[0], w[1]), _mm256_unpackhi_pd(w[0], w[1])));
        out[0] = lanes[0], out[1] = lanes[2], out[2] = lanes[1], out[3] = lanes[3];
    }
};

// Blocking for Zen 2/3 and Haswell-class caches: a kc x nr B panel stays in
// L1, an mc x kc A block in L2, a kc x nc B block in L3.
const GemmKernels kTable = {
    "avx2",
    {MR, 16, 144, 256, 4080, 4 * F32::L, kNarrowMinM, kNarrowMinK, ukernel_packed<F32, MR, 2>,
     ukernel_strided<F32, MR, ACC>, dot<F32>, dots<F32>, row_times<F32>,
     relu_mlp<F32, ACC>, 4 * F32::L},
    {MR, 8, 72, 256, 4080, 4 * F64::L, kNarrowMinM, kNarrowMinK, ukernel_packed<F64, MR, 2>,
     ukernel_strided<F64, MR, ACC>, dot<F64>, dots<F64>, row_times<F64>,
     relu_mlp<F64, ACC>, 4 * F64::L},
};

}  // namespace

const GemmKernels* gemm_kernels_avx2() { return &kTable; }

}  // namespace fastmlp

#else

namespace fastmlp {
const GemmKernels* gemm_kernels_avx2() { return nullptr; }
}  // namespace fastmlp

#endif
