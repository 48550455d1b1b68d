// Which GEMM kernel sets a C++ test runs: only FASTMLP_ISA when it is set (so
// ctest can force each one; a forced ISA that cannot run fails the test), else
// every set this CPU and build run.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastmlp/gemm/dispatch.h"

inline std::vector<const char*> isas_to_test() {
    const char* forced = std::getenv("FASTMLP_ISA");
    if (forced && *forced) return {forced};
    std::vector<const char*> isas;
    for (const char* isa : {"portable", "avx2", "avx512", "neon"})
        if (fastmlp::gemm_isa_runnable(isa)) isas.push_back(isa);
    return isas;
}

// Makes isa the kernels in use; false, with a message, if it cannot run here.
inline bool use_isa(const char* isa) {
    if (std::strcmp(fastmlp::gemm_select_isa(isa), isa) == 0) return true;
    std::printf("FAILED: FASTMLP_ISA=%s cannot run here\n", isa);
    return false;
}
