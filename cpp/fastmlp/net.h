// A sequential MLP over caller-owned flat parameter and gradient buffers.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "fastmlp/buffer.h"
#include "fastmlp/common.h"
#include "fastmlp/linear.h"
#include "fastmlp/loss.h"
#include "fastmlp/optim.h"

namespace fastmlp {

enum class LayerKind : int { linear = 0, activation = 1, dropout = 2 };

struct LayerSpec {
    LayerKind kind = LayerKind::linear;
    index_t in = 0, out = 0;  // linear sizes
    bool bias = true;         // linear
    ActSpec act{};            // activation
    double p = 0.0;           // dropout probability
};

// Throws std::invalid_argument for an unknown kind or activation, sizes that
// are not positive, or a dropout probability outside [0, 1].
void check_layer(const LayerSpec& s);

// Where one parameter lives in the flat buffers.
struct ParamInfo {
    index_t layer;               // index of its layer
    std::string name;            // "weight" (in x out) or "bias" (out)
    index_t offset;              // first value in the flat buffer
    std::vector<index_t> shape;
};

// The flat-buffer layout of a layer stack: each Linear's weight then its bias,
// in layer order. Checks every spec and that each Linear takes the width the
// layers before it give.
std::vector<ParamInfo> param_layout(const std::vector<LayerSpec>& layers);
// Values in the flat buffers of that layout.
index_t param_count(const std::vector<LayerSpec>& layers);

// A batch of input rows: dense row-major x or, when csr.indptr is set, CSR
// (read natively by the first Linear, which a network given CSR must start with).
template <class T>
struct Input {
    const T* x = nullptr;
    Csr<T> csr{};
    Input(const T* dense = nullptr) : x(dense) {}
    Input(Csr<T> sparse) : csr(sparse) {}
    bool sparse() const { return csr.indptr != nullptr; }
    // Rows row, row + 1, ... of an input `in` values wide.
    Input from(index_t row, index_t in) const {
        return sparse() ? Input(csr.from(row)) : Input(x + row * in);
    }
};

// One step's loss: `value` includes `penalty`, its weight-L2 part.
struct StepLoss {
    double value = 0.0, penalty = 0.0;
};

template <class T>
class Net {
public:
    // params/grads hold param_count(layers) values in param_layout(layers);
    // in_features must be the first Linear's input width.
    Net(const std::vector<LayerSpec>& layers, index_t in_features, T* params, T* grads);

    index_t in_features() const { return in_; }
    index_t out_features() const { return out_; }

    // Inference on n rows of x: y is n x out_features; scratch holds
    // predict_scratch(n) values. Thread-safe.
    void predict(Input<T> x, index_t n, T* y, T* scratch) const;
    index_t predict_scratch(index_t n) const { return 2 * n * maxw_; }
    // Training forward; x must stay valid until backward. Returns the n x out output.
    const T* forward(Input<T> x, index_t n);
    // Backpropagates gout (n x out, consumed). accumulate=false overwrites the gradients
    // instead of adding to them. dx (n x in) is written when non-null (dense input only).
    void backward(const T* gout, T* dx, bool accumulate);
    // Afterwards backward() needs a new forward(): x is the caller's and may not outlive
    // the call.
    // Overwrites the gradients with those of loss + l2 / 2 * sum(W^2) / denom, where W
    // runs over the Linear weights (not the biases) and denom is what the loss's mean
    // divides by (loss_denominator): the penalty joins the summed loss, as
    // scikit-learn's alpha does. Returns that objective before any update.
    // accumulate=true adds to the gradients instead (a batch in parts).
    StepLoss loss_grad(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss, double l2 = 0.0,
                       bool accumulate = false);
    // loss_grad, then update; returns the loss before the update.
    StepLoss train_step(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss,
                        Optimizer<T>& opt, double clip_norm = 0.0, double l2 = 0.0);
    // Gradient clipping and the optimizer step on the gradients as they are (fit's
    // data-parallel step averages them across processes in between).
    void update(Optimizer<T>& opt, double clip_norm = 0.0);
    // Between these two, as in fit: updates by an optimizer whose spans cover
    // params() exactly, its arrays within a current L3 (Optimizer::past_l3),
    // alternate the weights between params() and a second array, each step
    // reading one and writing the other: the weights of before a failed step stay
    // where they were, with no backup copied per step. And a train_step on one row,
    // or on a few with the arrays past the L3 (no clipping, no l2), leaves the wide
    // Linear weights' gradients unformed: the update forms each where it reads it,
    // from copies of the layer's input and output gradient.
    // settle() (and the end) brings the live weights back to params() and forms
    // those gradients in grads(), for the caller to read or change.
    void begin_fit(const Optimizer<T>& opt);
    void settle();
    void end_fit();
    // sum(W^2) / 2 over the Linear weights; a nonzero coef also adds coef * W to their
    // gradients.
    double weight_penalty(double coef);

    // The net's own arrays of the weights and gradients (the caller's); between
    // begin_fit and end_fit the live weights may be in the second array, and some
    // gradients unformed, until settled.
    T* params() { return params_; }
    T* grads() { return grads_; }
    index_t param_count() const { return n_params_; }

    bool training = true;
    std::uint64_t dropout_seed = 0;
    std::uint64_t dropout_draws = 0;  // advances once per training forward
    index_t batch() const { return n_; }

private:
    // One step of the plan compiled from the layers: a Linear with the
    // activation after it fused in, a standalone activation, or a dropout.
    // Buffers are columns of the workspace: a buffer at column c of width w
    // holds rows at ws_ + c * cap_ (rows are w values each).
    struct Step {
        LayerKind kind;
        index_t layer;                 // first layer of the step (dropout streams)
        bool has_act = false;          // linear: an activation is fused in; activation: always
        ActSpec act{};
        double p = 0.0;                // dropout probability
        index_t in = 0, out = 0;       // widths
        index_t w_off = 0, b_off = -1; // linear: into the flat buffers
        index_t y_col = 0;             // the step's output
        index_t pre_col = -1;          // linear + activation other than ReLU: the product kept for backward
        bool dact_done = false;        // backward: the incoming gradient already carries act'
        bool fuse_prev = false;        // linear backward: dx carries the previous step's act'
    };
    void compile(const std::vector<LayerSpec>& layers);
    void ensure_workspace(index_t n);
    T* col(index_t c) { return ws_.data() + c * cap_; }
    // The weights the steps use: params_, or between begin_fit and end_fit the
    // array the last update wrote (predict() may read it from another thread).
    T* live() const { return live_.load(std::memory_order_acquire); }
    const T* bias(const Step& st) const { return st.b_off >= 0 ? live() + st.b_off : nullptr; }
    // Linear step st on its input rows x (dense, or CSR for the first step).
    void linear_step(const Step& st, Input<T> x, index_t n, T* y, T* pre) const;
    // Throws std::invalid_argument for CSR input to a network not starting with a Linear.
    void check_input(Input<T> x) const;
    // Whether loss_grad takes the fused pass (decided by the shapes alone, never by the
    // thread count), and that pass: the loss, the gradients overwritten.
    bool takes_relu_mlp(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss,
                        bool accumulate) const;
    double relu_mlp_loss_grad(const T* x, const T* y, index_t n, const LossSpec& loss);
    // The two gradient buffers behind the steps' buffers (k = 0 or 1).
    T* grad_buf(int k) { return col(ws_cols_ - (2 - k) * maxw_); }
    // Dropout draw of step st in the current forward: the same mask in backward.
    std::uint64_t dropout_stream(const Step& st) const {
        return draw_ * 65536 + std::uint64_t(st.layer);
    }
    const T* input_of(size_t s) { return s ? col(plan_[s - 1].y_col) : x_.x; }
    // What act' of step s reads: the activation's input (ReLU's output serves:
    // x > 0 exactly where relu(x) > 0, NaN failing both) and output.
    ActGrad<T> act_grad(size_t s);

    std::vector<Step> plan_;
    bool relu_mlp_ = false;  // the plan is Linear + ReLU, then a Linear to one output
    index_t in_, out_;
    index_t maxw_ = 0;      // widest layer output or input
    index_t ws_cols_ = 0;   // workspace columns: the steps' buffers, then two gradients
    T* params_;
    T* grads_;
    index_t n_params_;
    std::atomic<T*> live_;
    bool alternating_ = false;  // begin_fit with an optimizer covering params_
    bool fitting_ = false;      // between begin_fit and end_fit
    bool past_l3_ = false;      // fit's optimizer arrays pass the L3 (Optimizer::past_l3)
    bool deferring_ = false;    // this train_step leaves wide weight gradients unformed
    std::vector<OuterGrad<T>> outer_;  // the gradients the last step left unformed
    AlignedVector<T> outer_rows_;      // their rows: each Linear's inputs, then output gradients
    index_t outer_room(index_t n) const;  // values they may need for a batch of n rows
    void form_grads();                 // forms them in grads_
    // Before gradients are added to (accumulate) or written anew: forms or drops those.
    void start_grads(bool accumulate);
    // Aligned as the flat buffers are (python/fastmlp/params.py): the products read
    // rows of ws_, the update streams through backup_ and alt_.
    AlignedVector<T> ws_;
    AlignedVector<T> backup_;  // weights before the last optimizer step (not alternating)
    AlignedVector<T> alt_;     // the second array of the weights (alternating)
    std::vector<T> relu_mlp_out_;  // the fused pass's outputs
    index_t cap_ = 0, n_ = 0;
    Input<T> x_;
    bool have_forward_ = false;
    std::uint64_t draw_ = 0;    // dropout draw used by the last forward
    bool dropout_on_ = false;  // whether the last forward applied dropout
};

}  // namespace fastmlp
