// The optimizer loops compiled for avx2 (this file alone gets its flags).
#include "fastmlp/optim.h"

#if defined(__AVX2__)
#include "fastmlp/optim_loops.h"

namespace fastmlp {
const OptimLoops* optim_loops_avx2() { return &kLoops; }
}  // namespace fastmlp

#else

namespace fastmlp {
const OptimLoops* optim_loops_avx2() { return nullptr; }
}  // namespace fastmlp

#endif
