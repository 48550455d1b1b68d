#include "fastmlp/optim.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "fastmlp/parallel.h"

namespace fastmlp {

void check_opt(const OptSpec& s) {
    switch (s.kind) {
        case OptKind::sgd:
        case OptKind::adam:
        case OptKind::adamw:
        case OptKind::rmsprop: return;
    }
    throw std::invalid_argument("unknown optimizer kind " + std::to_string(int(s.kind)));
}

int optim_state_count(const OptSpec& s) {
    check_opt(s);
    switch (s.kind) {
        case OptKind::sgd: return s.momentum != 0.0 ? 1 : 0;
        case OptKind::adam:
        case OptKind::adamw: return s.amsgrad ? 3 : 2;
        case OptKind::rmsprop: return 3;
    }
    return 0;
}

namespace {

// Each update is one branch-free loop over restrict pointers, so it vectorises;
// the options are template flags chosen once per call. Every loop returns
// whether some gradient or new weight is NaN/Inf.

template <class T, bool kDecay, bool kMomentum, bool kNesterov>
std::uint32_t sgd(const OptSpec& s, bool first, T* __restrict p, const T* __restrict g,
                  T* __restrict buf, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), mom = T(s.momentum),
            damp = first ? T(1) : T(1.0 - s.dampening), keep = first ? T(0) : mom;
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T d = g[i];
        bad |= nonfinite(d);
        if (kDecay) d += wd * p[i];
        if (kMomentum) {
            // torch starts the buffer at the first gradient: keep = 0, damp = 1 then.
            const T b = keep * buf[i] + damp * d;
            buf[i] = b;
            d = kNesterov ? d + mom * b : b;
        }
        const T np = p[i] - lr * d;
        bad |= nonfinite(np);
        p[i] = np;
    }
    return bad;
}

template <class T, bool kDecoupled, bool kDecay, bool kAmsgrad>
std::uint32_t adam(const OptSpec& s, std::int64_t step, T* __restrict p, const T* __restrict g,
                   T* __restrict m, T* __restrict v, T* __restrict vmax, index_t n) {
    const T b1 = T(s.beta1), b2 = T(s.beta2), eps = T(s.eps), wd = T(s.weight_decay);
    const T step_size = T(s.lr / (1.0 - std::pow(s.beta1, double(step))));
    const T bc2_sqrt = T(std::sqrt(1.0 - std::pow(s.beta2, double(step))));
    const T decay = T(1) - T(s.lr) * wd;
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i], pi = p[i];
        bad |= nonfinite(gi);
        if (kDecoupled) pi *= decay;
        if (kDecay) gi += wd * pi;
        const T mi = m[i] + (gi - m[i]) * (T(1) - b1);
        const T vi = v[i] * b2 + (T(1) - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T vhat = vi;
        if (kAmsgrad) vhat = vmax[i] = vmax[i] < vi ? vi : vmax[i];
        const T np = pi - step_size * (mi / (std::sqrt(vhat) / bc2_sqrt + eps));
        bad |= nonfinite(np);
        p[i] = np;
    }
    return bad;
}

template <class T, bool kDecay, bool kCentered, bool kMomentum>
std::uint32_t rmsprop(const OptSpec& s, T* __restrict p, const T* __restrict g, T* __restrict sq,
                      T* __restrict buf, T* __restrict gavg, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), a = T(s.alpha), eps = T(s.eps),
            mom = T(s.momentum);
    std::uint32_t bad = 0;
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i];
        bad |= nonfinite(gi);
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
        bad |= nonfinite(np);
        p[i] = np;
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

}  // namespace

template <class T>
bool optim_update(const OptSpec& s, std::int64_t step, T* p, const T* g, T* const* st,
                  index_t n) {
    check_opt(s);
    std::uint32_t bad = 0;
    switch (s.kind) {
        case OptKind::sgd:
            bad = with_flags(
                [&](auto decay, auto mom, auto nest) {
                    return sgd<T, decay, mom, nest>(s, step == 1, p, g, mom ? st[0] : nullptr, n);
                },
                s.weight_decay != 0.0, s.momentum != 0.0, s.nesterov);
            break;
        case OptKind::adam:
        case OptKind::adamw:
            bad = with_flags(
                [&](auto decoupled, auto decay, auto ams) {
                    return adam<T, decoupled, decay, ams>(s, step, p, g, st[0], st[1],
                                                          ams ? st[2] : nullptr, n);
                },
                s.kind == OptKind::adamw, s.kind == OptKind::adam && s.weight_decay != 0.0,
                s.amsgrad);
            break;
        case OptKind::rmsprop:
            bad = with_flags(
                [&](auto decay, auto centered, auto mom) {
                    return rmsprop<T, decay, centered, mom>(s, p, g, st[0], st[1], st[2], n);
                },
                s.weight_decay != 0.0, s.centered, s.momentum > 0.0);
            break;
    }
    return bad == 0;
}

template <class T>
bool Optimizer<T>::step() {
    check_opt(spec);  // here, not in the threads: an exception may not leave a parallel region
    ++step_count;
    // Updates are elementwise, so fixed chunks can go to any thread without
    // changing a bit; big models spread them over the threads.
    constexpr index_t kChunk = 1 << 15;
    std::int64_t chunks = 0;
    for (const auto& sp : spans) chunks += (sp.n + kChunk - 1) / kChunk;
    const int nt = int(std::min<std::int64_t>(num_threads(), chunks));
    std::atomic<std::uint32_t> bad{0};
    parallel(nt, [&](int t) {
        std::uint32_t bad_here = 0;
        for (std::int64_t c = chunks * t / nt, end = chunks * (t + 1) / nt; c < end; ++c) {
            // Chunk c: walk the spans (few) to its span and offset.
            std::int64_t left = c;
            const ParamSpan<T>* sp = spans.data();
            while (left >= (sp->n + kChunk - 1) / kChunk) left -= (sp++->n + kChunk - 1) / kChunk;
            const index_t begin = left * kChunk, end_i = std::min(sp->n, begin + kChunk);
            T* shifted[3] = {nullptr, nullptr, nullptr};
            for (size_t k = 0; k < state.size(); ++k)
                shifted[k] = state[k] + sp->state_offset + begin;
            bad_here |= !optim_update(spec, step_count, sp->data + begin, sp->grad + begin,
                                      shifted, end_i - begin);
        }
        bad.fetch_or(bad_here, std::memory_order_relaxed);
    });
    return bad.load() == 0;
}

template <class T>
void Optimizer<T>::zero_grad() {
    for (const auto& sp : spans) std::fill(sp.grad, sp.grad + sp.n, T(0));
}

template <class T>
double grad_norm(const std::vector<ParamSpan<T>>& spans) {
    double s = 0.0;
    for (const auto& sp : spans)
        for (index_t i = 0; i < sp.n; ++i) s += double(sp.grad[i]) * double(sp.grad[i]);
    return std::sqrt(s);
}

template bool optim_update<float>(const OptSpec&, std::int64_t, float*, const float*,
                                  float* const*, index_t);
template bool optim_update<double>(const OptSpec&, std::int64_t, double*, const double*,
                                   double* const*, index_t);
template struct Optimizer<float>;
template struct Optimizer<double>;
template double grad_norm<float>(const std::vector<ParamSpan<float>>&);
template double grad_norm<double>(const std::vector<ParamSpan<double>>&);

}  // namespace fastmlp
