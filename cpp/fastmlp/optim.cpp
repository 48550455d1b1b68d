#include "optim.h"

#include <algorithm>
#include <cmath>

namespace fastmlp {

int optim_state_count(const OptSpec& s) {
    switch (s.kind) {
        case OptKind::sgd: return s.momentum != 0.0 ? 1 : 0;
        case OptKind::adam:
        case OptKind::adamw: return s.amsgrad ? 3 : 2;
        case OptKind::rmsprop: return 3;
    }
    return 0;
}

namespace {

template <class T>
void sgd(const OptSpec& s, std::int64_t step, T* p, const T* g, T* buf, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), mom = T(s.momentum),
            damp = T(1.0 - s.dampening);
    for (index_t i = 0; i < n; ++i) {
        T d = g[i];
        if (wd != T(0)) d += wd * p[i];
        if (buf) {
            buf[i] = step == 1 ? d : mom * buf[i] + damp * d;
            d = s.nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

template <class T>
void adam(const OptSpec& s, std::int64_t step, T* p, const T* g, T* m, T* v, T* vmax,
          index_t n) {
    const bool decoupled = s.kind == OptKind::adamw;
    const T lr = T(s.lr), wd = T(s.weight_decay), b1 = T(s.beta1), b2 = T(s.beta2),
            eps = T(s.eps);
    const T step_size = T(s.lr / (1.0 - std::pow(s.beta1, double(step))));
    const T bc2_sqrt = T(std::sqrt(1.0 - std::pow(s.beta2, double(step))));
    const T decay = T(1) - lr * wd;
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i];
        if (decoupled)
            p[i] *= decay;
        else if (wd != T(0))
            gi += wd * p[i];
        m[i] += (gi - m[i]) * (T(1) - b1);
        v[i] = v[i] * b2 + (T(1) - b2) * gi * gi;
        T vhat = v[i];
        if (vmax) vhat = vmax[i] = std::max(vmax[i], v[i]);
        p[i] -= step_size * m[i] / (std::sqrt(vhat) / bc2_sqrt + eps);
    }
}

template <class T>
void rmsprop(const OptSpec& s, T* p, const T* g, T* sq, T* buf, T* gavg, index_t n) {
    const T lr = T(s.lr), wd = T(s.weight_decay), a = T(s.alpha), eps = T(s.eps),
            mom = T(s.momentum);
    for (index_t i = 0; i < n; ++i) {
        T gi = g[i];
        if (wd != T(0)) gi += wd * p[i];
        sq[i] = sq[i] * a + (T(1) - a) * gi * gi;
        T avg;
        if (s.centered) {
            gavg[i] += (gi - gavg[i]) * (T(1) - a);
            avg = std::sqrt(sq[i] - gavg[i] * gavg[i]) + eps;
        } else {
            avg = std::sqrt(sq[i]) + eps;
        }
        if (mom > T(0)) {
            buf[i] = buf[i] * mom + gi / avg;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * gi / avg;
        }
    }
}

}  // namespace

template <class T>
void optim_update(const OptSpec& s, std::int64_t step, T* p, const T* g, T* const* st,
                  index_t n) {
    switch (s.kind) {
        case OptKind::sgd: sgd(s, step, p, g, s.momentum != 0.0 ? st[0] : nullptr, n); return;
        case OptKind::adam:
        case OptKind::adamw: adam(s, step, p, g, st[0], st[1], s.amsgrad ? st[2] : nullptr, n); return;
        case OptKind::rmsprop: rmsprop(s, p, g, st[0], st[1], st[2], n); return;
    }
}

template <class T>
void Optimizer<T>::step() {
    ++step_count;
    T* shifted[3];
    for (const auto& sp : spans) {
        for (size_t k = 0; k < state.size(); ++k) shifted[k] = state[k] + sp.state_offset;
        optim_update(spec, step_count, sp.data, sp.grad, shifted, sp.n);
    }
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

template void optim_update<float>(const OptSpec&, std::int64_t, float*, const float*,
                                  float* const*, index_t);
template void optim_update<double>(const OptSpec&, std::int64_t, double*, const double*,
                                   double* const*, index_t);
template struct Optimizer<float>;
template struct Optimizer<double>;
template double grad_norm<float>(const std::vector<ParamSpan<float>>&);
template double grad_norm<double>(const std::vector<ParamSpan<double>>&);

}  // namespace fastmlp
