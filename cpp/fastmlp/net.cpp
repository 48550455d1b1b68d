#include "fastmlp/net.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastmlp/activation.h"
#include "fastmlp/dropout.h"
#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/gemm/epilogue_block.h"
#include "fastmlp/gemm/gemm.h"

namespace fastmlp {

void check_layer(const LayerSpec& s) {
    switch (s.kind) {
        case LayerKind::linear:
            require(s.in > 0 && s.out > 0, "Linear sizes must be positive");
            return;
        case LayerKind::activation: check_act(s.act); return;
        case LayerKind::dropout:
            require(s.p >= 0.0 && s.p <= 1.0, "Dropout probability must be in [0, 1]");
            return;
    }
    throw std::invalid_argument("unknown layer kind " + std::to_string(int(s.kind)));
}

std::vector<ParamInfo> param_layout(const std::vector<LayerSpec>& layers) {
    std::vector<ParamInfo> out;
    index_t off = 0, width = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerSpec& s = layers[i];
        check_layer(s);
        if (s.kind != LayerKind::linear) continue;
        require(width == 0 || s.in == width,
                "Linear expects " + std::to_string(s.in) +
                    " input features but the previous layer gives " + std::to_string(width));
        out.push_back({index_t(i), "weight", off, {s.in, s.out}});
        off += s.in * s.out;
        if (s.bias) {
            out.push_back({index_t(i), "bias", off, {s.out}});
            off += s.out;
        }
        width = s.out;
    }
    require(width > 0, "Sequential needs at least one Linear layer");
    return out;
}

namespace {

// Most rows the fused pass takes: it runs on the calling thread, and a far larger
// batch gains more from the layer-by-layer products' threads. (Seed shape, Zen 3:
// at 65536 rows the pass on one thread is still 3x faster than those on two.)
constexpr index_t kReluMlpMaxRows = 65536;
// The smallest weight (in x out) whose gradient the update forms.
constexpr index_t kOuterGradMin = 16384;
// Most rows of a batch whose gradients the update forms (at most 256, where
// every kernel sums all rows at once), and most bytes of their output
// gradient, which each block of rows formed reads from L2 again.
constexpr index_t kOuterGradMaxRows = 64;
constexpr double kOuterGradMaxDyBytes = 256.0 * 1024;

// Values a Linear's unformed gradient keeps for a batch of n rows: both rows at
// n = 1, else both factors packed (pack_outer).
template <class T>
index_t outer_values(index_t in, index_t out, index_t n) {
    return n == 1 ? in + out : outer_panels_size<T>(in, out, n);
}

index_t layout_size(const std::vector<ParamInfo>& layout) {
    const ParamInfo& last = layout.back();
    index_t size = 1;
    for (index_t d : last.shape) size *= d;
    return last.offset + size;
}

}  // namespace

index_t param_count(const std::vector<LayerSpec>& layers) {
    return layout_size(param_layout(layers));
}

template <class T>
Net<T>::Net(const std::vector<LayerSpec>& layers, index_t in_features, T* params, T* grads)
    : in_(in_features), params_(params), grads_(grads), live_(params) {
    compile(layers);
}

// The plan: every Linear absorbs the activation right after it (applied in the
// GEMM epilogue); the dx product of a Linear absorbs the derivative of the
// activation before it. Buffers are laid out once, as columns of the workspace.
template <class T>
void Net<T>::compile(const std::vector<LayerSpec>& layers) {
    const std::vector<ParamInfo> layout = param_layout(layers);
    n_params_ = layout_size(layout);
    require(layers[size_t(layout[0].layer)].in == in_,
            "in_features must be the first Linear's input width");
    std::vector<index_t> w_off(layers.size(), 0), b_off(layers.size(), -1);
    for (const ParamInfo& p : layout) (p.name == "weight" ? w_off : b_off)[size_t(p.layer)] = p.offset;
    index_t width = in_, cols = 0;
    maxw_ = in_;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerSpec& s = layers[i];
        Step st{s.kind, index_t(i)};
        st.in = width;
        st.out = s.kind == LayerKind::linear ? s.out : width;
        st.p = s.p;
        if (s.kind == LayerKind::activation) st.has_act = true, st.act = s.act;
        if (s.kind == LayerKind::linear) {
            st.w_off = w_off[i];
            st.b_off = b_off[i];
            if (i + 1 < layers.size() && layers[i + 1].kind == LayerKind::activation) {
                st.has_act = true;
                st.act = layers[++i].act;
                if (st.act.kind != Act::relu) st.pre_col = cols, cols += st.out;
            }
        }
        st.y_col = cols;
        cols += st.out;
        width = st.out;
        maxw_ = std::max(maxw_, width);
        plan_.push_back(st);
    }
    out_ = width;
    ws_cols_ = cols + 2 * maxw_;
    relu_mlp_ = plan_.size() == 2 && plan_[0].kind == LayerKind::linear && plan_[0].has_act &&
                plan_[0].act.kind == Act::relu && plan_[1].kind == LayerKind::linear &&
                !plan_[1].has_act && plan_[1].out == 1;
    for (size_t s = 1; s < plan_.size(); ++s) {
        if (plan_[s].kind == LayerKind::linear && plan_[s - 1].has_act) {
            plan_[s].fuse_prev = true;
            plan_[s - 1].dact_done = true;
        }
    }
}

template <class T>
ActGrad<T> Net<T>::act_grad(size_t s) {
    const Step& st = plan_[s];
    const T* y = col(st.y_col);
    const T* x = st.act.kind == Act::relu ? y
                 : st.kind == LayerKind::linear ? col(st.pre_col)
                                                : input_of(s);
    return {st.act, x, y};
}

template <class T>
void Net<T>::check_input(Input<T> x) const {
    require(!x.sparse() || plan_[0].kind == LayerKind::linear,
            "sparse input needs a network whose first layer is a Linear");
}

template <class T>
void Net<T>::linear_step(const Step& st, Input<T> x, index_t n, T* y, T* pre) const {
    const T* w = live() + st.w_off;
    const ActSpec* act = st.has_act ? &st.act : nullptr;
    if (x.sparse())
        linear_forward_csr(y, pre, x.csr, w, bias(st), n, st.out, act);
    else
        linear_forward(y, pre, x.x, w, bias(st), n, st.in, st.out, act);
}

template <class T>
void Net<T>::predict(Input<T> x, index_t n, T* y, T* scratch) const {
    check_input(x);
    if (n <= 0) return;
    // Dropout is the identity in inference; the rest ping-pongs between two
    // scratch buffers, the last step writing y. Activations run in place.
    size_t last = plan_.size() - 1;
    while (plan_[last].kind == LayerKind::dropout) --last;
    Input<T> in = x;
    int flip = 0;
    for (size_t s = 0; s <= last; ++s) {
        const Step& st = plan_[s];
        if (st.kind == LayerKind::dropout) continue;
        T* out = s == last ? y : scratch + flip * n * maxw_;
        if (st.kind == LayerKind::linear)
            linear_step(st, in, n, out, out);
        else
            act_forward(out, in.x, n * st.in, st.act);
        in = out;
        flip ^= 1;
    }
}

template <class T>
void Net<T>::ensure_workspace(index_t n) {
    if (n <= cap_) return;
    ws_.assign(size_t(ws_cols_ * n), T(0));
    cap_ = n;
}

template <class T>
const T* Net<T>::forward(Input<T> x, index_t n) {
    require(n > 0, "forward: empty batch");
    check_input(x);
    ensure_workspace(n);
    n_ = n;
    x_ = x;
    draw_ = dropout_draws;
    dropout_on_ = training;
    if (training) ++dropout_draws;
    for (size_t s = 0; s < plan_.size(); ++s) {
        const Step& st = plan_[s];
        const T* in = input_of(s);
        T* out = col(st.y_col);
        switch (st.kind) {
            case LayerKind::linear:
                linear_step(st, s ? Input<T>(in) : x, n, out,
                            st.pre_col >= 0 ? col(st.pre_col) : out);
                break;
            case LayerKind::activation: act_forward(out, in, n * st.in, st.act); break;
            case LayerKind::dropout:
                if (training)
                    dropout_forward(out, in, n * st.in, st.p, dropout_seed, dropout_stream(st));
                else
                    std::memcpy(out, in, sizeof(T) * size_t(n * st.in));
                break;
        }
    }
    have_forward_ = true;
    return col(plan_.back().y_col);
}

template <class T>
void Net<T>::backward(const T* gout, T* dx, bool accumulate) {
    if (!have_forward_) throw ProtocolError("backward() called before forward()");
    const index_t n = n_;
    T* g = grad_buf(0);
    T* other = grad_buf(1);
    if (gout != g) std::memcpy(g, gout, sizeof(T) * size_t(n * out_));
    start_grads(accumulate);
    if (deferring_) outer_rows_.resize(std::size_t(outer_room(n)));
    T* rows = outer_rows_.data();  // for the gradients left unformed
    for (size_t s = plan_.size(); s-- > 0;) {
        const Step& st = plan_[s];
        if (st.has_act && !st.dact_done) {
            const ActGrad<T> d = act_grad(s);
            act_backward(g, g, d.x, d.y, n * st.out, d.act);
        }
        if (st.kind == LayerKind::dropout && dropout_on_)
            dropout_backward(g, g, n * st.in, st.p, dropout_seed, dropout_stream(st));
        if (st.kind != LayerKind::linear) continue;
        T* db = st.b_off >= 0 ? grads_ + st.b_off : nullptr;
        if (s == 0 && x_.sparse()) {
            require(!dx, "backward: no input gradient for sparse input");
            linear_backward_csr(grads_ + st.w_off, db, g, x_.csr, n, st.in, st.out, accumulate);
            continue;
        }
        T* target = s ? other : dx;
        ActGrad<T> prev{};
        if (st.fuse_prev) prev = act_grad(s - 1);
        T* dw = grads_ + st.w_off;
        // The update forms dw = x^T g from copies of both, in blocks that stay in cache.
        if (deferring_ && st.in * st.out >= kOuterGradMin &&
            (n == 1 || double(n * st.out) * sizeof(T) <= kOuterGradMaxDyBytes)) {
            if (n == 1) {
                std::copy(input_of(s), input_of(s) + st.in, rows);
                std::copy(g, g + st.out, rows + st.in);
                outer_.push_back({dw, rows, rows + st.in, st.in, st.out, 1});
            } else {
                pack_outer(input_of(s), static_cast<const T*>(g), st.in, st.out, n, rows);
                outer_.push_back({dw, rows, nullptr, st.in, st.out, n});
            }
            rows += outer_values<T>(st.in, st.out, n);
            // As the product's column sums give it, from a zeroed db.
            if (db) {
                std::fill(db, db + st.out, T(0));
                colsum_block(db, rowmajor(static_cast<const T*>(g), st.out), n, 0, st.out);
            }
            dw = db = nullptr;
        }
        linear_backward(target, dw, db, g, input_of(s), live() + st.w_off, n, st.in, st.out,
                        accumulate, st.fuse_prev ? &prev : nullptr);
        if (s) std::swap(g, other);
    }
    // A network that starts with an activation or dropout: g holds dL/dx.
    if (dx && plan_[0].kind != LayerKind::linear) std::memcpy(dx, g, sizeof(T) * size_t(n * in_));
}

template <class T>
double Net<T>::weight_penalty(double coef) {
    double sum = 0.0;
    for (const Step& st : plan_) {
        if (st.kind != LayerKind::linear) continue;
        const T* w = live() + st.w_off;
        T* g = grads_ + st.w_off;
        const T c = T(coef);
        for (index_t i = 0, count = st.in * st.out; i < count; ++i) {
            sum += double(w[i]) * double(w[i]);
            if (coef != 0.0) g[i] += c * w[i];
        }
    }
    return 0.5 * sum;
}

template <class T>
bool Net<T>::takes_relu_mlp(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss,
                            bool accumulate) const {
    return relu_mlp_ && !x.sparse() && t.y && !t.w && !accumulate && loss.kind == LossKind::mse &&
           n > 0 && n <= kReluMlpMaxRows && plan_[0].out > 1 &&
           plan_[0].out <= ukernel<T>().relu_mlp_max_h;
}

template <class T>
double Net<T>::relu_mlp_loss_grad(const T* x, const T* y, index_t n, const LossSpec& loss) {
    const Step& hidden = plan_[0];
    const Step& output = plan_[1];
    const Targets<T> t{y, nullptr, nullptr};
    ReluMlpPass<T> p;
    p.n = n, p.d = hidden.in, p.h = hidden.out;
    p.x = x, p.y = y;
    p.w1 = live() + hidden.w_off, p.b1 = bias(hidden);
    p.w2 = live() + output.w_off, p.b2 = bias(output);
    p.scale = T(1.0 / loss_denominator(loss, t, n, 1));  // as loss_forward scales
    p.gw1 = grads_ + hidden.w_off, p.gw2 = grads_ + output.w_off;
    p.gb1 = hidden.b_off >= 0 ? grads_ + hidden.b_off : nullptr;
    p.gb2 = output.b_off >= 0 ? grads_ + output.b_off : nullptr;
    // Only the outputs, not the layers' workspace: n values.
    if (relu_mlp_out_.size() < size_t(n)) relu_mlp_out_.resize(size_t(n));
    p.out = relu_mlp_out_.data();
    ukernel<T>().relu_mlp(p);
    n_ = n;
    if (training) ++dropout_draws;  // as forward() counts
    return loss_forward(loss, p.out, t, n, 1, static_cast<T*>(nullptr));
}

template <class T>
StepLoss Net<T>::loss_grad(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss, double l2,
                           bool accumulate) {
    StepLoss r;
    start_grads(accumulate);
    if (takes_relu_mlp(x, t, n, loss, accumulate)) {
        have_forward_ = false;  // an earlier forward's cache may point at rows now gone
        r.value = relu_mlp_loss_grad(x.x, t.y, n, loss);
        if (!std::isfinite(r.value)) throw NonFiniteError("loss is " + std::to_string(r.value));
    } else {
        const T* out = forward(x, n);
        T* g = grad_buf(0);
        // Whatever happens next, the forward cache points at the caller's rows, which may
        // be gone (fit's batch buffers, a converted copy): backward() must not read them.
        struct Forget {
            bool& f;
            ~Forget() { f = false; }
        } forget{have_forward_};
        r.value = loss_forward(loss, out, t, n, out_, g);
        if (!std::isfinite(r.value)) throw NonFiniteError("loss is " + std::to_string(r.value));
        backward(g, nullptr, accumulate);
    }
    if (l2 != 0.0) {
        const double coef = l2 / loss_denominator(loss, t, n, out_);
        r.penalty = coef * weight_penalty(coef);
        r.value += r.penalty;
    }
    return r;
}

template <class T>
StepLoss Net<T>::train_step(Input<T> x, Targets<T> t, index_t n, const LossSpec& loss,
                            Optimizer<T>& opt, double clip_norm, double l2) {
    // Forming a weight gradient where the update reads it saves writing it and
    // reading it back. Fit steps of W-W-W-10 on Zen 5, formed / written: at batch 1,
    // W 256, 512, 1024, 1.17x, 1.14x, 1.11x faster at 1 thread, 1.16x, 1.26x, 1.31x
    // at 2 (W 128 level); at batches 8, 32, 64, W 1024 (past the L3) 1.10x, 1.13x,
    // 1.04x at 1 thread, 1.04x, 1.07x, 1.06x at 2, but W 512 at batches 8 and 32
    // 1.07x and 1.03x slower at 2 threads (its gradients stay in the L3 anyway).
    // Clipping and the penalty would read the gradients first.
    deferring_ = fitting_ && (n == 1 || (n <= kOuterGradMaxRows && past_l3_)) &&
                 clip_norm == 0.0 && l2 == 0.0;
    struct Reset {
        bool& f;
        ~Reset() { f = false; }
    } reset{deferring_};
    const StepLoss r = loss_grad(x, t, n, loss, l2);
    update(opt, clip_norm);
    return r;
}

template <class T>
void Net<T>::update(Optimizer<T>& opt, double clip_norm) {
    if (clip_norm > 0.0) {
        // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) if below 1.
        const double c = clip_norm / (grad_norm(opt.spans) + 1e-6);
        if (c < 1.0) scale(grads_, n_params_, T(c));
    }
    // The update itself checks gradients and new weights; on failure the
    // pre-step weights are kept, since an update can also overflow.
    auto failed = [&] {
        form_grads();
        return NonFiniteError(all_finite(grads_, n_params_)
                                  ? "update made a weight non-finite (learning rate too large?)"
                                  : "gradient is not finite");
    };
    if (alternating_) {
        T* const from = live();
        T* const to = from == params_ ? alt_.data() : params_;
        const typename Optimizer<T>::Moved moved{params_, from, to};
        if (!opt.step(nullptr, &moved, &outer_)) throw failed();
        live_.store(to, std::memory_order_release);
        return;
    }
    backup_.resize(std::size_t(opt.size()));
    if (!opt.step(backup_.data(), nullptr, &outer_)) {
        opt.restore(backup_.data());
        throw failed();
    }
}

template <class T>
void Net<T>::begin_fit(const Optimizer<T>& opt) {
    settle();
    fitting_ = true;
    // Each weight in exactly one span (the spans' lengths add up to n_params_, and
    // none leaves params_ or overlaps another), so an update writes all of alt_.
    const auto at = [&](const T* p) { return std::uintptr_t(p) - std::uintptr_t(params_); };
    const std::uintptr_t bytes = std::uintptr_t(n_params_) * sizeof(T);
    index_t total = 0;
    bool covers = n_params_ > 0;
    for (size_t i = 0; i < opt.spans.size() && covers; ++i) {
        const ParamSpan<T>& a = opt.spans[i];
        total += a.n;
        covers = at(a.data) <= bytes && std::uintptr_t(a.n) * sizeof(T) <= bytes - at(a.data) &&
                 at(a.data) % sizeof(T) == 0;
        for (size_t j = 0; j < i && covers; ++j) {
            const ParamSpan<T>& b = opt.spans[j];
            covers = at(a.data) + std::uintptr_t(a.n) * sizeof(T) <= at(b.data) ||
                     at(b.data) + std::uintptr_t(b.n) * sizeof(T) <= at(a.data);
        }
    }
    // Past the L3 a second array of weights costs more than a streamed backup: its
    // lines are read before they are written, and they evict the states (1024-wide
    // W-W-W-10 at batch 1 and 8, 2 threads, Zen 5: 0.89x and 0.92x).
    past_l3_ = opt.past_l3();
    alternating_ = covers && total == n_params_ && !past_l3_;
    if (alternating_) alt_.resize(std::size_t(n_params_));
}

template <class T>
void Net<T>::settle() {
    form_grads();
    T* const w = live();
    if (w == params_) return;
    std::copy(w, w + n_params_, params_);
    live_.store(params_, std::memory_order_release);
}

template <class T>
void Net<T>::end_fit() {
    settle();
    alternating_ = fitting_ = false;
}

template <class T>
index_t Net<T>::outer_room(index_t n) const {
    index_t room = 0;
    for (const Step& st : plan_)
        if (st.kind == LayerKind::linear)
            room += outer_values<T>(st.in, st.out, n);
    return room;
}

template <class T>
void Net<T>::start_grads(bool accumulate) {
    if (accumulate)
        form_grads();
    else
        outer_.clear();  // every gradient is written anew
}

template <class T>
void Net<T>::form_grads() {
    for (const OuterGrad<T>& o : outer_)
        form_outer(o, grads_ + (o.grad - grads_));
    outer_.clear();
}

template class Net<float>;
template class Net<double>;

}  // namespace fastmlp
