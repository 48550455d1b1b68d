// NEON micro-kernels for aarch64: sgemm 8x12 and dgemm 8x6, i.e. 8 rows x 3
// q-register accumulators (24 of the 32). The packed kernel loads B rows and
// multiplies them by lanes of A (FMLA by element), so A's 8 values of a k step
// take 2 registers (4 for double): 29 (31) registers and 5 (7) loads per 24
// FMAs, no spills. NEON is part of every aarch64 target: no flags needed.
#include "fastmlp/gemm/ukernel.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#include "fastmlp/gemm/ukernel_simd.h"

namespace fastmlp {

namespace {

constexpr int MR = 8;
constexpr int NV = 3;    // vectors per row of the packed tile
// Accumulator registers of the strided kernels, which broadcast one register
// per row of A: R rows x NV vectors + NV + R stay within 32 for every NV <= 4
// (24 would spill in the k loop).
constexpr int ACC = 21;

// NEON has no masked loads; a mask is the lane count n in [1, L) and the
// partial vectors are built lane by lane (only edges of C and of k take them).
struct F32 {
    using T = float;
    using V = float32x4_t;
    using Mask = int;
    static constexpr int L = 4;
    static V zero() { return vdupq_n_f32(0); }
    static V load(const T* p) { return vld1q_f32(p); }
    static V bcast(const T* p) { return vld1q_dup_f32(p); }
    static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
    static V fma_lane(V a, int l, V b, V c) {  // l is a constant once unrolled
        switch (l) {
            case 0: return vfmaq_laneq_f32(c, b, a, 0);
            case 1: return vfmaq_laneq_f32(c, b, a, 1);
            case 2: return vfmaq_laneq_f32(c, b, a, 2);
            default: return vfmaq_laneq_f32(c, b, a, 3);
        }
    }
    static V add(V a, V b) { return vaddq_f32(a, b); }
    static V mul(V a, V b) { return vmulq_f32(a, b); }
    // (not vmaxq_f32: it turns -0 into +0, where x86's max keeps c)
    static V relu(V c) { return vbslq_f32(vcltq_f32(c, zero()), zero(), c); }
    static V step(V x) {
        return vreinterpretq_f32_u32(
            vandq_u32(vcgtq_f32(x, zero()), vreinterpretq_u32_f32(vdupq_n_f32(1))));
    }
    static void store(T* p, V v) { vst1q_f32(p, v); }
    static Mask mask(i64 n) { return int(n); }
    static V mload(const T* p, Mask n) {  // lanes [0, n) of p, the rest 0
        const float32x2_t z = vdup_n_f32(0);
        const float32x2_t lo = n >= 2 ? vld1_f32(p) : vld1_lane_f32(p, z, 0);
        const float32x2_t hi = n == 3 ? vld1_lane_f32(p + 2, z, 0) : z;
        return vcombine_f32(lo, hi);
    }
    static void mstore(T* p, Mask n, V v) {
        if (n >= 2)
            vst1_f32(p, vget_low_f32(v));
        else
            vst1q_lane_f32(p, v, 0);
        if (n == 3) vst1q_lane_f32(p + 2, v, 2);
    }
    static T hsum(V v) { return vaddvq_f32(v); }
    static constexpr int kDotRows = 4;
    static void hsums(const V* v, T* out) {
        for (int r = 0; r < kDotRows; ++r) out[r] = hsum(v[r]);
    }
};

struct F64 {
    using T = double;
    using V = float64x2_t;
    using Mask = int;  // always 1: one lane of two
    static constexpr int L = 2;
    static V zero() { return vdupq_n_f64(0); }
    static V load(const T* p) { return vld1q_f64(p); }
    static V bcast(const T* p) { return vld1q_dup_f64(p); }
    static V fma(V a, V b, V c) { return vfmaq_f64(c, a, b); }
    static V fma_lane(V a, int l, V b, V c) {
        return l == 0 ? vfmaq_laneq_f64(c, b, a, 0) : vfmaq_laneq_f64(c, b, a, 1);
    }
    static V add(V a, V b) { return vaddq_f64(a, b); }
    static V mul(V a, V b) { return vmulq_f64(a, b); }
    static V relu(V c) { return vbslq_f64(vcltq_f64(c, zero()), zero(), c); }
    static V step(V x) {
        return vreinterpretq_f64_u64(
            vandq_u64(vcgtq_f64(x, zero()), vreinterpretq_u64_f64(vdupq_n_f64(1))));
    }
    static void store(T* p, V v) { vst1q_f64(p, v); }
    static Mask mask(i64 n) { return int(n); }
    static V mload(const T* p, Mask) { return vcombine_f64(vld1_f64(p), vdup_n_f64(0)); }
    static void mstore(T* p, Mask, V v) { vst1q_lane_f64(p, v, 0); }
    static T hsum(V v) { return vaddvq_f64(v); }
    static constexpr int kDotRows = 4;
    static void hsums(const V* v, T* out) {
        for (int r = 0; r < kDotRows; ++r) out[r] = hsum(v[r]);
    }
};

// Not measured on hardware yet; sized for the smallest common per-core caches
// (Cortex-A72: 32 KiB L1D, 1 MiB L2 shared; Neoverse N1/V1 and Apple cores have
// 64-128 KiB L1D and >= 1 MiB L2): a kc x nr B panel (12 KiB) stays in L1 next
// to the streamed A panel, an mc x kc A block (128 KiB) in L2, a kc x nc B
// block (3 MiB) in L3 or the system cache.
const GemmKernels kTable = {
    "neon",
    {MR, NV * F32::L, 128, 256, 3072, 4 * F32::L, kNeverNarrow, kNeverNarrow,
     ukernel_packed<F32, MR, NV, true>, ukernel_strided<F32, MR, ACC>, dot<F32>, dots<F32>, row_times<F32>,
     relu_mlp<F32, ACC>, 4 * F32::L},
    {MR, NV * F64::L, 64, 256, 1536, 4 * F64::L, kNeverNarrow, kNeverNarrow,
     ukernel_packed<F64, MR, NV, true>, ukernel_strided<F64, MR, ACC>, dot<F64>, dots<F64>, row_times<F64>,
     relu_mlp<F64, ACC>, 4 * F64::L},
};

}  // namespace

const GemmKernels* gemm_kernels_neon() { return &kTable; }

}  // namespace fastmlp

#else

namespace fastmlp {
const GemmKernels* gemm_kernels_neon() { return nullptr; }
}  // namespace fastmlp

#endif
