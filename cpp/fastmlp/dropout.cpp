#include "fastmlp/dropout.h"

#include "fastmlp/rng.h"

namespace fastmlp {

template <class T>
void dropout_forward(T* y, const T* x, index_t n, double p, std::uint64_t seed,
                     std::uint64_t stream) {
    const T scale = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
    for (index_t i = 0; i < n; ++i)
        y[i] = uniform_at(seed, stream, std::uint64_t(i)) >= p ? x[i] * scale : T(0);
}

template void dropout_forward<float>(float*, const float*, index_t, double, std::uint64_t,
                                     std::uint64_t);
template void dropout_forward<double>(double*, const double*, index_t, double, std::uint64_t,
                                      std::uint64_t);

}  // namespace fastmlp
