// The core's own small seeded PRNG (splitmix64): same seed, same stream on
// every machine, so shuffles and dropout masks are reproducible.
#pragma once
#include <cstdint>

#if defined(_MSC_VER) && defined(_M_X64) && !defined(__SIZEOF_INT128__)
#include <intrin.h>
#endif

namespace fastmlp {

inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// a * b as 128 bits from 32-bit limbs: returns the high half, *lo the low.
inline std::uint64_t mul_wide_limbs(std::uint64_t a, std::uint64_t b, std::uint64_t* lo) {
    const std::uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    const std::uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const std::uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);  // < 3 * 2^32
    *lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// The same product with the compiler's 128-bit type or intrinsic when it has one.
inline std::uint64_t mul_wide(std::uint64_t a, std::uint64_t b, std::uint64_t* lo) {
#if defined(__SIZEOF_INT128__)
    const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
    *lo = std::uint64_t(m);
    return std::uint64_t(m >> 64);
#elif defined(_MSC_VER) && defined(_M_X64)
    std::uint64_t hi;
    *lo = _umul128(a, b, &hi);
    return hi;
#else
    return mul_wide_limbs(a, b, lo);
#endif
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
            std::uint64_t low;
            const std::uint64_t high = mul_wide(next(), bound, &low);
            // 2^64 mod bound, spelled 0 - bound: MSVC warns on minus of an unsigned
            if (low >= bound || low >= (0 - bound) % bound) return high;
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
