// The native training loop: epochs, shuffled minibatches, steps, validation.
#pragma once
#include <exception>
#include <functional>
#include <vector>

#include "fastmlp/net.h"

namespace fastmlp {

template <class T>
struct Dataset {
    Input<T> x;    // n x in: dense row-major, or CSR
    Targets<T> t;  // y: n x out, or labels: n
    index_t n = 0;
};

// Rows [start, ...) of the targets (out values per row), in place.
template <class T>
Targets<T> rows_of(const Targets<T>& t, index_t start, index_t out) {
    return {t.y ? t.y + start * out : nullptr, t.labels ? t.labels + start : nullptr,
            t.w ? t.w + start : nullptr};
}

struct FitOptions {
    index_t epochs = 1;
    index_t batch_size = 0;  // 0: full batch
    bool shuffle = true;
    std::uint64_t seed = 0;
    index_t report_every = 0;  // epochs between reporting hook calls; 0: never
    double clip_norm = 0.0;
    double l2 = 0.0;  // Net::loss_grad's weight penalty
    double poll_seconds = 0.05;  // how often the hook may check for signals
    index_t steps = 0;  // steps per epoch (with a FitSync: the most any process takes); 0: the batches
};

// Data-parallel training, one process per shard (MPI ranks, say). A step sums the
// processes' gradients and a few extras over all of them in one collective: the caller lays
// the extras out right after the gradient buffer, so that the two are one contiguous span.
enum SyncSlot : int {
    kSyncDenominator,  // what the processes' mean losses divide by, summed: the global one
    kSyncLoss,         // the loss times that denominator (the summed loss)
    kSyncSeen,         // the samples, or their weights
    kSyncStop,         // processes whose epoch hook asks to stop
    kSyncFailed,       // processes that failed
    kSyncSlots
};

template <class T>
struct FitSync {
    T* extras = nullptr;  // kSyncSlots values right after the gradients
    // Replaces the gradients and the extras (grads=true), or the extras alone, by their sums
    // over the processes. `error` is this process's failure since the last call, if any;
    // when any process failed (kSyncFailed), sum throws the same error on every process.
    std::function<void(bool grads, std::exception_ptr error)> sum;
};

// One data-parallel step with this process's b rows (b = 0 when its shard has no batch
// left this epoch; x and t are then unused): the loss and gradients, their sum over the
// processes weighted by each one's loss denominator, the weight penalty over the global
// denominator, clipping and the update, the same on every process. `error` is a failure
// this process had since the last sum, carried into this one. Returns the global batch's
// loss; *seen receives its samples (or their weights). epoch and step, when nonzero, go into
// FloatingPointError messages.
template <class T>
StepLoss sync_step(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, Input<T> x,
                   Targets<T> t, index_t b, double clip_norm, double l2, const FitSync<T>& sync,
                   std::exception_ptr error, double* seen, index_t epoch = 0, index_t step = 0);

// Per epoch: the training loss (its weight penalty included, and also given
// apart) and the validation loss (no penalty).
struct FitResult {
    std::vector<double> loss, penalty, val_loss;
};

// The order of the n samples that the next shuffle permutes: 4-byte entries
// while n fits in them (half the memory of index_t: the order is the one
// per-sample buffer fit adds), index_t beyond. Empty: not yet made (0..n-1).
class SampleOrder {
public:
    index_t size() const { return wide_ ? index_t(wide_v_.size()) : index_t(narrow_v_.size()); }
    bool empty() const { return size() == 0; }
    bool wide() const { return wide_; }
    // 0..n-1, in 8-byte entries when wide (else as n requires).
    void identity(index_t n, bool wide = false);
    // A copy of values[0..n), in 4-byte entries unless wide or n requires 8.
    void assign(const std::int64_t* values, index_t n, bool wide = false);
    std::vector<std::int64_t> values() const;
    // f(vector of the entries), whichever width they have.
    template <class F>
    void visit(F&& f) {
        if (wide_)
            f(wide_v_);
        else
            f(narrow_v_);
    }

private:
    bool wide_ = false;
    std::vector<std::uint32_t> narrow_v_;
    std::vector<index_t> wide_v_;
};

// Where a run stands after its last completed epoch: with the weights, the optimizer and
// the net's dropout draws, everything the next epoch depends on, so a run saved between
// epochs resumes bit for bit.
struct FitState {
    index_t epoch = 0;           // epochs completed; 0: a fresh run, seeded by FitOptions::seed
    std::uint64_t rng = 0;       // the shuffle generator's state
    SampleOrder order;           // used only when shuffling
    FitResult result;            // the epochs of this call so far
};

// Called on the calling thread between steps: with report=false at most every
// poll_seconds (to check signals), with report=true after every report_every-th
// epoch (epochs count from 1) with that epoch's losses (the weight penalty also apart). Returning false ends
// training after this epoch; throwing ends it at once. Either way the weights are
// those of the last completed step.
using FitHook =
    std::function<bool(index_t epoch, bool report, double loss, double penalty, double val_loss)>;

// Runs epochs state->epoch + 1 .. o.epochs, updating *state after each (before the hook
// reports it), when state is given; throws std::invalid_argument if its order is not a
// permutation of the training rows.
// With sync, every step is a sync_step (o.steps of them per epoch), the validation loss is
// averaged over the processes, and the epoch hook's stop requests and any process's failure
// (its own, or thrown by its hook) are shared right after it, so that all stop together.
template <class T>
FitResult fit(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, const Dataset<T>& train,
              const Dataset<T>* val, const FitOptions& o, const FitHook& hook,
              FitState* state = nullptr, const FitSync<T>* sync = nullptr);

}  // namespace fastmlp
