#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "fastmlp/common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastmlp {

namespace {

int initial_threads() {
    if (const char* env = std::getenv("FASTMLP_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

std::atomic<int> g_threads{initial_threads()};

}  // namespace

int num_threads() {
#ifdef _OPENMP
    return g_threads.load(std::memory_order_relaxed);
#else
    return 1;
#endif
}

void set_num_threads(int n) { g_threads.store(std::max(1, n), std::memory_order_relaxed); }

bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

}  // namespace fastmlp
