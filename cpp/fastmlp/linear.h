// The fully connected layer y = act(x @ w + b), w stored (in x out) row-major:
// the one place its math lives (Net and fm.functional both call it).
#pragma once
#include "fastmlp/common.h"

namespace fastmlp {

// The derivative an input gradient is multiplied by: f'(x, y) elementwise,
// x the activation's input and y its output (n x in, row-major; y may be null).
template <class T>
struct ActGrad {
    ActSpec act;
    const T* x;
    const T* y;
};

// y[n x out] = x[n x in] @ w + b (b may be null). With act: pre = x @ w + b and
// y = act(pre); pre may be y itself (the activation then runs in place).
template <class T>
void linear_forward(T* y, T* pre, const T* x, const T* w, const T* b, index_t n, index_t in,
                    index_t out, const ActSpec* act);

// dw[in x out] (+)= x^T g and db[out] (+)= column sums of g (accumulate: add to
// them, else overwrite; either may be null); dx[n x in] = g w^T, times dact when
// given (dx may be null).
template <class T>
void linear_backward(T* dx, T* dw, T* db, const T* g, const T* x, const T* w, index_t n,
                     index_t in, index_t out, bool accumulate, const ActGrad<T>* dact);

}  // namespace fastmlp
