// First GEMM driver: row-panel loops that the compiler vectorises when B and C
// have unit column stride; strided operands fall back to the reference order.
#include "gemm.h"

#include <algorithm>
#include <vector>

#include "gemm_epilogue.h"

namespace fastmlp {

namespace {

template <class T>
void rows_kernel(index_t i0, index_t i1, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C,
                 bool accumulate) {
    for (index_t i = i0; i < i1; ++i) {
        T* c = &C(i, 0);
        if (!accumulate) std::fill(c, c + N, T(0));
        for (index_t k = 0; k < K; ++k) {
            const T a = A(i, k);
            const T* b = &B(k, 0);
            for (index_t j = 0; j < N; ++j) c[j] += a * b[j];
        }
    }
}

}  // namespace

template <class T>
void gemm(index_t M, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C, bool accumulate,
          const Epilogue<T>* ep) {
    if (M <= 0 || N <= 0) return;
    if (B.cs != 1 || C.cs != 1) {
        gemm_ref(M, N, K, A, B, C, accumulate, ep);
        return;
    }
    rows_kernel(0, M, N, K, A, B, C, accumulate);
    if (ep) {
        apply_epilogue(*ep, C, 0, M, 0, N);
        if (ep->colsum_b) add_colsum(ep->colsum_b, B, K, 0, N);
    }
}

const char* gemm_isa() { return "portable"; }

template void gemm<float>(index_t, index_t, index_t, CMat<float>, CMat<float>, Mat<float>, bool,
                          const Epilogue<float>*);
template void gemm<double>(index_t, index_t, index_t, CMat<double>, CMat<double>, Mat<double>,
                           bool, const Epilogue<double>*);

}  // namespace fastmlp
