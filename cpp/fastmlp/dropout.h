// Dropout: keeps an element with probability 1 - p and scales it by 1 / (1 - p).
// Masks come from a counter-based PRNG, so element i of draw `stream` never
// depends on thread count or on what was drawn before.
#pragma once
#include <cstdint>

#include "fastmlp/common.h"

namespace fastmlp {

// y[n] = mask(seed, stream)[n] * x[n] / (1 - p); y may alias x.
template <class T>
void dropout_forward(T* y, const T* x, index_t n, double p, std::uint64_t seed,
                     std::uint64_t stream);

// gx[n] = the same mask applied to gy[n]; gx may alias gy.
template <class T>
void dropout_backward(T* gx, const T* gy, index_t n, double p, std::uint64_t seed,
                      std::uint64_t stream) {
    dropout_forward(gx, gy, n, p, seed, stream);
}

}  // namespace fastmlp
