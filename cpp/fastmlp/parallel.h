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
// Below it the split saves less than it costs: the pool's region (~1 us with
// the workers awake, bench_parallel) plus the operands moving to the other
// core's cache. Measured on a 2-core Zen 4 (AVX-512, a KVM guest), whole steps
// of W-W-W-10 at 2 threads / 1 thread with 4 MFLOP: 256 at batch 32 (4.2 MFLOP
// products) 0.88x; with 8 MFLOP it is 1.05x, and the products of 8 MFLOP and more
// keep their gain (128 at batch 256 1.35x, 64 at batch 1024 1.40x). (On a 2-core
// Sapphire Rapids 4 MFLOP was level.)
constexpr double kParallelMinFlops = 8.0e6;
inline int threads_for_flops(double flops) {
    if (flops < kParallelMinFlops) return 1;
    // The minimum in double: flops / 4e6 of a huge product can pass INT_MAX, and
    // converting that to int would be undefined.
    return std::max(1, int(std::min(double(num_threads()), flops / (kParallelMinFlops / 2))));
}

// Operand bytes beyond which a product streams from L3 or memory (the L2 of
// current x86 cores holds 1-2 MiB): a second core then adds bandwidth, so the
// product splits even where its FLOPs alone would not pay for it (a batch-1
// step of 1024-wide layers: 4 MiB weights, 2 MFLOP products; 2 threads 1.2x
// faster on Zen 4).
constexpr double kStreamBytes = 2.0 * 1024.0 * 1024.0;
// Operands past half of such an L2 split from kPastHalfL2MinFlops: 512-wide
// weights (1 MiB) at batch 4 and 8 (2 and 4 MFLOP products), whose update
// splits too, 1.12x and 1.25x at 2 threads on Zen 4; at batch 1 (0.5 MFLOP)
// splitting them was 1.2x slower.
constexpr double kHalfL2Bytes = 1024.0 * 1024.0;
constexpr double kPastHalfL2MinFlops = 1.5e6;
inline int threads_for(double flops, double bytes) {
    const bool past_l2 =
        bytes > kStreamBytes || (bytes > kHalfL2Bytes && flops >= kPastHalfL2MinFlops);
    return threads_for_flops(past_l2 ? std::max(flops, kParallelMinFlops) : flops);
}

// Start of part p of [0, total) cut into `parts` pieces aligned to `unit`.
inline index_t split_point(index_t total, index_t unit, int parts, int p) {
    const index_t units = (total + unit - 1) / unit;
    return std::min(total, units * p / parts * unit);
}

// Runs task(ctx, t) for t in [0, nt) on the calling thread and its own pool of
// nt - 1 workers (threads.cpp), each t once, on whichever thread is free first.
// Returns when all are done.
using ParallelTask = void (*)(void* ctx, int t);
void run_parallel(int nt, ParallelTask task, void* ctx);

// How many regions so far had parts run by a worker as well as the caller: the
// tests' proof that the threaded path ran (process-wide, never reset).
long long multithreaded_regions();

// Runs body(t) for t in [0, nt) on up to nt threads. body must not throw, and
// must not care which thread runs which t (per-thread scratch is thread_local).
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
