// Losses: value and gradient with respect to the prediction in one pass.
#pragma once
#include "fastmlp/common.h"

namespace fastmlp {

enum class LossKind : int {
    mse = 0,
    l1 = 1,
    huber = 2,
    bce_with_logits = 3,
    cross_entropy = 4,
    poisson_nll = 5,  // torch's PoissonNLLLoss(log_input=True): exp(p) - y * p
};

struct LossSpec {
    LossKind kind = LossKind::mse;
    bool mean = true;    // reduction: "mean" (true) or "sum"
    double delta = 1.0;  // huber
};

// Throws std::invalid_argument for an unknown kind or a huber delta <= 0.
void check_loss(const LossSpec& s);

// Targets: y (n x d) for regression losses, labels (n) in [0, d) for cross_entropy;
// optional per-sample weights w (n): the mean then divides by their sum.
template <class T>
struct Targets {
    const T* y = nullptr;
    const std::int64_t* labels = nullptr;
    const T* w = nullptr;
};

// Loss of pred (n x d, row-major) against the targets, summed in double in a
// fixed order. If grad is non-null it receives dloss/dpred (same shape).
template <class T>
double loss_forward(const LossSpec& spec, const T* pred, Targets<T> t, index_t n, index_t d,
                    T* grad);

// What a "mean" reduction divides the summed loss by: the samples' count (or
// weight) times the values per sample; 1 for "sum" or an all-zero-weight batch.
template <class T>
double loss_denominator(const LossSpec& spec, Targets<T> t, index_t n, index_t d);

// out[n x d] = log_softmax of each row of z (max-shifted: stable for any logits).
template <class T>
void log_softmax_forward(T* out, const T* z, index_t n, index_t d);

}  // namespace fastmlp
