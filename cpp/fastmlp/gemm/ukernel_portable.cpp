// Portable C++ micro-kernels (sgemm 4x8, dgemm 4x4): plain loops over a small
// accumulator array that the compiler keeps in SSE registers.
#include "fastmlp/gemm/ukernel.h"

namespace fastmlp {

namespace {

using i64 = std::int64_t;

// Row i of C (n values at c, already combined with C) through the epilogue,
// one stage at a time as the SIMD kernels do, so each stage is a plain loop.
template <class T>
void epilogue_row(const TileEpilogue<T>& ep, i64 i, i64 n, T* c) {
    if (ep.bias)
        for (i64 j = 0; j < n; ++j) c[j] += ep.bias[j];
    if (ep.dact_x) {
        const T* x = ep.dact_x + i * ep.rs_dact;
        for (i64 j = 0; j < n; ++j) c[j] *= x[j] > T(0) ? T(1) : T(0);
    }
    if (ep.act_out) {
        T* out = ep.act_out + i * ep.rs_act;
        for (i64 j = 0; j < n; ++j) out[j] = ep.act_relu && c[j] < T(0) ? T(0) : c[j];
    }
}

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

// Rows in blocks of MR; n <= NR.
template <class T, int MR, int NR>
void ukernel_strided(i64 m, i64 n, i64 kc, const T* a, i64 rs_a, i64 cs_a, const T* b, i64 rs_b,
                     T* c, i64 rs_c, bool accumulate, const TileEpilogue<T>* ep) {
    for (i64 i0 = 0; i0 < m; i0 += MR) {
        const i64 mb = m - i0 < MR ? m - i0 : MR;
        T acc[MR][NR] = {};
        const T* ak = a + i0 * rs_a;
        const T* bk = b;
        for (i64 k = 0; k < kc; ++k, ak += cs_a, bk += rs_b)
            for (i64 i = 0; i < mb; ++i) {
                const T ai = ak[i * rs_a];
                for (i64 j = 0; j < n; ++j) acc[i][j] += ai * bk[j];
            }
        for (i64 i = 0; i < mb; ++i) {
            T* ci = c + (i0 + i) * rs_c;
            for (i64 j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + acc[i][j] : acc[i][j];
            if (ep) epilogue_row(*ep, i0 + i, n, ci);
        }
    }
    // The sums in k order, as the SIMD kernels add them.
    if (ep && ep->colsum_b)
        for (i64 j = 0; j < n; ++j) {
            T s = T(0);
            for (i64 k = 0; k < kc; ++k) s += b[k * rs_b + j];
            ep->colsum_b[j] += s;
        }
    if (ep && ep->rowsum_a)
        for (i64 i = 0; i < m; ++i) {
            T s = T(0);
            for (i64 k = 0; k < kc; ++k) s += a[i * rs_a + k * cs_a];
            ep->rowsum_a[i] += s;
        }
}

template <class T>
void dot(i64 m, i64 kc, const T* a, i64 rs_a, const T* x, T* y, i64 rs_y, bool accumulate,
         const TileEpilogue<T>* ep) {
    for (i64 i = 0; i < m; ++i) {
        T s = T(0);
        for (i64 k = 0; k < kc; ++k) s += a[i * rs_a + k] * x[k];
        y[i * rs_y] = accumulate ? y[i * rs_y] + s : s;
        if (ep) epilogue_row(*ep, i, 1, y + i * rs_y);
    }
}

template <class T>
void dots(i64 m, i64 n, i64 kc, const T* a, i64 rs_a, const T* x, i64 rs_x, T* c, i64 rs_c,
          i64 cs_c, bool accumulate) {
    for (i64 i = 0; i < m; ++i)
        for (i64 j = 0; j < n; ++j) {
            T s = T(0);
            for (i64 k = 0; k < kc; ++k) s += a[i * rs_a + k] * x[j * rs_x + k];
            T& cij = c[i * rs_c + j * cs_c];
            cij = accumulate ? cij + s : s;
        }
}

// Each y[j] summed as ukernel_strided sums acc[i][j]: the same bits.
template <class T>
void row_times(i64 n, i64 kc, const T* a, i64 cs_a, const T* b, i64 rs_b, T* y) {
    for (i64 j = 0; j < n; ++j) y[j] = T(0);
    for (i64 k = 0; k < kc; ++k) {
        const T ak = a[k * cs_a];
        for (i64 j = 0; j < n; ++j) y[j] += ak * b[k * rs_b + j];
    }
}

// Widest hidden layer relu_mlp takes (its row lives in a local array).
constexpr int kReluMlpMaxH = 64;

// The fused pass one row at a time, each value summed as the loops above sum it.
template <class T>
void relu_mlp(ReluMlpPass<T>& p) {
    const i64 d = p.d, h = p.h;
    for (i64 i = 0; i < d * h; ++i) p.gw1[i] = T(0);
    for (i64 j = 0; j < h; ++j) {
        p.gw2[j] = T(0);
        if (p.gb1) p.gb1[j] = T(0);
    }
    T gb2 = T(0);
    T a[kReluMlpMaxH];
    for (i64 i = 0; i < p.n; ++i) {
        const T* x = p.x + i * d;
        for (i64 j = 0; j < h; ++j) a[j] = T(0);
        for (i64 k = 0; k < d; ++k)
            for (i64 j = 0; j < h; ++j) a[j] += x[k] * p.w1[k * h + j];
        T o = T(0);
        for (i64 j = 0; j < h; ++j) {
            if (p.b1) a[j] += p.b1[j];
            a[j] = a[j] < T(0) ? T(0) : a[j];
            o += a[j] * p.w2[j];
        }
        if (p.b2) o += p.b2[0];
        p.out[i] = o;
        const T g = T(2) * (o - p.y[i]) * p.scale;
        gb2 += g;
        for (i64 j = 0; j < h; ++j) {
            p.gw2[j] += g * a[j];
            T dh = T(0);
            dh += g * p.w2[j];
            a[j] = dh * (a[j] > T(0) ? T(1) : T(0));
        }
        for (i64 k = 0; k < d; ++k)
            for (i64 j = 0; j < h; ++j) p.gw1[k * h + j] += x[k] * a[j];
        if (p.gb1)
            for (i64 j = 0; j < h; ++j) p.gb1[j] += a[j];
    }
    if (p.gb2) *p.gb2 = gb2;
}

const GemmKernels kTable = {
    "portable",
    {4, 8, 128, 256, 4096, 8, kNeverNarrow, kNeverNarrow, ukernel_packed<float, 4, 8>,
     ukernel_strided<float, 4, 8>, dot<float>, dots<float>, row_times<float>,
     relu_mlp<float>, kReluMlpMaxH},
    {4, 4, 64, 256, 4096, 4, kNeverNarrow, kNeverNarrow, ukernel_packed<double, 4, 4>,
     ukernel_strided<double, 4, 4>, dot<double>, dots<double>, row_times<double>,
     relu_mlp<double>, kReluMlpMaxH},
};

}  // namespace

const GemmKernels* gemm_kernels_portable() { return &kTable; }

}  // namespace fastmlp
