// Naive reference GEMM: kept forever as the oracle for the tuned driver.
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/gemm/epilogue.h"

namespace fastmlp {

template <class T>
void gemm_ref(index_t M, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C,
              bool accumulate, const Epilogue<T>* ep) {
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
            T s = accumulate ? C(i, j) : T(0);
            for (index_t k = 0; k < K; ++k) s += A(i, k) * B(k, j);
            C(i, j) = s;
        }
    if (ep) {
        apply_epilogue(*ep, C, 0, M, 0, N);
        if (ep->colsum_b) add_colsum(ep->colsum_b, B, K, 0, N);
    }
}

template void gemm_ref<float>(index_t, index_t, index_t, CMat<float>, CMat<float>, Mat<float>,
                              bool, const Epilogue<float>*);
template void gemm_ref<double>(index_t, index_t, index_t, CMat<double>, CMat<double>,
                               Mat<double>, bool, const Epilogue<double>*);

}  // namespace fastmlp
