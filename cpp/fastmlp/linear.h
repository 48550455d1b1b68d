// The fully connected layer y = act(x @ w + b), w stored (in x out) row-major:
// the one place its math lives (Net and fm.functional both call it), for dense
// x and for x in CSR (scipy.sparse) form.
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

// Rows of a CSR matrix: row i stores data[k] at column indices[k] for k in
// [indptr[i], indptr[i + 1]), columns in any order (a repeated column adds up,
// as in scipy). Offsets are absolute, so rows r, r + 1, ... are `from(r)`.
template <class T>
struct Csr {
    const index_t* indptr = nullptr;
    const index_t* indices = nullptr;
    const T* data = nullptr;
    Csr from(index_t row) const { return {indptr + row, indices, data}; }
};

// Throws std::invalid_argument (naming `name`) unless indptr (rows + 1 offsets)
// starts at 0, never decreases and ends within the `stored` values, and every
// column index those rows use lies in [0, cols): the sparse kernels then read
// only valid memory.
void check_csr(const index_t* indptr, const index_t* indices, index_t rows, index_t cols,
               index_t stored, const char* name);

// linear_forward for CSR x (n rows, in columns): each row of the product is the
// sum of its values times the rows of w they select, columns in stored order;
// bias and activation as the dense path's epilogue. Rows are split over threads.
template <class T>
void linear_forward_csr(T* y, T* pre, Csr<T> x, const T* w, const T* b, index_t n, index_t out,
                        const ActSpec* act);

// linear_backward for CSR x, without dx: dw[in x out] (+)= x^T g, each dw(k, j)
// summing over the rows in ascending order (threads own blocks of dw's rows), and
// db as the dense path.
template <class T>
void linear_backward_csr(T* dw, T* db, const T* g, Csr<T> x, index_t n, index_t in, index_t out,
                         bool accumulate);

}  // namespace fastmlp
