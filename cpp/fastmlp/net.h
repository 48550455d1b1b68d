// A sequential MLP over caller-owned flat parameter and gradient buffers.
#pragma once
#include <vector>

#include "fastmlp/common.h"
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

template <class T>
class Net {
public:
    // params/grads hold n_params() values laid out layer by layer: W (in x out) then b (out).
    Net(std::vector<LayerSpec> layers, index_t in_features, T* params, T* grads);

    static index_t count_params(const std::vector<LayerSpec>& layers);
    index_t in_features() const { return in_; }
    index_t out_features() const { return widths_.back(); }

    // Inference on n rows of x (row-major): y is n x out_features; scratch holds
    // predict_scratch(n) values. Thread-safe.
    void predict(const T* x, index_t n, T* y, T* scratch) const;
    index_t predict_scratch(index_t n) const { return 2 * n * maxw_; }
    // Training forward; x must stay valid until backward. Returns the n x out output.
    const T* forward(const T* x, index_t n);
    // Backpropagates gout (n x out, consumed). accumulate=false overwrites the gradients
    // instead of adding to them. dx (n x in) is written when non-null.
    void backward(const T* gout, T* dx, bool accumulate);
    // zero_grad, forward, loss, backward, optimizer step; returns the loss before the update.
    double train_step(const T* x, Targets<T> t, index_t n, const LossSpec& loss, Optimizer<T>& opt,
                      double clip_norm = 0.0);

    bool training = true;
    std::uint64_t dropout_seed = 0;
    std::uint64_t dropout_draws = 0;  // advances once per training forward
    index_t batch() const { return n_; }

private:
    struct Layer {
        LayerSpec spec;
        index_t w_off = 0, b_off = -1;  // into the flat buffers
    };
    // Runs layer i (and a following fused activation) from in to out(s).
    void run_linear(const Layer& L, const T* in, index_t n, T* out, T* act_out,
                    const ActSpec* act) const;
    void ensure_workspace(index_t n);
    // Whether layer i is a Linear whose ReLU forward() applies in place.
    bool relu_after(size_t i) const;
    // What the derivative of activation layer a reads as its input.
    const T* act_input(size_t a);
    T* out_of(size_t i) { return ws_.data() + out_off_[i]; }

    struct InferOp {
        size_t layer;
        bool fused;  // the next layer is an activation applied in the GEMM epilogue
    };
    std::vector<Layer> layers_;
    std::vector<InferOp> infer_;
    std::vector<index_t> widths_;  // output width of each layer
    index_t maxw_ = 0;
    index_t in_;
    T* params_;
    T* grads_;
    index_t n_params_;
    // Training workspace: each layer's output, then two gradient buffers.
    std::vector<T> ws_;
    std::vector<T> backup_;  // weights before the last optimizer step
    std::vector<index_t> out_off_;
    index_t g_off_[2] = {0, 0};
    index_t cap_ = 0, n_ = 0;
    const T* x_ = nullptr;
    bool have_forward_ = false;
    std::uint64_t draw_ = 0;    // dropout draw used by the last forward
    bool dropout_on_ = false;  // whether the last forward applied dropout
};

}  // namespace fastmlp
