#include "fastmlp/loss.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fastmlp {

namespace {

// Elementwise losses: returns l(p, y) and stores dl/dp in *g.
template <class T>
inline double pointwise(const LossSpec& s, T p, T y, T* g) {
    const T diff = p - y;
    switch (s.kind) {
        case LossKind::mse:
            *g = T(2) * diff;
            return double(diff) * double(diff);
        case LossKind::l1:
            *g = diff > T(0) ? T(1) : (diff < T(0) ? T(-1) : T(0));
            return std::abs(double(diff));
        case LossKind::huber: {
            const T delta = T(s.delta);
            const double ad = std::abs(double(diff));
            if (ad < s.delta) {
                *g = diff;
                return 0.5 * double(diff) * double(diff);
            }
            *g = diff > T(0) ? delta : -delta;
            return s.delta * (ad - 0.5 * s.delta);
        }
        case LossKind::bce_with_logits: {
            // max(p, 0) - p * y + log1p(exp(-|p|)): stable for any logit.
            const double pd = p, yd = y;
            *g = T(1) / (T(1) + std::exp(-p)) - y;
            return std::max(pd, 0.0) - pd * yd + std::log1p(std::exp(-std::abs(pd)));
        }
        case LossKind::poisson_nll: {
            const double e = std::exp(double(p));
            *g = T(e) - y;
            return e - double(y) * double(p);
        }
        case LossKind::cross_entropy: break;
    }
    *g = T(0);
    return 0.0;
}

// log(sum(exp(row))) shifted by the row maximum.
template <class T>
double row_logsumexp(const T* row, index_t d) {
    T mx = row[0];
    for (index_t j = 1; j < d; ++j) mx = row[j] > mx ? row[j] : mx;
    double se = 0.0;
    for (index_t j = 0; j < d; ++j) se += std::exp(double(row[j] - mx));
    return double(mx) + std::log(se);
}

template <class T>
double cross_entropy(const T* z, const std::int64_t* labels, const T* w, index_t n, index_t d,
                     T* grad, T unit_scale) {
    double total = 0.0;
    for (index_t i = 0; i < n; ++i) {
        const T* row = z + i * d;
        const T scale = w ? unit_scale * w[i] : unit_scale;
        const std::int64_t c = labels[i];
        if (c < 0 || c >= d)  // (not require(): its message would be built for every row)
            throw std::invalid_argument("cross_entropy: label " + std::to_string(c) +
                                        " out of range [0, " + std::to_string(d) + ")");
        const double lse = row_logsumexp(row, d);
        total += (lse - double(row[c])) * (w ? double(w[i]) : 1.0);
        if (grad) {
            T* g = grad + i * d;
            for (index_t j = 0; j < d; ++j)
                g[j] = T(std::exp(double(row[j]) - lse)) * scale;
            g[c] -= scale;
        }
    }
    return total;
}

// Unweighted MSE over count values as one flat loop: lane l of W double sums
// takes elements l, l + W, ... and the lanes are added in a fixed order, so the
// loop vectorises (a single double sum would be one serial chain).
template <class T>
double mse_sum(const T* p, const T* y, index_t count, T* grad, T scale) {
    constexpr int W = 4;
    double lane[W] = {};
    index_t i = 0;
    for (; i + W <= count; i += W)
        for (int l = 0; l < W; ++l) {
            const T diff = p[i + l] - y[i + l];
            if (grad) grad[i + l] = T(2) * diff * scale;
            lane[l] += double(diff) * double(diff);
        }
    double total = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; i < count; ++i) {
        const T diff = p[i] - y[i];
        if (grad) grad[i] = T(2) * diff * scale;
        total += double(diff) * double(diff);
    }
    return total;
}

}  // namespace

void check_loss(const LossSpec& s) {
    switch (s.kind) {
        case LossKind::mse:
        case LossKind::l1:
        case LossKind::bce_with_logits:
        case LossKind::cross_entropy:
        case LossKind::poisson_nll: return;
        case LossKind::huber:
            require(s.delta > 0.0, "huber loss: delta must be positive");
            return;
    }
    throw std::invalid_argument("unknown loss kind " + std::to_string(int(s.kind)));
}

template <class T>
double loss_denominator(const LossSpec& spec, Targets<T> t, index_t n, index_t d) {
    if (!spec.mean) return 1.0;
    double weight = double(n);
    if (t.w) {
        weight = 0.0;
        for (index_t i = 0; i < n; ++i) weight += double(t.w[i]);
    }
    // A batch whose weights are all zero contributes nothing (not 0/0).
    if (weight <= 0.0) return 1.0;
    return weight * double(spec.kind == LossKind::cross_entropy ? 1 : d);
}

template <class T>
double loss_forward(const LossSpec& spec, const T* pred, Targets<T> t, index_t n, index_t d,
                    T* grad) {
    check_loss(spec);
    if (n <= 0 || d <= 0) throw std::invalid_argument("loss: empty input");
    const double denom = loss_denominator(spec, t, n, d);
    const T scale = T(1.0 / denom);
    if (spec.kind == LossKind::cross_entropy)
        return cross_entropy(pred, t.labels, t.w, n, d, grad, scale) / denom;
    if (spec.kind == LossKind::mse && !t.w)
        return mse_sum(pred, t.y, n * d, grad, scale) / denom;
    double total = 0.0;
    T g;
    for (index_t i = 0; i < n; ++i) {
        const T* p = pred + i * d;
        const T* y = t.y + i * d;
        double row = 0.0;
        const T s = t.w ? scale * t.w[i] : scale;
        for (index_t j = 0; j < d; ++j) {
            row += pointwise(spec, p[j], y[j], &g);
            if (grad) grad[i * d + j] = g * s;
        }
        total += t.w ? row * double(t.w[i]) : row;
    }
    return total / denom;
}

template <class T>
void log_softmax_forward(T* out, const T* z, index_t n, index_t d) {
    for (index_t i = 0; i < n; ++i) {
        const double lse = row_logsumexp(z + i * d, d);
        for (index_t j = 0; j < d; ++j) out[i * d + j] = T(double(z[i * d + j]) - lse);
    }
}

template double loss_denominator<float>(const LossSpec&, Targets<float>, index_t, index_t);
template double loss_denominator<double>(const LossSpec&, Targets<double>, index_t, index_t);
template void log_softmax_forward<float>(float*, const float*, index_t, index_t);
template void log_softmax_forward<double>(double*, const double*, index_t, index_t);
template double loss_forward<float>(const LossSpec&, const float*, Targets<float>, index_t,
                                    index_t, float*);
template double loss_forward<double>(const LossSpec&, const double*, Targets<double>, index_t,
                                     index_t, double*);

}  // namespace fastmlp
