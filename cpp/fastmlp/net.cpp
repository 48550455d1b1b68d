#include "fastmlp/net.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fastmlp/activation.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/rng.h"

namespace fastmlp {

namespace {

// Dropout keeps an element with probability 1-p and scales it by 1/(1-p).
template <class T>
void dropout_apply(T* y, const T* x, index_t count, double p, std::uint64_t seed,
                   std::uint64_t stream) {
    const T scale = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
    for (index_t i = 0; i < count; ++i)
        y[i] = uniform_at(seed, stream, std::uint64_t(i)) >= p ? x[i] * scale : T(0);
}

}  // namespace

template <class T>
index_t Net<T>::count_params(const std::vector<LayerSpec>& layers) {
    index_t total = 0;
    for (const auto& s : layers)
        if (s.kind == LayerKind::linear) total += s.in * s.out + (s.bias ? s.out : 0);
    return total;
}

template <class T>
Net<T>::Net(std::vector<LayerSpec> specs, index_t in_features, T* params, T* grads)
    : in_(in_features), params_(params), grads_(grads) {
    require(!specs.empty(), "Sequential needs at least one layer");
    index_t width = in_features, off = 0;
    for (const auto& s : specs) {
        Layer L{s};
        if (s.kind == LayerKind::linear) {
            require(s.in == width, "Linear expects " + std::to_string(s.in) +
                                       " input features but the previous layer gives " +
                                       std::to_string(width));
            require(s.in > 0 && s.out > 0, "Linear sizes must be positive");
            L.w_off = off;
            off += s.in * s.out;
            if (s.bias) {
                L.b_off = off;
                off += s.out;
            }
            width = s.out;
        }
        layers_.push_back(L);
        widths_.push_back(width);
    }
    n_params_ = off;
    maxw_ = *std::max_element(widths_.begin(), widths_.end());
    // Inference skips dropout (the identity) and fuses an activation into its Linear.
    for (size_t i = 0; i < layers_.size(); ++i) {
        if (layers_[i].spec.kind == LayerKind::dropout) continue;
        const bool fused = layers_[i].spec.kind == LayerKind::linear && i + 1 < layers_.size() &&
                           layers_[i + 1].spec.kind == LayerKind::activation;
        infer_.push_back({i, fused});
        if (fused) ++i;
    }
}

template <class T>
void Net<T>::run_linear(const Layer& L, const T* in, index_t n, T* out, T* act_out,
                        const ActSpec* act) const {
    const index_t k = L.spec.in, m = L.spec.out;
    Epilogue<T> ep;
    if (L.b_off >= 0) ep.bias = params_ + L.b_off;
    if (act) {
        ep.act = *act;
        ep.act_out = rowmajor(act_out, m);
    }
    gemm<T>(n, m, k, rowmajor(in, k), rowmajor<T>(params_ + L.w_off, m), rowmajor(out, m), false,
            &ep);
}

template <class T>
void Net<T>::predict(const T* x, index_t n, T* y, T* scratch) const {
    if (n <= 0) return;
    const T* in = x;
    index_t width = in_;
    int flip = 0;
    for (size_t o = 0; o < infer_.size(); ++o) {
        const InferOp& op = infer_[o];
        const Layer& L = layers_[op.layer];
        T* out = o + 1 == infer_.size() ? y : scratch + flip * n * maxw_;
        if (L.spec.kind == LayerKind::linear)
            // A fused activation is applied in place on the product, as forward() does.
            run_linear(L, in, n, out, out, op.fused ? &layers_[op.layer + 1].spec.act : nullptr);
        else
            act_forward(out, in, n * width, L.spec.act);
        width = widths_[op.layer + (op.fused ? 1 : 0)];
        in = out;
        flip ^= 1;
    }
    if (in != y) std::memcpy(y, in, sizeof(T) * size_t(n * width));
}

template <class T>
bool Net<T>::relu_after(size_t i) const {
    return layers_[i].spec.kind == LayerKind::linear && i + 1 < layers_.size() &&
           layers_[i + 1].spec.kind == LayerKind::activation &&
           layers_[i + 1].spec.act.kind == Act::relu;
}

template <class T>
const T* Net<T>::act_input(size_t a) {
    if (a == 0) return x_;
    // x > 0 exactly where relu(x) > 0 (NaN fails both), so the output serves.
    return relu_after(a - 1) ? out_of(a) : out_of(a - 1);
}

template <class T>
void Net<T>::ensure_workspace(index_t n) {
    if (n <= cap_) return;
    out_off_.assign(layers_.size(), 0);
    index_t off = 0, maxw = in_;
    for (size_t i = 0; i < layers_.size(); ++i) {
        out_off_[i] = off;
        off += n * widths_[i];
        maxw = std::max(maxw, widths_[i]);
    }
    g_off_[0] = off;
    g_off_[1] = off + n * maxw;
    ws_.assign(size_t(off + 2 * n * maxw), T(0));
    cap_ = n;
}

template <class T>
const T* Net<T>::forward(const T* x, index_t n) {
    require(n > 0, "forward: empty batch");
    ensure_workspace(n);
    n_ = n;
    x_ = x;
    draw_ = dropout_draws;
    dropout_on_ = training;
    if (training) ++dropout_draws;
    const T* in = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
        const Layer& L = layers_[i];
        const index_t w_in = i ? widths_[i - 1] : in_;
        T* out = out_of(i);
        switch (L.spec.kind) {
            case LayerKind::linear:
                if (i + 1 < layers_.size() && layers_[i + 1].spec.kind == LayerKind::activation) {
                    // A ReLU overwrites its input: relu' can be read off the output.
                    T* pre = relu_after(i) ? out_of(i + 1) : out;
                    run_linear(L, in, n, pre, out_of(i + 1), &layers_[i + 1].spec.act);
                    ++i;
                    out = out_of(i);
                } else {
                    run_linear(L, in, n, out, nullptr, nullptr);
                }
                break;
            case LayerKind::activation: act_forward(out, in, n * w_in, L.spec.act); break;
            case LayerKind::dropout:
                if (training)
                    dropout_apply(out, in, n * w_in, L.spec.p, dropout_seed, draw_ * 65536 + i);
                else
                    std::memcpy(out, in, sizeof(T) * size_t(n * w_in));
                break;
        }
        in = out;
    }
    have_forward_ = true;
    return in;
}

template <class T>
void Net<T>::backward(const T* gout, T* dx, bool accumulate) {
    if (!have_forward_) throw ProtocolError("backward() called before forward()");
    const index_t n = n_;
    T* g = ws_.data() + g_off_[0];
    T* other = ws_.data() + g_off_[1];
    if (gout != g) std::memcpy(g, gout, sizeof(T) * size_t(n * out_features()));
    for (size_t r = layers_.size(); r-- > 0;) {
        const Layer& L = layers_[r];
        const index_t w_in = r ? widths_[r - 1] : in_;
        const T* in = r ? out_of(r - 1) : x_;
        switch (L.spec.kind) {
            case LayerKind::activation:
                act_backward(g, g, act_input(r), out_of(r), n * w_in, L.spec.act);
                break;
            case LayerKind::dropout:
                if (dropout_on_) dropout_apply(g, g, n * w_in, L.spec.p, dropout_seed, draw_ * 65536 + r);
                break;
            case LayerKind::linear: {
                const index_t k = L.spec.in, m = L.spec.out;
                T* gw = grads_ + L.w_off;
                Epilogue<T> wep;
                if (L.b_off >= 0) {
                    T* gb = grads_ + L.b_off;
                    if (!accumulate) std::fill(gb, gb + m, T(0));
                    wep.colsum_b = gb;
                }
                // dW (+)= in^T g, db (+)= column sums of g
                gemm<T>(k, m, n, CMat<T>{in, 1, k}, rowmajor<T>(g, m), rowmajor(gw, m),
                        accumulate, &wep);
                if (r == 0 && !dx) break;
                // dIn = g W^T, times the derivative of a preceding activation (fused).
                const bool fuse = r >= 1 && layers_[r - 1].spec.kind == LayerKind::activation;
                T* target = r == 0 ? dx : other;
                Epilogue<T> xep;
                if (fuse) {
                    const size_t a = r - 1;
                    xep.dact = layers_[a].spec.act;
                    xep.dact_x = rowmajor<T>(act_input(a), k);
                    xep.dact_y = rowmajor<T>(out_of(a), k);
                }
                gemm<T>(n, k, m, rowmajor<T>(g, m), CMat<T>{params_ + L.w_off, 1, m},
                        rowmajor(target, k), false, fuse ? &xep : nullptr);
                std::swap(g, other);
                if (fuse) --r;
                break;
            }
        }
    }
    // A network that starts with an activation or dropout: g holds dL/dx.
    if (dx && (layers_[0].spec.kind != LayerKind::linear))
        std::memcpy(dx, g, sizeof(T) * size_t(n * in_));
}

template <class T>
double Net<T>::train_step(const T* x, Targets<T> t, index_t n, const LossSpec& loss,
                          Optimizer<T>& opt, double clip_norm) {
    const T* out = forward(x, n);
    T* g = ws_.data() + g_off_[0];
    const double value = loss_forward(loss, out, t, n, out_features(), g);
    if (!std::isfinite(value)) throw NonFiniteError("loss is " + std::to_string(value));
    backward(g, nullptr, false);
    if (clip_norm > 0.0) {
        // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) if below 1.
        const double c = clip_norm / (grad_norm(opt.spans) + 1e-6);
        if (c < 1.0)
            for (index_t i = 0; i < n_params_; ++i) grads_[i] *= T(c);
    }
    // The update itself checks gradients and new weights; on failure the
    // pre-step weights come back, since an update can also overflow.
    backup_.assign(params_, params_ + n_params_);
    if (!opt.step()) {
        std::copy(backup_.begin(), backup_.end(), params_);
        throw NonFiniteError(all_finite(grads_, n_params_)
                                 ? "update made a weight non-finite (learning rate too large?)"
                                 : "gradient is not finite");
    }
    return value;
}

template class Net<float>;
template class Net<double>;

}  // namespace fastmlp
