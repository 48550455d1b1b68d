#include "fastmlp/activation.h"

#include <string>

namespace fastmlp {

void check_act(const ActSpec& s) {
    switch (s.kind) {
        case Act::identity:
        case Act::relu:
        case Act::leaky_relu:
        case Act::tanh:
        case Act::sigmoid:
        case Act::gelu:
        case Act::gelu_tanh:
        case Act::silu:
        case Act::softplus: return;
    }
    throw std::invalid_argument("unknown activation kind " + std::to_string(int(s.kind)));
}

// The switch sits outside the loop so each loop body is a single formula.
template <class T>
void act_forward(T* y, const T* x, index_t n, const ActSpec& s) {
    check_act(s);
    switch (s.kind) {
        case Act::relu:
            for (index_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
            return;
        case Act::identity:
            for (index_t i = 0; i < n; ++i) y[i] = x[i];
            return;
        default:
            for (index_t i = 0; i < n; ++i) y[i] = act_value<T>(s, x[i]);
    }
}

template <class T>
void act_backward(T* gx, const T* gy, const T* x, const T* y, index_t n, const ActSpec& s) {
    check_act(s);
    switch (s.kind) {
        case Act::relu:
            for (index_t i = 0; i < n; ++i) gx[i] = x[i] > T(0) ? gy[i] : T(0);
            return;
        case Act::identity:
            for (index_t i = 0; i < n; ++i) gx[i] = gy[i];
            return;
        default:
            if (y)
                for (index_t i = 0; i < n; ++i) gx[i] = gy[i] * act_derivative<T>(s, x[i], y[i]);
            else
                for (index_t i = 0; i < n; ++i)
                    gx[i] = gy[i] * act_derivative<T>(s, x[i], act_value<T>(s, x[i]));
    }
}

template void act_forward<float>(float*, const float*, index_t, const ActSpec&);
template void act_forward<double>(double*, const double*, index_t, const ActSpec&);
template void act_backward<float>(float*, const float*, const float*, const float*, index_t,
                                  const ActSpec&);
template void act_backward<double>(double*, const double*, const double*, const double*, index_t,
                                   const ActSpec&);

}  // namespace fastmlp
