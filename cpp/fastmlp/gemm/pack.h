// Packing of A and B blocks into the zero-padded micro-panels the kernels read
// contiguously. Unit-stride sources get loops the compiler turns into plain
// vector copies; other strides take the general gather.
#pragma once
#include "fastmlp/common.h"

// Targets without SSE2 (common.h) take the scalar loops.
#ifdef FASTMLP_SSE2
#include <emmintrin.h>
#endif

namespace fastmlp {

namespace pack_detail {

// dst[k * W + l] = src[l * ls + k] for l < W, k < len: contiguous lines become
// interleaved columns. A scalar loop here costs ~4 cycles per element (one
// store per cache line touched), so x86 uses 4x4 / 2x2 register transposes.
template <int W, class T>
void transpose_lines(const T* src, index_t ls, index_t len, T* dst) {
    for (int l = 0; l < W; ++l)
        for (index_t k = 0; k < len; ++k) dst[k * W + l] = src[l * ls + k];
}

#ifdef FASTMLP_SSE2
// Values k..k+3 of lines l..l+3, by a 4x4 register transpose.
template <int W>
void transpose_4x4(const float* src, index_t ls, index_t k, int l, float* dst) {
    __m128 r0 = _mm_loadu_ps(src + (l + 0) * ls + k);
    __m128 r1 = _mm_loadu_ps(src + (l + 1) * ls + k);
    __m128 r2 = _mm_loadu_ps(src + (l + 2) * ls + k);
    __m128 r3 = _mm_loadu_ps(src + (l + 3) * ls + k);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst + (k + 0) * W + l, r0);
    _mm_storeu_ps(dst + (k + 1) * W + l, r1);
    _mm_storeu_ps(dst + (k + 2) * W + l, r2);
    _mm_storeu_ps(dst + (k + 3) * W + l, r3);
}

// Values k..k+3 of lines [l0, W): 4x4 transposes, then pairs, then one by one.
template <int W>
void transpose_4(const float* src, index_t ls, index_t k, int l0, float* dst) {
    int l = l0;
    for (; l + 4 <= W; l += 4) transpose_4x4<W>(src, ls, k, l, dst);
    if (W - l == 2) {  // 6- and 12-row A panels: the last two lines pairwise
        const __m128 r0 = _mm_loadu_ps(src + l * ls + k);
        const __m128 r1 = _mm_loadu_ps(src + (l + 1) * ls + k);
        const __m128 lo = _mm_unpacklo_ps(r0, r1), hi = _mm_unpackhi_ps(r0, r1);
        _mm_storel_pi(reinterpret_cast<__m64*>(dst + (k + 0) * W + l), lo);
        _mm_storeh_pi(reinterpret_cast<__m64*>(dst + (k + 1) * W + l), lo);
        _mm_storel_pi(reinterpret_cast<__m64*>(dst + (k + 2) * W + l), hi);
        _mm_storeh_pi(reinterpret_cast<__m64*>(dst + (k + 3) * W + l), hi);
        l += 2;
    }
    for (; l < W; ++l)
        for (index_t kk = k; kk < k + 4; ++kk) dst[kk * W + l] = src[l * ls + kk];
}

template <int W>
void transpose_lines(const float* src, index_t ls, index_t len, float* dst) {
    // A cache line of four lines at a time: lines a multiple of 4 KiB apart share
    // L1 sets, and stepping k by 4 across all W lines lost each line before its
    // next values were read. Fit steps of W-W-W-10 on Zen 5 (W^T packed for the
    // input gradient), by lines / across: W 1024 b32 1.07x at 1 thread, 1.10x at
    // 2; W 512 b32 1.03x and 1.03x; W 256 b64 1.01x and 1.06x.
    constexpr index_t kLineValues = 16;
    constexpr int kQuads = W / 4 * 4;
    index_t k = 0;
    for (; k + kLineValues <= len; k += kLineValues) {
        for (int l = 0; l < kQuads; l += 4)
            for (index_t kk = k; kk < k + kLineValues; kk += 4)
                transpose_4x4<W>(src, ls, kk, l, dst);
        if (kQuads < W)
            for (index_t kk = k; kk < k + kLineValues; kk += 4)
                transpose_4<W>(src, ls, kk, kQuads, dst);
    }
    for (; k + 4 <= len; k += 4) transpose_4<W>(src, ls, k, 0, dst);
    for (; k < len; ++k)
        for (int l = 0; l < W; ++l) dst[k * W + l] = src[l * ls + k];
}

template <int W>
void transpose_lines(const double* src, index_t ls, index_t len, double* dst) {
    static_assert(W % 2 == 0, "double panels pair up lines");
    index_t k = 0;
    for (; k + 2 <= len; k += 2)
        for (int l = 0; l < W; l += 2) {
            const __m128d r0 = _mm_loadu_pd(src + l * ls + k);
            const __m128d r1 = _mm_loadu_pd(src + (l + 1) * ls + k);
            _mm_storeu_pd(dst + k * W + l, _mm_unpacklo_pd(r0, r1));
            _mm_storeu_pd(dst + (k + 1) * W + l, _mm_unpackhi_pd(r0, r1));
        }
    for (; k < len; ++k)
        for (int l = 0; l < W; ++l) dst[k * W + l] = src[l * ls + k];
}
#endif

// W values from each of `count` source lines (line l starts at src + l * ls, its
// elements are es apart) into dst[x * W + l]: dst[k * W + l] = src[l * ls + k * es].
template <class T, int W>
void panel(index_t count, index_t len, const T* src, index_t ls, index_t es, T* dst) {
    if (count == W && ls == 1) {  // each step k copies W contiguous values
        for (index_t k = 0; k < len; ++k)
            for (int l = 0; l < W; ++l) dst[k * W + l] = src[k * es + l];
    } else if (count == W && es == 1) {  // each line is contiguous: a small transpose
        transpose_lines<W>(src, ls, len, dst);
    } else {
        for (index_t k = 0; k < len; ++k)
            for (int l = 0; l < W; ++l) dst[k * W + l] = l < count ? src[l * ls + k * es] : T(0);
    }
}

template <class T, int W>
void panels(index_t total, index_t len, const T* src, index_t ls, index_t es, T* dst) {
    index_t l0 = 0;
    if (ls == 1) {
        // Lines are adjacent: walk the source a contiguous step k at a time and
        // scatter it over the full panels (panel by panel would stride through
        // memory len times, thrashing L1 sets when es is a multiple of 4 KiB).
        const index_t full = total / W;
        for (index_t k = 0; k < len; ++k) {
            const T* s = src + k * es;
            T* d = dst + k * W;
            for (index_t p = 0; p < full; ++p)
                for (int l = 0; l < W; ++l) d[p * W * len + l] = s[p * W + l];
        }
        l0 = full * W;
        dst += full * W * len;
    }
    for (; l0 < total; l0 += W, dst += W * len) {
        const index_t count = total - l0 < W ? total - l0 : W;
        panel<T, W>(count, len, src + l0 * ls, ls, es, dst);
    }
}

template <class T>
void panels_any(int w, index_t total, index_t len, const T* src, index_t ls, index_t es, T* dst) {
    switch (w) {
        case 4: return panels<T, 4>(total, len, src, ls, es, dst);
        case 6: return panels<T, 6>(total, len, src, ls, es, dst);
        case 8: return panels<T, 8>(total, len, src, ls, es, dst);
        case 12: return panels<T, 12>(total, len, src, ls, es, dst);
        case 16: return panels<T, 16>(total, len, src, ls, es, dst);
        case 32: return panels<T, 32>(total, len, src, ls, es, dst);
    }
    throw std::logic_error("gemm: no packing routine for this micro-kernel width");
}

}  // namespace pack_detail

// A[mc x kc] -> ceil(mc / mr) panels, panel p holds rows p*mr.. as a[k * mr + i].
template <class T>
void pack_a(int mr, index_t mc, index_t kc, CMat<T> A, T* dst) {
    pack_detail::panels_any(mr, mc, kc, A.p, A.rs, A.cs, dst);
}

// B[kc x nc] -> ceil(nc / nr) panels, panel p holds cols p*nr.. as b[k * nr + j].
template <class T>
void pack_b(int nr, index_t kc, index_t nc, CMat<T> B, T* dst) {
    pack_detail::panels_any(nr, nc, kc, B.p, B.cs, B.rs, dst);
}

}  // namespace fastmlp
