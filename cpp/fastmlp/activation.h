// Elementwise activations: scalar forms (shared by the GEMM epilogue and the
// layer kernels) and the layer forward/backward over whole arrays.
#pragma once
#include <cmath>

#include "fastmlp/common.h"

namespace fastmlp {

// f(x); T is float or double. Formulas follow torch.nn.
template <class T>
inline T act_value(const ActSpec& s, T x) {
    switch (s.kind) {
        case Act::identity: return x;
        case Act::relu: return x < T(0) ? T(0) : x;  // NaN passes through
        case Act::leaky_relu: return x > T(0) ? x : x * T(s.a);
        case Act::tanh: return std::tanh(x);
        case Act::sigmoid: return T(1) / (T(1) + std::exp(-x));
        case Act::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
        case Act::gelu_tanh: {
            const T k = T(0.79788456080286535588);  // sqrt(2/pi)
            return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
        }
        case Act::silu: return x / (T(1) + std::exp(-x));
        case Act::softplus: {
            const T bx = T(s.a) * x;
            return bx > T(s.b) ? x : std::log1p(std::exp(bx)) / T(s.a);
        }
    }
    return x;
}

// df/dx at input x with output y = f(x).
template <class T>
inline T act_derivative(const ActSpec& s, T x, T y) {
    switch (s.kind) {
        case Act::identity: return T(1);
        case Act::relu: return x > T(0) ? T(1) : T(0);
        case Act::leaky_relu: return x > T(0) ? T(1) : T(s.a);
        case Act::tanh: return T(1) - y * y;
        case Act::sigmoid: return y * (T(1) - y);
        case Act::gelu: {
            const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
            const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
            return cdf + x * pdf;
        }
        case Act::gelu_tanh: {
            const T k = T(0.79788456080286535588), c = T(0.044715);
            const T inner = k * (x + c * x * x * x);
            const T t = std::tanh(inner);
            const T dinner = k * (T(1) + T(3) * c * x * x);
            return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * dinner;
        }
        case Act::silu: {
            const T sg = T(1) / (T(1) + std::exp(-x));
            return sg * (T(1) + x * (T(1) - sg));
        }
        case Act::softplus: {
            const T bx = T(s.a) * x;
            if (bx > T(s.b)) return T(1);
            const T z = std::exp(bx);
            return z / (z + T(1));
        }
    }
    return T(1);
}

// y[n] = f(x[n])
template <class T>
void act_forward(T* y, const T* x, index_t n, const ActSpec& s);

// gx[n] = gy[n] * f'(x[n]) (gx may alias gy); y is f(x), or nullptr to have
// it recomputed per element from x.
template <class T>
void act_backward(T* gx, const T* gy, const T* x, const T* y, index_t n, const ActSpec& s);

}  // namespace fastmlp
