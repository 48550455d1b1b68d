// General matrix product for float and double: the one kernel every layer uses.
#pragma once
#include "fastmlp/common.h"

namespace fastmlp {

// Work fused into the product while a tile of C is still in cache.
template <class T>
struct Epilogue {
    const T* bias = nullptr;       // C(i, j) += bias[j] after the product
    Mat<T> act_out{nullptr, 0, 0};  // if set: act_out(i, j) = act(C(i, j))
    ActSpec act{};
    CMat<T> dact_x{nullptr, 0, 0};  // if set: C(i, j) *= dact'(dact_x(i, j), dact_y(i, j))
    CMat<T> dact_y{nullptr, 0, 0};
    ActSpec dact{};
    T* colsum_b = nullptr;          // if set: colsum_b[j] += sum_k B(k, j), k ascending
};

// C[M,N] = (accumulate ? C : 0) + A[M,K] * B[K,N], then the epilogue.
// Any strides. Each C(i, j) sums k in a fixed order whatever the thread count,
// so results are bitwise reproducible.
template <class T>
void gemm(index_t M, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C,
          bool accumulate, const Epilogue<T>* ep = nullptr);

// The weight gradient x^T dy of k rows (x: k x rows, dy: k x cols, row-major)
// kept as the kernels' packed panels, formed a group of rows at a time later:
// each value the same sum, bit for bit, as gemm() gives it, for k up to 256
// (every kernel's K block, so that gemm too sums all k at once).
template <class T>
index_t outer_panels_size(index_t rows, index_t cols, index_t k);  // values pack_outer writes
template <class T>
void pack_outer(const T* x, const T* dy, index_t rows, index_t cols, index_t k, T* panels);
// Rows per group (the kernels' register tile rows, or what is left of them at the end).
template <class T>
index_t outer_group_rows();
// Rows [r0, r1) of the product into c (row-major, cols apart), r0 a multiple of
// outer_group_rows(), on the calling thread alone: for a caller already in parallel.
template <class T>
void form_outer_rows(const T* panels, index_t rows, index_t cols, index_t k, index_t r0,
                     index_t r1, T* c);

// Name of the micro-kernel chosen at run time ("portable", "avx2", "avx512", "neon").
const char* gemm_isa();

}  // namespace fastmlp
