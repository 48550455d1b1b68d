// Micro-kernel tables: the only interface between the portable GEMM driver and
// the ISA-specific kernel files. Plain data and function pointers, no inline
// code, so nothing compiled with -mavx2/-mavx512f can leak into portable code.
#pragma once
#include <cstdint>

namespace fastmlp {

// The part of gemm's Epilogue a kernel applies to its results while they are
// still in registers, per element in apply_epilogue's order: c += bias[j];
// c *= relu'(dact_x(i, j)); C(i, j) = c; act_out(i, j) = relu(c) or c.
// Pointers are at the kernel's C(0, 0); rows are unit-stride, rs_* apart.
template <class T>
struct TileEpilogue {
    const T* bias = nullptr;
    const T* dact_x = nullptr;  // relu' = (x > 0 ? 1 : 0)
    std::int64_t rs_dact = 0;
    T* act_out = nullptr;
    std::int64_t rs_act = 0;
    bool act_relu = false;  // act_out gets relu(c), else c
    // Sums over k that `strided` adds in k order while the operands pass through
    // its registers (a bias gradient at no extra read), once per call: for each
    // column j < n, colsum_b[j] += sum_k B(k, j); for each row i < m,
    // rowsum_a[i] += sum_k A(i, k). At most one of them is set.
    T* colsum_b = nullptr;
    T* rowsum_a = nullptr;
};

// One training pass of a two-layer regression net over n rows, forward, MSE
// gradient and backward fused on row blocks that stay in L1:
// o = relu(x W1 + b1) . w2 + b2, gradient 2 (o - y) scale. Each value is summed
// in the order the layer-by-layer products sum it (every weight gradient one
// chain over the rows from zero), so the two give the same bits while those
// products run direct.
template <class T>
struct ReluMlpPass {
    std::int64_t n = 0, d = 0, h = 0;  // rows, inputs, hidden width (h <= relu_mlp_max_h)
    const T* x = nullptr;   // n x d
    const T* y = nullptr;   // n targets
    const T* w1 = nullptr;  // d x h
    const T* b1 = nullptr;  // h, or null
    const T* w2 = nullptr;  // h
    const T* b2 = nullptr;  // 1, or null
    T scale = T(1);         // 1 / the loss's denominator
    T* gw1 = nullptr;       // gradients, overwritten (gb1, gb2 null when b1, b2 are)
    T* gb1 = nullptr;
    T* gw2 = nullptr;
    T* gb2 = nullptr;
    T* out = nullptr;       // n outputs o, written (the caller sums the loss)
};

// narrow_min_m and narrow_min_k of a table whose wide blocks fit its registers.
constexpr int kNeverNarrow = 1 << 30;

template <class T>
struct GemmUkernel {
    int mr, nr;          // register tile
    int mc, kc, nc;      // cache blocking (mc % mr == 0, nc % nr == 0)
    int wide_nr;         // widest n `strided` takes (>= nr)
    // The direct path takes nr columns per call, not wide_nr, for products of
    // at least narrow_min_m rows and narrow_min_k k steps (a kernel whose wide
    // blocks leave no register for B; kNeverNarrow for the others).
    int narrow_min_m, narrow_min_k;
    // C[mr x nr] (+)= A * B over kc steps. a: packed panel, a[k * mr + i];
    // b: packed panel, b[k * nr + j]; c: rows of nr contiguous values, rs_c apart.
    void (*packed)(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t rs_c,
                   bool accumulate);
    // C[m x n] (+)= A * B, then ep (if not null), for any m and n <= wide_nr.
    // A(i, k) = a[i * rs_a + k * cs_a]; B(k, j) = b[k * rs_b + j] (only j < n is
    // read); C(i, j) = c[i * rs_c + j]. Every C element sums k in the same order
    // as `packed`, so tiles of either kernel agree bitwise.
    void (*strided)(std::int64_t m, std::int64_t n, std::int64_t kc, const T* a,
                    std::int64_t rs_a, std::int64_t cs_a, const T* b, std::int64_t rs_b, T* c,
                    std::int64_t rs_c, bool accumulate, const TileEpilogue<T>* ep);
    // y[i * rs_y] (+)= sum_k a[i * rs_a + k] * x[k] for i < m, then ep (column
    // 0, row i): matrix-vector product (N = 1) over contiguous rows of A,
    // vectorised along k.
    void (*dot)(std::int64_t m, std::int64_t kc, const T* a, std::int64_t rs_a, const T* x, T* y,
                std::int64_t rs_y, bool accumulate, const TileEpilogue<T>* ep);
    // C(i, j) (+)= sum_k a[i * rs_a + k] * x[j * rs_x + k] for i < m, j < n, with
    // C(i, j) = c[i * rs_c + j * cs_c]: the dot products of A's rows with those of
    // X (a B of contiguous columns, X its transpose), vectorised along k, each
    // vector loaded once for several of them.
    void (*dots)(std::int64_t m, std::int64_t n, std::int64_t kc, const T* a, std::int64_t rs_a,
                 const T* x, std::int64_t rs_x, T* c, std::int64_t rs_c, std::int64_t cs_c,
                 bool accumulate);
    // y[j] = sum_k a[k * cs_a] * b[k * rs_b + j] for j < n, each y[j] summed over k
    // in order from zero as `strided` sums it (no C, no epilogue): one row of A
    // times B, read along B's rows.
    void (*row)(std::int64_t n, std::int64_t kc, const T* a, std::int64_t cs_a, const T* b,
                std::int64_t rs_b, T* y);
    // The fused pass above, for hidden widths up to relu_mlp_max_h.
    void (*relu_mlp)(ReluMlpPass<T>& p);
    int relu_mlp_max_h;
};

struct GemmKernels {
    const char* name;
    GemmUkernel<float> f32;
    GemmUkernel<double> f64;
};

// Each returns nullptr when its file was built without the needed target flags.
const GemmKernels* gemm_kernels_portable();
const GemmKernels* gemm_kernels_avx2();
const GemmKernels* gemm_kernels_avx512();
const GemmKernels* gemm_kernels_neon();

}  // namespace fastmlp
