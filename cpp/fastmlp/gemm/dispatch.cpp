// CPU feature detection and FASTMLP_ISA handling for the GEMM micro-kernels.
#include "fastmlp/gemm/dispatch.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fastmlp/gemm/gemm.h"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define FASTMLP_MSVC_X86 1
#endif

namespace fastmlp {

namespace {

#ifdef FASTMLP_MSVC_X86
// MSVC has no __builtin_cpu_supports: CPUID for the CPU's features, XGETBV for
// whether the OS saves the registers (XCR0 bits 1-2: XMM/YMM, 5-7: opmask/ZMM).
struct X86Features {
    bool avx2_fma = false, avx512f_fma = false;
};

X86Features probe_x86() {
    X86Features f;
    int r[4];  // eax, ebx, ecx, edx
    auto bit = [](int reg, int b) { return ((unsigned(reg) >> b) & 1u) != 0; };
    __cpuid(r, 0);
    const int max_leaf = r[0];
    __cpuid(r, 1);
    if (max_leaf < 7 || !bit(r[2], 12) || !bit(r[2], 27) || !bit(r[2], 28)) return f;  // FMA, OSXSAVE, AVX
    const unsigned long long xcr0 = _xgetbv(0);
    __cpuidex(r, 7, 0);
    f.avx2_fma = (xcr0 & 0x6) == 0x6 && bit(r[1], 5);
    f.avx512f_fma = (xcr0 & 0xE6) == 0xE6 && bit(r[1], 16);
    return f;
}

const X86Features& x86_features() {
    static const X86Features f = probe_x86();
    return f;
}
#endif

// Each probe returns the table only if it was compiled in and the CPU (and OS)
// can run it; __builtin_cpu_supports also checks the OS saves the registers.
const GemmKernels* avx512_if_supported() {
#if defined(FASTMLP_MSVC_X86)
    if (x86_features().avx512f_fma) return gemm_kernels_avx512();
#elif defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return gemm_kernels_avx512();
#endif
    return nullptr;
}

const GemmKernels* avx2_if_supported() {
#if defined(FASTMLP_MSVC_X86)
    if (x86_features().avx2_fma) return gemm_kernels_avx2();
#elif defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return gemm_kernels_avx2();
#endif
    return nullptr;
}

// NEON is mandatory on aarch64: built in means runnable.
const GemmKernels* neon_if_supported() { return gemm_kernels_neon(); }

const GemmKernels* best_supported() {
    if (const GemmKernels* k = avx512_if_supported()) return k;
    if (const GemmKernels* k = avx2_if_supported()) return k;
    if (const GemmKernels* k = neon_if_supported()) return k;
    return gemm_kernels_portable();
}

const GemmKernels* resolve(const char* request) {
    if (!request || !*request) return best_supported();
    const GemmKernels* k = nullptr;
    if (std::strcmp(request, "portable") == 0)
        k = gemm_kernels_portable();
    else if (std::strcmp(request, "avx2") == 0)
        k = avx2_if_supported();
    else if (std::strcmp(request, "avx512") == 0)
        k = avx512_if_supported();
    else if (std::strcmp(request, "neon") == 0)
        k = neon_if_supported();
    if (k) return k;
    k = best_supported();
    std::fprintf(stderr, "fastmlp: FASTMLP_ISA=%s is not available on this CPU/build; using %s\n",
                 request, k->name);
    return k;
}

// Points at one of the immutable kernel tables; never at scratch memory.
std::atomic<const GemmKernels*> g_kernels{nullptr};

}  // namespace

const GemmKernels& gemm_kernels() {
    const GemmKernels* k = g_kernels.load(std::memory_order_acquire);
    if (!k) {
        k = resolve(std::getenv("FASTMLP_ISA"));
        g_kernels.store(k, std::memory_order_release);
    }
    return *k;
}

const char* gemm_select_isa(const char* request) {
    const GemmKernels* k = resolve(request);
    g_kernels.store(k, std::memory_order_release);
    return k->name;
}

bool gemm_isa_runnable(const char* name) {
    if (std::strcmp(name, "portable") == 0) return true;
    if (std::strcmp(name, "avx2") == 0) return avx2_if_supported() != nullptr;
    if (std::strcmp(name, "avx512") == 0) return avx512_if_supported() != nullptr;
    if (std::strcmp(name, "neon") == 0) return neon_if_supported() != nullptr;
    return false;
}

const char* gemm_isa() { return gemm_kernels().name; }

}  // namespace fastmlp
