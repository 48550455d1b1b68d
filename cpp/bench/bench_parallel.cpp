// What one parallel region costs: fastmlp's pool (parallel()) against an
// OpenMP fork-join, back to back and with single-threaded work between regions
// (as between the products of a training step). Run it under each
// OMP_WAIT_POLICY / GOMP_SPINCOUNT to compare OpenMP's settings:
//   OMP_WAIT_POLICY=passive ./bench_parallel;  OMP_WAIT_POLICY=active ./bench_parallel
// Prints microseconds per region beyond the work itself, medians of 7 runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "fastmlp/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double now_us() {
    return std::chrono::duration<double, std::micro>(clock_type::now().time_since_epoch()).count();
}

// Busy work for about `us` microseconds on the calling thread.
void spin_for(double us) {
    const double until = now_us() + us;
    while (now_us() < until) {
    }
}

template <class Region>
double overhead_us(Region region, double gap_us, int regions) {
    std::vector<double> runs;
    for (int r = 0; r < 7; ++r) {
        const double t0 = now_us();
        for (int i = 0; i < regions; ++i) {
            region();
            spin_for(gap_us);
        }
        runs.push_back((now_us() - t0) / regions - gap_us);
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
}

}  // namespace

int main() {
    fastmlp::set_num_threads(2);
    const double gaps[] = {0.0, 5.0, 20.0, 100.0, 300.0, 1000.0};
    volatile int sink = 0;
    // All pool rows first, then all OpenMP rows: each one's spinning workers
    // would otherwise take a core from the other.
    std::vector<double> pool, omp;
    for (double gap : gaps)
        pool.push_back(overhead_us(
            [&] { fastmlp::parallel(2, [&](int t) { sink = sink + t; }); }, gap,
            gap >= 300 ? 300 : 3000));
#ifdef _OPENMP
    for (double gap : gaps)
        omp.push_back(overhead_us(
            [&] {
#pragma omp parallel num_threads(2)
                sink = sink + omp_get_thread_num();
            },
            gap, gap >= 300 ? 300 : 3000));
#endif
    std::printf("gap (us)   pool (us/region)   OpenMP (us/region)\n");
    for (size_t i = 0; i < pool.size(); ++i) {
        if (omp.empty())
            std::printf("%8.0f   %16.2f   %18s\n", gaps[i], pool[i], "(no OpenMP)");
        else
            std::printf("%8.0f   %16.2f   %18.2f\n", gaps[i], pool[i], omp[i]);
    }
}
