// Portable C++ micro-kernels (sgemm 4x8, dgemm 4x4): plain loops over a small
// accumulator array that the compiler keeps in SSE registers.
#include "gemm_ukernel.h"

namespace fastmlp {

namespace {

using i64 = std::int64_t;

template <class T, int MR, int NR>
void ukernel_packed(i64 kc, const T* a, const T* b, T* c, i64 rs_c, bool accumulate) {
    T acc[MR][NR] = {};
    for (i64 k = 0; k < kc; ++k, a += MR, b += NR)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) c[i * rs_c + j] = accumulate ? c[i * rs_c + j] + acc[i][j]
                                                                 : acc[i][j];
}

template <class T, int MR, int NR>
void ukernel_strided(i64 m, i64 n, i64 kc, const T* a, i64 rs_a, i64 cs_a, const T* b, i64 rs_b,
                     T* c, i64 rs_c, bool accumulate) {
    T acc[MR][NR] = {};
    for (i64 k = 0; k < kc; ++k, a += cs_a, b += rs_b)
        for (i64 i = 0; i < m; ++i) {
            const T ai = a[i * rs_a];
            for (i64 j = 0; j < n; ++j) acc[i][j] += ai * b[j];
        }
    for (i64 i = 0; i < m; ++i)
        for (i64 j = 0; j < n; ++j) c[i * rs_c + j] = accumulate ? c[i * rs_c + j] + acc[i][j]
                                                                 : acc[i][j];
}

template <class T>
void dot(i64 m, i64 kc, const T* a, i64 rs_a, const T* x, T* y, i64 rs_y, bool accumulate) {
    for (i64 i = 0; i < m; ++i, a += rs_a, y += rs_y) {
        T s = T(0);
        for (i64 k = 0; k < kc; ++k) s += a[k] * x[k];
        *y = accumulate ? *y + s : s;
    }
}

const GemmKernels kTable = {
    "portable",
    {4, 8, 128, 256, 4096, ukernel_packed<float, 4, 8>, ukernel_strided<float, 4, 8>, dot<float>},
    {4, 4, 64, 256, 4096, ukernel_packed<double, 4, 4>, ukernel_strided<double, 4, 4>, dot<double>},
};

}  // namespace

const GemmKernels* gemm_kernels_portable() { return &kTable; }

}  // namespace fastmlp
