// The optimizers' update loops, compiled once per ISA (optim_portable.cpp,
// optim_avx2.cpp, optim_avx512.cpp) with FMA contraction off, so every ISA
// rounds exactly as the portable build: the wider vectors only change speed.
// Everything has internal linkage, so no ISA's copy can stand in for another's.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fastmlp/optim.h"

#if defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
#define FASTMLP_MXCSR 1
#endif

namespace fastmlp {
namespace {

// For the length of an update, subnormal inputs and results count as zero (x86
// FTZ and DAZ, Arm's FZ), then the thread's mode comes back. A gradient that
// stays zero (a dead ReLU unit, say) decays Adam's moments through the subnormal
// range, where every operation on them took 2-3x longer (Zen 3); the values
// flushed are below 1.2e-38 (2.2e-308 in double), and XLA flushes them too.
class FlushSubnormals {
public:
#if defined(FASTMLP_MXCSR)
    FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }  // FTZ, DAZ
    ~FlushSubnormals() { _mm_setcsr(saved_); }

private:
    unsigned saved_;
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    FlushSubnormals() {
        __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_) : : "memory");
        const std::uint64_t flush = saved_ | (std::uint64_t(1) << 24);  // FPCR.FZ
        __asm__ __volatile__("msr fpcr, %0" : : "r"(flush) : "memory");
    }
    ~FlushSubnormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_) : "memory"); }

private:
    std::uint64_t saved_;
#else
    FlushSubnormals() {}  // no known control register: subnormals kept
#endif
};

// 1 if x is NaN or Inf, from the exponent bits (common.h's nonfinite, kept
// local so that no copy of it is compiled for this file's ISA only).
std::uint32_t bad_bits(float x) {
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return (b & 0x7f800000u) == 0x7f800000u;
}
std::uint32_t bad_bits(double x) {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
}

// Each update is one branch-free loop over restrict pointers, so it vectorises;
// the options are template flags chosen once per call. With kMoved the new
// weights go to `to` (another array) and p is only read, else they overwrite p
// and `to` is never touched. Every loop returns whether some gradient or new
// weight is NaN/Inf.

template <class T, bool kMoved, bool kDecay, bool kMomentum, bool kNesterov>
std::uint32_t sgd(const OptSpec& s, const StepTerms& k, T* __restrict p, T* __restrict to,
                  const T* __restrict g, T* __restrict buf, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), mom = T(s.momentum),
            damp = k.first ? T(1) : T(1.0 - s.dampening), keep = k.first ? T(0) : mom;
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T d = g[i];
        bad |= bad_bits(d);
        if (kDecay) d += wd * p[i];
        if (kMomentum) {
            // torch starts the buffer at the first gradient: keep = 0, damp = 1 then.
            const T b = keep * buf[i] + damp * d;
            buf[i] = b;
            d = kNesterov ? d + mom * b : b;
        }
        const T np = p[i] - lr * d;
        bad |= bad_bits(np);
        (kMoved ? to : p)[i] = np;
    }
    return bad;
}

template <class T, bool kMoved, bool kDecoupled, bool kDecay, bool kAmsgrad>
std::uint32_t adam(const OptSpec& s, const StepTerms& k, T* __restrict p, T* __restrict to,
                   const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
                   index_t n) {
    const T b1 = T(s.beta1), b2 = T(s.beta2), eps = T(s.eps), wd = T(s.weight_decay);
    const T step_size = T(k.step_size), inv_bc2_sqrt = T(k.inv_bc2_sqrt);
    const T decay = T(1) - T(s.lr) * wd;
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i], pi = p[i];
        bad |= bad_bits(gi);
        if (kDecoupled) pi *= decay;
        if (kDecay) gi += wd * pi;
        const T mi = m[i] + (gi - m[i]) * (T(1) - b1);
        const T vi = v[i] * b2 + (T(1) - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T vhat = vi;
        if (kAmsgrad) vhat = vmax[i] = vmax[i] < vi ? vi : vmax[i];
        const T np = pi - step_size * (mi / (std::sqrt(vhat) * inv_bc2_sqrt + eps));
        bad |= bad_bits(np);
        (kMoved ? to : p)[i] = np;
    }
    return bad;
}

template <class T, bool kMoved, bool kDecay, bool kCentered, bool kMomentum>
std::uint32_t rmsprop(const OptSpec& s, T* __restrict p, T* __restrict to, const T* __restrict g,
                      T* __restrict sq, T* __restrict buf, T* __restrict gavg, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), a = T(s.alpha), eps = T(s.eps),
            mom = T(s.momentum);
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i];
        bad |= bad_bits(gi);
        if (kDecay) gi += wd * p[i];
        const T si = sq[i] * a + (T(1) - a) * gi * gi;
        sq[i] = si;
        T avg;
        if (kCentered) {
            const T ga = gavg[i] + (gi - gavg[i]) * (T(1) - a);
            gavg[i] = ga;
            avg = std::sqrt(si - ga * ga) + eps;
        } else {
            avg = std::sqrt(si) + eps;
        }
        T np;
        if (kMomentum) {
            const T b = buf[i] * mom + gi / avg;
            buf[i] = b;
            np = p[i] - lr * b;
        } else {
            np = p[i] - lr * (gi / avg);
        }
        bad |= bad_bits(np);
        (kMoved ? to : p)[i] = np;
    }
    return bad;
}

// Calls f with std::integral_constant<bool, x> for each runtime flag, so that
// every combination of options compiles to its own loop.
template <class F>
auto with_flags(F&& f) {
    return f();
}
template <class F, class... B>
auto with_flags(F&& f, bool first, B... rest) {
    return first ? with_flags([&](auto... c) { return f(std::true_type{}, c...); }, rest...)
                 : with_flags([&](auto... c) { return f(std::false_type{}, c...); }, rest...);
}

// One update of n parameters; nonzero if a gradient or new weight is NaN/Inf.
template <class T>
std::uint32_t update(const OptSpec& s, const StepTerms& k, T* p, const T* g, T* const* st,
                     index_t n, T* to) {
    const FlushSubnormals flush;
    std::uint32_t bad = 0;
    switch (s.kind) {
        case OptKind::sgd:
            bad = with_flags(
                [&](auto moved, auto decay, auto mom, auto nest) {
                    return sgd<T, moved, decay, mom, nest>(s, k, p, to, g,
                                                           mom ? st[0] : nullptr, n);
                },
                to != nullptr, s.weight_decay != 0.0, s.momentum != 0.0, s.nesterov);
            break;
        case OptKind::adam:
        case OptKind::adamw:
            bad = with_flags(
                [&](auto moved, auto decoupled, auto decay, auto ams) {
                    return adam<T, moved, decoupled, decay, ams>(s, k, p, to, g, st[0], st[1],
                                                                 ams ? st[2] : nullptr, n);
                },
                to != nullptr, s.kind == OptKind::adamw,
                s.kind == OptKind::adam && s.weight_decay != 0.0, s.amsgrad);
            break;
        case OptKind::rmsprop:
            bad = with_flags(
                [&](auto moved, auto decay, auto centered, auto mom) {
                    return rmsprop<T, moved, decay, centered, mom>(s, p, to, g, st[0], st[1],
                                                                   st[2], n);
                },
                to != nullptr, s.weight_decay != 0.0, s.centered, s.momentum > 0.0);
            break;
    }
    return bad;
}

template <class T>
void form_row(const OuterGrad<T>& o, index_t at, index_t n, T* dst) {
    while (n > 0) {
        const index_t i = at / o.cols, j = at % o.cols, len = std::min(n, o.cols - j);
        const T xi = o.x[i];
        const T* __restrict dy = o.dy + j;
        T* __restrict d = dst;
        // + 0 as the product's accumulator starts: a zero product is +0 there too.
        for (index_t c = 0; c < len; ++c) d[c] = xi * dy[c] + T(0);
        dst += len, at += len, n -= len;
    }
}

const OptimLoops kLoops = {update<float>, update<double>, form_row<float>, form_row<double>};

}  // namespace
}  // namespace fastmlp
