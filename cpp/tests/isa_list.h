// Which GEMM kernel sets a C++ test runs: only FASTMLP_ISA when it is set (so
// ctest can force each one; a forced ISA that cannot run fails the test), else
// every set this CPU runs, asked of the CPU directly rather than of the
// dispatcher under test, so that a set missing from the build fails too.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastmlp/gemm/dispatch.h"

inline std::vector<const char*> isas_to_test() {
    const char* forced = std::getenv("FASTMLP_ISA");
    if (forced && *forced) return {forced};
    std::vector<const char*> isas{"portable"};
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    // Like the dispatcher's probe, these also check that the OS saves the registers.
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.push_back("avx2");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) isas.push_back("avx512");
#elif defined(__aarch64__) || defined(_M_ARM64)
    isas.push_back("neon");  // mandatory on aarch64
#else
    // No independent probe here (MSVC): whatever the dispatcher reports.
    for (const char* isa : {"avx2", "avx512"})
        if (fastmlp::gemm_isa_runnable(isa)) isas.push_back(isa);
#endif
    return isas;
}

// Makes isa the kernels in use; false, with a message, if it cannot run here.
inline bool use_isa(const char* isa) {
    if (std::strcmp(fastmlp::gemm_select_isa(isa), isa) == 0) return true;
    std::printf("FAILED: the %s kernels cannot run here (not in this build?)\n", isa);
    return false;
}
