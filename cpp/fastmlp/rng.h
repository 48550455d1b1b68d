// The core's own small seeded PRNG (splitmix64): same seed, same stream on
// every machine, so shuffles and dropout masks are reproducible.
#pragma once
#include <cstdint>

namespace fastmlp {

inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

struct Rng {
    std::uint64_t state;
    explicit Rng(std::uint64_t seed) : state(seed) {}
    std::uint64_t next() {
        state += 0x9E3779B97F4A7C15ull;
        return splitmix64(state);
    }
    // Uniform integer in [0, bound) without modulo bias (Lemire's method).
    std::uint64_t below(std::uint64_t bound) {
        while (true) {
            const unsigned __int128 m = (unsigned __int128)next() * bound;
            const std::uint64_t low = std::uint64_t(m);
            if (low >= bound || low >= (-bound) % bound) return std::uint64_t(m >> 64);
        }
    }
};

// Uniform in [0, 1) from a counter: element i of draw `stream` never depends
// on thread count or on how many elements came before.
inline double uniform_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
    const std::uint64_t h = splitmix64(splitmix64(seed ^ splitmix64(stream)) + i);
    return double(h >> 11) * 0x1.0p-53;
}

}  // namespace fastmlp
