#include "fastmlp/linear.h"

#include <algorithm>
#include <string>

#include "fastmlp/gemm/epilogue_block.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/parallel.h"

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

void check_csr(const index_t* indptr, const index_t* indices, index_t rows, index_t cols,
               index_t stored, const char* name) {
    auto fail = [&](const std::string& what) {
        throw std::invalid_argument(std::string(name) + ": " + what);
    };
    if (indptr[0] != 0) fail("CSR indptr must start at 0");
    std::uint32_t down = 0;
    for (index_t r = 0; r < rows; ++r) down |= std::uint32_t(indptr[r + 1] < indptr[r]);
    if (down) fail("CSR indptr must not decrease");
    const index_t nnz = indptr[rows];
    if (nnz > stored)
        fail("CSR indptr ends at " + std::to_string(nnz) + " but only " + std::to_string(stored) +
             " values are stored");
    // Unsigned, so a negative index fails the same test.
    std::uint32_t bad = 0;
    for (index_t k = 0; k < nnz; ++k)
        bad |= std::uint32_t(std::uint64_t(indices[k]) >= std::uint64_t(cols));
    if (bad) fail("a column index lies outside [0, " + std::to_string(cols) + ")");
}

template <class T>
void linear_forward_csr(T* y, T* pre, Csr<T> x, const T* w, const T* b, index_t n, index_t out,
                        const ActSpec* act) {
    if (act) check_act(*act);  // here: an exception may not leave the parallel region
    Epilogue<T> ep;
    ep.bias = b;
    T* c = y;
    if (act) {
        ep.act = *act;
        ep.act_out = rowmajor(y, out);
        c = pre;
    }
    const bool epilogue = has_block_epilogue(&ep);
    // Rows per epilogue call, still in cache. Rows are independent: any split
    // over threads gives the same bits.
    constexpr index_t kRows = 16;
    const double flops = 2.0 * double(x.indptr[n] - x.indptr[0]) * double(out);
    const int nt = int(std::min<index_t>(threads_for_flops(flops), (n + kRows - 1) / kRows));
    parallel(nt, [&](int t) {
        const index_t i1 = split_point(n, kRows, nt, t + 1);
        for (index_t i0 = split_point(n, kRows, nt, t); i0 < i1; i0 += kRows) {
            const index_t m = std::min(kRows, i1 - i0);
            for (index_t i = i0; i < i0 + m; ++i) {
                // Whole rows of w at a time: w seldom fits in L2, and sums kept in
                // registers over parts of the rows measured 2.5x slower.
                T* ci = c + i * out;
                std::fill(ci, ci + out, T(0));
                for (index_t k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
                    const T v = x.data[k];
                    const T* wk = w + x.indices[k] * out;
                    for (index_t j = 0; j < out; ++j) ci[j] += v * wk[j];
                }
            }
            if (epilogue) epilogue_block(ep, rowmajor(c, out), i0, i0 + m, 0, out);
        }
    });
}

template <class T>
void linear_backward_csr(T* dw, T* db, const T* g, Csr<T> x, index_t n, index_t in, index_t out,
                         bool accumulate) {
    if (db) {
        if (!accumulate) std::fill(db, db + out, T(0));
        colsum_block(db, rowmajor(g, out), n, 0, out);
    }
    if (!dw) return;
    // Thread t owns rows [k0, k1) of dw: it clears them (unless accumulating), then
    // walks all rows of x in order and adds the terms that land in its rows. So
    // dw(k, j) adds the same terms in the same order for any thread count, and
    // threads share no cache line but at the edges of their parts.
    const double flops = 2.0 * double(x.indptr[n] - x.indptr[0]) * double(out);
    const int nt = int(std::min<index_t>(threads_for_flops(flops), in));
    parallel(nt, [&](int t) {
        const index_t k0 = split_point(in, 1, nt, t), k1 = split_point(in, 1, nt, t + 1);
        if (!accumulate) std::fill(dw + k0 * out, dw + k1 * out, T(0));
        for (index_t i = 0; i < n; ++i) {
            const T* gi = g + i * out;
            for (index_t k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
                const index_t c = x.indices[k];
                if (c < k0 || c >= k1) continue;
                const T v = x.data[k];
                T* dwc = dw + c * out;
                for (index_t j = 0; j < out; ++j) dwc[j] += v * gi[j];
            }
        }
    });
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
template void linear_forward_csr<float>(float*, float*, Csr<float>, const float*, const float*,
                                        index_t, index_t, const ActSpec*);
template void linear_forward_csr<double>(double*, double*, Csr<double>, const double*,
                                         const double*, index_t, index_t, const ActSpec*);
template void linear_backward_csr<float>(float*, float*, const float*, Csr<float>, index_t,
                                         index_t, index_t, bool);
template void linear_backward_csr<double>(double*, double*, const double*, Csr<double>, index_t,
                                          index_t, index_t, bool);

}  // namespace fastmlp
