// The epilogue of gemm() on a block of C; shared by every GEMM driver.
#pragma once
#include "fastmlp/activation.h"
#include "fastmlp/gemm/gemm.h"

namespace fastmlp {

// Applies bias, activation derivative and activation to C rows [i0,i1), cols [j0,j1).
template <class T>
inline void apply_epilogue(const Epilogue<T>& ep, Mat<T> C, index_t i0, index_t i1,
                           index_t j0, index_t j1) {
    for (index_t i = i0; i < i1; ++i) {
        for (index_t j = j0; j < j1; ++j) {
            T c = C(i, j);
            if (ep.bias) c += ep.bias[j];
            if (ep.dact_x.p)
                c *= act_derivative<T>(ep.dact, ep.dact_x(i, j),
                                       ep.dact_y.p ? ep.dact_y(i, j) : T(0));
            C(i, j) = c;
            if (ep.act_out.p) ep.act_out(i, j) = act_value<T>(ep.act, c);
        }
    }
}

// colsum_b[j] += sum_k B(k, j) for cols [j0, j1), k ascending.
template <class T>
inline void add_colsum(T* colsum, CMat<T> B, index_t K, index_t j0, index_t j1) {
    for (index_t j = j0; j < j1; ++j) {
        T s = T(0);
        for (index_t k = 0; k < K; ++k) s += B(k, j);
        colsum[j] += s;
    }
}

}  // namespace fastmlp
