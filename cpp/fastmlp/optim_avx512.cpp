// The optimizer loops compiled for avx512 (this file alone gets its flags).
#include "fastmlp/optim.h"

#if defined(__AVX512F__)
#include "fastmlp/optim_loops.h"

namespace fastmlp {
const OptimLoops* optim_loops_avx512() { return &kLoops; }
}  // namespace fastmlp

#else

namespace fastmlp {
const OptimLoops* optim_loops_avx512() { return nullptr; }
}  // namespace fastmlp

#endif
