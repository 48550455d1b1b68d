// The core's PRNG gives the same streams with every compiler: the 32-bit-limb
// 128-bit product (used where the compiler has no wide type or intrinsic)
// matches the one in use here, and Rng::below reproduces values recorded with
// GCC's unsigned __int128. Built with -DFASTMLP_CPP_TESTS=ON, run by ctest.
#include <cstdint>
#include <cstdio>

#include "fastmlp/rng.h"

using namespace fastmlp;

int main() {
    int failures = 0, checks = 0;
    const std::uint64_t edges[] = {0, 1, 2, 0xFFFFFFFFull, 0x100000000ull, 0x8000000000000000ull,
                                   0xFFFFFFFFFFFFFFFFull, 0x9E3779B97F4A7C15ull};
    std::uint64_t x = 1;
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t a = i < 64 ? edges[i % 8] : splitmix64(x++);
        const std::uint64_t b = i < 64 ? edges[i / 8] : splitmix64(x++) >> (i % 64);
        std::uint64_t lo_wide, lo_limbs;
        const std::uint64_t hi_wide = mul_wide(a, b, &lo_wide);
        const std::uint64_t hi_limbs = mul_wide_limbs(a, b, &lo_limbs);
        ++checks;
        if ((hi_wide != hi_limbs || lo_wide != lo_limbs) && failures++ < 10)
            std::printf("MISMATCH %llx * %llx\n", (unsigned long long)a, (unsigned long long)b);
    }
    Rng rng(42);
    const std::uint64_t bounds[] = {1, 2, 3, 10, 1000, 1ull << 32, (1ull << 63) + 12345, ~0ull};
    const std::uint64_t want[] = {0, 0, 1, 0, 868, 938043164ull, 7384525663493897837ull,
                                  6270620877612482004ull};
    for (int i = 0; i < 8; ++i) {
        ++checks;
        const std::uint64_t got = rng.below(bounds[i]);
        if (got != want[i] && failures++ < 10)
            std::printf("Rng(42) draw %d below %llu: %llu, want %llu\n", i,
                        (unsigned long long)bounds[i], (unsigned long long)got,
                        (unsigned long long)want[i]);
    }
    std::printf("%s: %d checks, %d failures\n", failures ? "FAILED" : "OK", checks, failures);
    return failures ? 1 : 0;
}
