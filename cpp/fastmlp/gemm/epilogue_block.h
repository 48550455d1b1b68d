// Row-wise equivalent of apply_epilogue / add_colsum for the tuned driver: the
// activation switch is hoisted out of the loops (each loop sees a constant
// kind), so bias, relu and identity rows vectorise. Per element it performs the
// same operations in the same order as the reference.
#pragma once
#include <type_traits>

#include "fastmlp/gemm/epilogue.h"

namespace fastmlp {

namespace epilogue_detail {

// Calls f(std::integral_constant<Act, kind>) so the body is compiled per kind;
// gemm() has checked the kind.
template <class F>
void with_act(Act kind, F&& f) {
    using A = Act;
    switch (kind) {
        case A::identity: return f(std::integral_constant<A, A::identity>{});
        case A::relu: return f(std::integral_constant<A, A::relu>{});
        case A::leaky_relu: return f(std::integral_constant<A, A::leaky_relu>{});
        case A::tanh: return f(std::integral_constant<A, A::tanh>{});
        case A::sigmoid: return f(std::integral_constant<A, A::sigmoid>{});
        case A::gelu: return f(std::integral_constant<A, A::gelu>{});
        case A::gelu_tanh: return f(std::integral_constant<A, A::gelu_tanh>{});
        case A::silu: return f(std::integral_constant<A, A::silu>{});
        case A::softplus: return f(std::integral_constant<A, A::softplus>{});
    }
}

template <class T>
bool unit_cols(const Epilogue<T>& ep, Mat<T> C) {
    return C.cs == 1 && (!ep.act_out.p || ep.act_out.cs == 1) &&
           (!ep.dact_x.p || ep.dact_x.cs == 1) && (!ep.dact_y.p || ep.dact_y.cs == 1);
}

// c = (c + bias) * f'(x, y) on unit-stride rows. Which operands exist is a
// compile-time choice: a conditional load in the loop would stop GCC from
// if-converting and vectorising it (relu' became a mispredicted branch).
template <class T, Act K, bool BIAS, bool Y>
void bias_dact_rows(const Epilogue<T>& ep, Mat<T> C, index_t i0, index_t i1, index_t j0,
                    index_t j1) {
    ActSpec s = ep.dact;
    s.kind = K;
    // relu' is 1 or 0; GCC folds c * (x > 0 ? 1 : 0) into a branch around c * 0
    // (it may not speculate that multiply under -ftrapping-math) unless both
    // constants are opaque. Same values (c * 0 keeps NaN), but it vectorises.
    // Other compilers take the plain constants: the same results.
    T zero = T(0), one = T(1);
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(zero), "+r"(one));
#endif
    const index_t n = j1 - j0;
    const T* bias = BIAS ? ep.bias + j0 : nullptr;
    for (index_t i = i0; i < i1; ++i) {
        T* c = &C(i, j0);
        const T* x = &ep.dact_x(i, j0);
        const T* y = Y ? &ep.dact_y(i, j0) : nullptr;
        for (index_t j = 0; j < n; ++j) {
            T cj = c[j];
            if constexpr (BIAS) cj += bias[j];
            if constexpr (K == Act::relu)
                c[j] = cj * (x[j] > T(0) ? one : zero);
            else if constexpr (Y)
                c[j] = cj * act_derivative<T>(s, x[j], y[j]);
            else
                c[j] = cj * act_derivative<T>(s, x[j], T(0));
        }
    }
}

}  // namespace epilogue_detail

template <class T>
bool has_block_epilogue(const Epilogue<T>* ep) {
    return ep && (ep->bias || ep->dact_x.p || ep->act_out.p);
}

// Bias, activation derivative and activation on C rows [i0,i1), cols [j0,j1).
template <class T>
void epilogue_block(const Epilogue<T>& ep, Mat<T> C, index_t i0, index_t i1, index_t j0,
                    index_t j1) {
    using namespace epilogue_detail;
    if (!unit_cols(ep, C)) return apply_epilogue(ep, C, i0, i1, j0, j1);
    const index_t n = j1 - j0;
    const T* bias = ep.bias ? ep.bias + j0 : nullptr;
    if (ep.dact_x.p) {
        const bool has_y = ep.dact_y.p != nullptr;
        with_act(ep.dact.kind, [&](auto kind) {
            constexpr Act K = decltype(kind)::value;
            if (bias && has_y)
                bias_dact_rows<T, K, true, true>(ep, C, i0, i1, j0, j1);
            else if (bias)
                bias_dact_rows<T, K, true, false>(ep, C, i0, i1, j0, j1);
            else if (has_y)
                bias_dact_rows<T, K, false, true>(ep, C, i0, i1, j0, j1);
            else
                bias_dact_rows<T, K, false, false>(ep, C, i0, i1, j0, j1);
        });
    } else if (bias) {
        for (index_t i = i0; i < i1; ++i) {
            T* c = &C(i, j0);
            for (index_t j = 0; j < n; ++j) c[j] += bias[j];
        }
    }
    if (ep.act_out.p) {
        with_act(ep.act.kind, [&](auto kind) {
            ActSpec s = ep.act;
            s.kind = kind;
            for (index_t i = i0; i < i1; ++i) {
                const T* c = &C(i, j0);
                T* out = &ep.act_out(i, j0);
                for (index_t j = 0; j < n; ++j) out[j] = act_value<T>(s, c[j]);
            }
        });
    }
}

// colsum[j] += sum_k B(k, j), k ascending, for cols [j0, j1): the same additions
// as add_colsum, with independent columns interleaved so they pipeline.
template <class T>
void colsum_block(T* colsum, CMat<T> B, index_t K, index_t j0, index_t j1) {
    constexpr index_t W = 64;
    for (index_t jb = j0; jb < j1; jb += W) {
        const index_t w = j1 - jb < W ? j1 - jb : W;
        T s[W] = {};
        if (B.cs == 1) {
            for (index_t k = 0; k < K; ++k) {
                const T* b = &B(k, jb);
                for (index_t j = 0; j < w; ++j) s[j] += b[j];
            }
        } else {
            for (index_t k = 0; k < K; ++k)
                for (index_t j = 0; j < w; ++j) s[j] += B(k, jb + j);
        }
        for (index_t j = 0; j < w; ++j) colsum[jb + j] += s[j];
    }
}

}  // namespace fastmlp
