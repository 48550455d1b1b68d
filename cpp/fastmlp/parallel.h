// How the core's kernels split work over threads (the GEMM driver, the sparse
// Linear, the optimizer): how many threads a product gets, contiguous parts of
// a range, and the parallel region itself. Callers give each thread whole
// outputs, never part of a sum, so results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <type_traits>

#include "fastmlp/common.h"

namespace fastmlp {

// Threads for a product of `flops` floating-point operations: one below
// kParallelMinFlops, else one per kParallelMinFlops / 2, up to num_threads().
// The split pays once each half saves more than a region costs (~1-2 us with
// the pool's workers spinning; bench_parallel). Measured on a 2-core Xeon
// (Sapphire Rapids, AVX-512), whole training steps at 1 and 2 threads
// (bench/run.py grid): see bench/README.md.
constexpr double kParallelMinFlops = 1.0e6;
inline int threads_for_flops(double flops) {
    if (flops < kParallelMinFlops) return 1;
    return std::max(1, std::min<int>(num_threads(), int(flops / (kParallelMinFlops / 2))));
}

// Start of part p of [0, total) cut into `parts` pieces aligned to `unit`.
inline index_t split_point(index_t total, index_t unit, int parts, int p) {
    const index_t units = (total + unit - 1) / unit;
    return std::min(total, units * p / parts * unit);
}

// Runs task(ctx, t) for t in [0, nt): t = 0 on the calling thread, the rest on
// the calling thread's own pool of workers (threads.cpp). Returns when all are done.
using ParallelTask = void (*)(void* ctx, int t);
void run_parallel(int nt, ParallelTask task, void* ctx);

// Runs body(t) for t in [0, nt) on nt threads. body must not throw.
template <class F>
void parallel(int nt, F&& body) {
    if (nt <= 1) {
        body(0);
        return;
    }
    using Body = std::remove_reference_t<F>;
    run_parallel(nt, [](void* ctx, int t) { (*static_cast<Body*>(ctx))(t); },
                 const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace fastmlp
