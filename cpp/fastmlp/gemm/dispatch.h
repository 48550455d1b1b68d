// Run-time choice of the GEMM micro-kernels from CPU features and FASTMLP_ISA.
#pragma once
#include "fastmlp/gemm/ukernel.h"

namespace fastmlp {

// The kernels in use; chosen on first call from FASTMLP_ISA or the CPU.
const GemmKernels& gemm_kernels();

// The kernels in use for T.
template <class T>
const GemmUkernel<T>& ukernel();
template <>
inline const GemmUkernel<float>& ukernel<float>() { return gemm_kernels().f32; }
template <>
inline const GemmUkernel<double>& ukernel<double>() { return gemm_kernels().f64; }

// Re-selects the kernels: request is "portable", "avx2", "avx512", "neon", or nullptr /
// "" for the best the CPU supports. A request the CPU or the build cannot honour
// falls back to the best supported ISA with a warning on stderr. Returns the
// name chosen (also what gemm_isa() reports afterwards).
const char* gemm_select_isa(const char* request);

// Whether the named kernel set was built in and this CPU can run it.
bool gemm_isa_runnable(const char* name);

}  // namespace fastmlp
