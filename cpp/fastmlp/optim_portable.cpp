// The optimizer loops compiled for the baseline ISA.
#include "fastmlp/optim.h"
#include "fastmlp/optim_loops.h"

namespace fastmlp {
const OptimLoops* optim_loops_portable() { return &kLoops; }
}  // namespace fastmlp
