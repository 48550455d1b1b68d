// Packing of A and B blocks into the zero-padded micro-panels the kernels read
// contiguously. Unit-stride sources get loops the compiler turns into plain
// vector copies; other strides take the general gather.
#pragma once
#include "common.h"

namespace fastmlp {

namespace pack_detail {

// W values from each of `count` source lines (line l starts at src + l * ls, its
// elements are es apart) into dst[x * W + l]: dst[k * W + l] = src[l * ls + k * es].
template <class T, int W>
void panel(index_t count, index_t len, const T* src, index_t ls, index_t es, T* dst) {
    if (count == W && ls == 1) {  // each step k copies W contiguous values
        for (index_t k = 0; k < len; ++k)
            for (int l = 0; l < W; ++l) dst[k * W + l] = src[k * es + l];
    } else if (count == W && es == 1) {  // each line is contiguous: a small transpose
        for (int l = 0; l < W; ++l) {
            const T* s = src + l * ls;
            for (index_t k = 0; k < len; ++k) dst[k * W + l] = s[k];
        }
    } else {
        for (index_t k = 0; k < len; ++k)
            for (int l = 0; l < W; ++l) dst[k * W + l] = l < count ? src[l * ls + k * es] : T(0);
    }
}

template <class T, int W>
void panels(index_t total, index_t len, const T* src, index_t ls, index_t es, T* dst) {
    for (index_t l0 = 0; l0 < total; l0 += W, dst += W * len) {
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
