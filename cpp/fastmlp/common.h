// Shared types of the fastmlp core. No Python headers anywhere under cpp/fastmlp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

// SSE2 is part of baseline x86-64 (MSVC says so with _M_X64, not __SSE2__):
// portable code may use its intrinsics (<emmintrin.h>) where this is defined.
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define FASTMLP_SSE2 1
#endif

namespace fastmlp {

using index_t = std::int64_t;

// Read-only strided matrix: element (i, j) is p[i * rs + j * cs].
// Transposes and Fortran order are just other strides, never copies.
template <class T>
struct CMat {
    const T* p;
    index_t rs, cs;
    const T& operator()(index_t i, index_t j) const { return p[i * rs + j * cs]; }
    CMat t() const { return {p, cs, rs}; }
};

// Writable strided matrix.
template <class T>
struct Mat {
    T* p;
    index_t rs, cs;
    T& operator()(index_t i, index_t j) const { return p[i * rs + j * cs]; }
    operator CMat<T>() const { return {p, rs, cs}; }
};

// Row-major contiguous helpers.
template <class T>
CMat<T> rowmajor(const T* p, index_t cols) { return {p, cols, 1}; }
template <class T>
Mat<T> rowmajor(T* p, index_t cols) { return {p, cols, 1}; }

// Elementwise activations. Parameters: a = negative slope (leaky_relu) or
// beta (softplus); b = threshold (softplus).
enum class Act : int {
    identity = 0,
    relu = 1,
    leaky_relu = 2,
    tanh = 3,
    sigmoid = 4,
    gelu = 5,       // exact erf form
    gelu_tanh = 6,  // tanh approximation
    silu = 7,
    softplus = 8,
};

struct ActSpec {
    Act kind = Act::identity;
    double a = 0.0;
    double b = 0.0;
};

// Throws std::invalid_argument unless s.kind is one of the kinds above: enum
// values can arrive from Python as any integer.
void check_act(const ActSpec& s);

// A literal message is only turned into a string when the check fails, so
// checks on hot paths cost no allocation.
inline void require(bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(what);
}
inline void require(bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
}

// 1 if x is NaN or Inf, else 0, from the exponent bits: OR-reductions of this
// vectorise, where a floating-point test in a loop would not under strict IEEE flags.
inline std::uint32_t nonfinite(float x) {
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return (b & 0x7f800000u) == 0x7f800000u;
}
inline std::uint32_t nonfinite(double x) {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
}

template <class T>
bool all_finite(const T* p, index_t n) {
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) bad |= nonfinite(p[i]);
    return bad == 0;
}

// v[i] *= c for the n values.
template <class T>
void scale(T* v, index_t n, T c) {
    for (index_t i = 0; i < n; ++i) v[i] *= c;
}

// Thread count used by the core's parallel regions (1 when built without OpenMP).
int num_threads();
void set_num_threads(int n);
bool openmp_enabled();

}  // namespace fastmlp

namespace fastmlp {

// A loss, gradient or weight became NaN/Inf during training (FloatingPointError in Python).
struct NonFiniteError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Protocol misuse such as backward before forward (RuntimeError in Python).
struct ProtocolError : std::logic_error {
    using std::logic_error::logic_error;
};

}  // namespace fastmlp
