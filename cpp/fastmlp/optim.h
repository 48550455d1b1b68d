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

// A weight gradient of a batch of k rows, left unformed until an update reads
// it: grad[i * cols + j] would hold sum_r x[r][i] * dy[r][j], as the product
// x^T dy gives it.
template <class T>
struct OuterGrad {
    const T* grad;  // where the rows x cols values would lie
    const T* x;     // k = 1: the rows values of x; else both factors, by pack_outer
    const T* dy;    // k = 1: the cols values of dy
    index_t rows, cols;
    index_t k = 1;  // at most 256 (pack_outer)
};
// Writes o's gradient (rows x cols values) to dst.
template <class T>
void form_outer(const OuterGrad<T>& o, T* dst);

// What the step count gives an update, worked out once per step.
struct StepTerms {
    bool first;           // sgd: the momentum buffer starts at this gradient
    double step_size;     // adam: lr / bias correction 1
    double inv_bc2_sqrt;  // adam: 1 / sqrt(bias correction 2), a division less per element
};
StepTerms step_terms(const OptSpec& spec, std::int64_t step);

// The update loops of one ISA: f32/f64 apply `spec` to n parameters as
// optim_update does and return nonzero if a gradient or new weight is NaN/Inf.
template <class T>
using UpdateLoop = std::uint32_t (*)(const OptSpec& spec, const StepTerms& terms, T* p,
                                     const T* g, T* const* state, index_t n, T* to);
// And the loop that forms values [at, at + n) of a one-row gradient (k = 1) in dst.
template <class T>
using FormLoop = void (*)(const OuterGrad<T>& o, index_t at, index_t n, T* dst);
struct OptimLoops {
    UpdateLoop<float> f32;
    UpdateLoop<double> f64;
    FormLoop<float> form_f32;
    FormLoop<double> form_f64;
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
    // Gradients that lie in one of `outer`'s places are formed from it, not read.
    bool step(T* backup = nullptr, const Moved* moved = nullptr,
              const std::vector<OuterGrad<T>>* outer = nullptr);
    void restore(const T* backup);
    void zero_grad();
};

// sqrt(sum of squares) of all gradients, in double, fixed order.
template <class T>
double grad_norm(const std::vector<ParamSpan<T>>& spans);

}  // namespace fastmlp
