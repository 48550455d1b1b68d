// How the core's kernels split work over threads (the GEMM driver and the sparse
// Linear): how many threads a product gets, contiguous parts of a range, and the
// parallel region itself. Callers give each thread whole outputs, never part of
// a sum, so results do not depend on the thread count.
#pragma once
#include <algorithm>

#include "fastmlp/common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastmlp {

// Threads for a product of `flops` floating-point operations. Below 1 MFLOP one
// thread is faster than waking the others (2 threads broke even at ~0.5 MFLOP
// and gave 1.5x at 1 MFLOP in the GEMM); above it every thread gets at least half of it.
inline int threads_for_flops(double flops) {
    constexpr double kParallelMinFlops = 1.0e6;
    if (flops < kParallelMinFlops) return 1;
    return std::max(1, std::min<int>(num_threads(), int(flops / (kParallelMinFlops / 2))));
}

// Start of part p of [0, total) cut into `parts` pieces aligned to `unit`.
inline index_t split_point(index_t total, index_t unit, int parts, int p) {
    const index_t units = (total + unit - 1) / unit;
    return std::min(total, units * p / parts * unit);
}

// Runs body(t) for t in [0, nt) on nt threads.
template <class F>
void parallel(int nt, F&& body) {
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        body(omp_get_thread_num());
        return;
    }
#endif
    for (int t = 0; t < nt; ++t) body(t);
}

}  // namespace fastmlp
