// Optimizer updates over flat buffers, with torch.optim's update rules.
#pragma once
#include <vector>

#include "fastmlp/common.h"

namespace fastmlp {

enum class OptKind : int { sgd = 0, adam = 1, adamw = 2, rmsprop = 3 };

struct OptSpec {
    OptKind kind = OptKind::sgd;
    double lr = 1e-3;
    double momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double alpha = 0.99;  // rmsprop smoothing
    bool nesterov = false, amsgrad = false, centered = false;
};

// Throws std::invalid_argument for an unknown kind.
void check_opt(const OptSpec& spec);

// Number of state buffers (each the size of the parameters) a spec needs.
int optim_state_count(const OptSpec& spec);

// One update of n parameters p with gradient g; `step` counts from 1. The new
// weights overwrite p, or with `to` (n values, apart from p) go there, p left as
// it was. Returns false if a gradient or an updated weight is NaN/Inf (the
// update still happened). States: sgd {momentum buf}; adam/adamw {m, v, vmax};
// rmsprop {square_avg, buf, grad_avg}.
template <class T>
bool optim_update(const OptSpec& spec, std::int64_t step, T* p, const T* g, T* const* state,
                  index_t n, T* to = nullptr);

// The update loops of one ISA: f32/f64 apply `spec` to n parameters as
// optim_update does and return nonzero if a gradient or new weight is NaN/Inf.
template <class T>
using UpdateLoop = std::uint32_t (*)(const OptSpec& spec, std::int64_t step, T* p, const T* g,
                                     T* const* state, index_t n, T* to);
struct OptimLoops {
    UpdateLoop<float> f32;
    UpdateLoop<double> f64;
};
// nullptr when the ISA's file was not built for this target.
const OptimLoops* optim_loops_portable();
const OptimLoops* optim_loops_avx2();
const OptimLoops* optim_loops_avx512();

// A stretch of parameters (data, grad) of length n, its state at state_offset.
template <class T>
struct ParamSpan {
    T* data;
    T* grad;
    index_t n;
    index_t state_offset;
};

// An optimizer: its spec, its parameters, its state buffers and step count.
template <class T>
struct Optimizer {
    OptSpec spec;
    std::vector<ParamSpan<T>> spans;
    std::vector<T*> state;  // optim_state_count(spec) buffers of the spans' total length
    std::int64_t step_count = 0;

    index_t size() const;  // the spans' total length
    double bytes() const;  // of the weights, gradients and states
    // Whether those pass a current L3, so that a backup streams past the caches.
    bool past_l3() const;
    // False if a gradient or an updated weight is NaN/Inf. With backup (room for
    // size() values) the weights before the update are saved there, the spans end
    // to end, for restore(). With moved, the spans' weights are read from and
    // written to other arrays (Moved), the spans' own data left alone.
    struct Moved {
        const T* home;  // where the spans' data lie (each span at data - home)
        T* from;        // the weights read, at the same offsets
        T* to;          // the new weights written, at the same offsets
    };
    bool step(T* backup = nullptr, const Moved* moved = nullptr);
    void restore(const T* backup);
    void zero_grad();
};

// sqrt(sum of squares) of all gradients, in double, fixed order.
template <class T>
double grad_norm(const std::vector<ParamSpan<T>>& spans);

}  // namespace fastmlp
