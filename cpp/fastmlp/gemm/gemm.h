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

// Name of the micro-kernel chosen at run time ("portable", "avx2", "avx512", "neon").
const char* gemm_isa();

}  // namespace fastmlp
