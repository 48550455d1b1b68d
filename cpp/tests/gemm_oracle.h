// The oracle test_gemm checks gemm() against: a plain triple loop in double
// with its own bias, activation and derivative formulas, written from the
// textbook definitions (as torch.nn states them) and sharing no code with the
// core's epilogue (cpp/fastmlp/activation.h, gemm/epilogue*.h).
#pragma once
#include <cmath>

#include "fastmlp/gemm/gemm.h"

namespace oracle {

using fastmlp::Act;
using fastmlp::ActSpec;
using fastmlp::CMat;
using fastmlp::index_t;
using fastmlp::Mat;

inline double sigmoid(double x) { return 0.5 * (1.0 + std::tanh(0.5 * x)); }
inline double sech2(double x) { return 1.0 / (std::cosh(x) * std::cosh(x)); }

constexpr double kSqrt2OverPi = 0.797884560802865355879892119868763737;
constexpr double kGeluTanhC = 0.044715;

// f(x); softplus: beta s.a, threshold s.b; leaky_relu: slope s.a.
inline double act(const ActSpec& s, double x) {
    switch (s.kind) {
        case Act::identity: return x;
        case Act::relu: return x > 0 ? x : 0.0;
        case Act::leaky_relu: return x > 0 ? x : s.a * x;
        case Act::tanh: return std::tanh(x);
        case Act::sigmoid: return sigmoid(x);
        case Act::gelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
        case Act::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluTanhC * x * x * x)));
        case Act::silu: return x * sigmoid(x);
        case Act::softplus: {
            const double bx = s.a * x;
            if (bx > s.b) return x;
            return (std::fmax(bx, 0.0) + std::log1p(std::exp(-std::fabs(bx)))) / s.a;
        }
    }
    return NAN;
}

// f'(x), from x alone.
inline double act_deriv(const ActSpec& s, double x) {
    switch (s.kind) {
        case Act::identity: return 1.0;
        case Act::relu: return x > 0 ? 1.0 : 0.0;
        case Act::leaky_relu: return x > 0 ? 1.0 : s.a;
        case Act::tanh: return sech2(x);
        case Act::sigmoid: return 0.25 * sech2(0.5 * x);
        case Act::gelu: {
            const double pi = 3.14159265358979323846;
            return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * pi);
        }
        case Act::gelu_tanh: {
            const double u = kSqrt2OverPi * (x + kGeluTanhC * x * x * x);
            const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluTanhC * x * x);
            return 0.5 * (1.0 + std::tanh(u)) + 0.5 * x * sech2(u) * du;
        }
        case Act::silu: return sigmoid(x) + x * 0.25 * sech2(0.5 * x);
        case Act::softplus: return s.a * x > s.b ? 1.0 : sigmoid(s.a * x);
    }
    return NAN;
}

// What one gemm() call with this epilogue must give.
template <class T>
struct Epilogue {
    const T* bias = nullptr;        // C(i, j) += bias[j]
    Mat<T> act_out{nullptr, 0, 0};  // act_out(i, j) = act(C(i, j))
    ActSpec act{};
    CMat<T> dact_x{nullptr, 0, 0};  // C(i, j) *= act_deriv(dact, dact_x(i, j))
    ActSpec dact{};
    T* colsum_b = nullptr;          // colsum_b[j] += sum_k B(k, j)
};

// C = (accumulate ? C : 0) + A B, then the epilogue, each element summed in double.
template <class T>
void gemm(index_t M, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C, bool accumulate,
          const Epilogue<T>& ep) {
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
            double c = accumulate ? double(C(i, j)) : 0.0;
            for (index_t k = 0; k < K; ++k) c += double(A(i, k)) * double(B(k, j));
            if (ep.bias) c += double(ep.bias[j]);
            if (ep.dact_x.p) c *= act_deriv(ep.dact, double(ep.dact_x(i, j)));
            C(i, j) = T(c);
            if (ep.act_out.p) ep.act_out(i, j) = T(act(ep.act, c));
        }
    if (ep.colsum_b)
        for (index_t j = 0; j < N; ++j) {
            double s = 0.0;
            for (index_t k = 0; k < K; ++k) s += double(B(k, j));
            ep.colsum_b[j] = T(double(ep.colsum_b[j]) + s);
        }
}

}  // namespace oracle
