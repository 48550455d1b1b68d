#include "fastmlp/linear.h"

#include <algorithm>

#include "fastmlp/gemm/gemm.h"

namespace fastmlp {

template <class T>
void linear_forward(T* y, T* pre, const T* x, const T* w, const T* b, index_t n, index_t in,
                    index_t out, const ActSpec* act) {
    // Bias and activation run in the GEMM's epilogue, while each tile is in cache.
    Epilogue<T> ep;
    ep.bias = b;
    T* c = y;
    if (act) {
        ep.act = *act;
        ep.act_out = rowmajor(y, out);
        c = pre;
    }
    gemm<T>(n, out, in, rowmajor(x, in), rowmajor(w, out), rowmajor(c, out), false, &ep);
}

template <class T>
void linear_backward(T* dx, T* dw, T* db, const T* g, const T* x, const T* w, index_t n,
                     index_t in, index_t out, bool accumulate, const ActGrad<T>* dact) {
    if (dw) {
        Epilogue<T> ep;
        if (db) {
            if (!accumulate) std::fill(db, db + out, T(0));
            ep.colsum_b = db;
        }
        gemm<T>(in, out, n, CMat<T>{x, 1, in}, rowmajor(g, out), rowmajor(dw, out), accumulate,
                &ep);
    }
    if (dx) {
        Epilogue<T> ep;
        if (dact) {
            ep.dact = dact->act;
            ep.dact_x = rowmajor(dact->x, in);
            ep.dact_y = rowmajor(dact->y, in);
        }
        gemm<T>(n, in, out, rowmajor(g, out), CMat<T>{w, 1, out}, rowmajor(dx, in), false,
                dact ? &ep : nullptr);
    }
}

template void linear_forward<float>(float*, float*, const float*, const float*, const float*,
                                    index_t, index_t, index_t, const ActSpec*);
template void linear_forward<double>(double*, double*, const double*, const double*,
                                     const double*, index_t, index_t, index_t, const ActSpec*);
template void linear_backward<float>(float*, float*, float*, const float*, const float*,
                                     const float*, index_t, index_t, index_t, bool,
                                     const ActGrad<float>*);
template void linear_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, index_t, index_t, index_t, bool,
                                      const ActGrad<double>*);

}  // namespace fastmlp
