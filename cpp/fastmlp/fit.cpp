#include "fastmlp/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <numeric>
#include <type_traits>
#include <utility>

#include "fastmlp/rng.h"
#include "fastmlp/thread_exit.h"

namespace fastmlp {

namespace {

// Contiguous buffers for a batch of gathered rows: x holds dense rows, or the
// values of CSR rows, whose column indices and offsets go to indices and indptr.
template <class T>
struct Batch {
    std::vector<T> x, y, w;
    std::vector<std::int64_t> labels;
    std::vector<index_t> indptr, indices;
};

// The most values any b of the n rows of c store: the b longest rows' total.
template <class T>
index_t most_stored(const Csr<T>& c, index_t n, index_t b) {
    std::vector<index_t> len(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) len[size_t(i)] = c.indptr[i + 1] - c.indptr[i];
    std::nth_element(len.begin(), len.begin() + (b - 1), len.end(), std::greater<index_t>());
    return std::accumulate(len.begin(), len.begin() + b, index_t(0));
}

// Copies the rows idx[0..b) of a dataset into the batch buffers.
template <class T, class I>
std::pair<Input<T>, Targets<T>> gather(const Dataset<T>& d, index_t in, index_t out,
                                       const I* idx, index_t b, Batch<T>& bt) {
    const bool sparse = d.x.sparse();
    if (sparse) bt.indptr[0] = 0;
    for (index_t r = 0; r < b; ++r) {
        const index_t s = index_t(idx[r]);
        if (sparse) {
            const Csr<T>& c = d.x.csr;
            const index_t begin = c.indptr[s], end = c.indptr[s + 1], at = bt.indptr[size_t(r)];
            std::copy(c.indices + begin, c.indices + end, bt.indices.data() + at);
            std::copy(c.data + begin, c.data + end, bt.x.data() + at);
            bt.indptr[size_t(r + 1)] = at + (end - begin);
        } else {
            std::copy(d.x.x + s * in, d.x.x + (s + 1) * in, bt.x.data() + r * in);
        }
        if (d.t.labels)
            bt.labels[size_t(r)] = d.t.labels[s];
        else
            std::copy(d.t.y + s * out, d.t.y + (s + 1) * out, bt.y.data() + r * out);
        if (d.t.w) bt.w[size_t(r)] = d.t.w[s];
    }
    const Input<T> x = sparse ? Input<T>(Csr<T>{bt.indptr.data(), bt.indices.data(), bt.x.data()})
                              : Input<T>(bt.x.data());
    return {x, Targets<T>{d.t.labels ? nullptr : bt.y.data(),
                          d.t.labels ? bt.labels.data() : nullptr, d.t.w ? bt.w.data() : nullptr}};
}

// Checks that a resumed run's sample order is a permutation of 0..n-1.
void check_order(SampleOrder& order, index_t n) {
    require(order.size() == n, "resume: the sample order has " + std::to_string(order.size()) +
                                   " entries, the data " + std::to_string(n) + " samples");
    std::vector<bool> seen(size_t(n), false);
    order.visit([&](const auto& v) {
        for (const auto i : v) {
            require(index_t(i) >= 0 && index_t(i) < n && !seen[size_t(i)],
                    "resume: the sample order is not a permutation");
            seen[size_t(i)] = true;
        }
    });
}

// err with where it happened, when known.
NonFiniteError located(const NonFiniteError& err, index_t epoch, index_t step) {
    if (epoch == 0) return err;
    return NonFiniteError(std::string(err.what()) + " at epoch " + std::to_string(epoch) +
                          ", step " + std::to_string(step));
}

// What a batch counts for in the epoch's mean loss: its samples, or (mean) their weights.
template <class T>
double batch_weight(Targets<T> t, index_t b, const LossSpec& loss) {
    return t.w && loss.mean ? std::accumulate(t.w, t.w + b, 0.0) : double(b);
}

// sync.sum with this process's error, if any, flagged and carried.
template <class T>
void synced_sum(const FitSync<T>& sync, bool grads, std::exception_ptr error) {
    sync.extras[kSyncFailed] = error ? T(1) : T(0);
    sync.sum(grads, error);
    if (error) std::rethrow_exception(error);  // sum throws first; never left unraised
}

}  // namespace

template <class T>
StepLoss sync_step(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, Input<T> x,
                   Targets<T> t, index_t b, double clip_norm, double l2, const FitSync<T>& sync,
                   std::exception_ptr error, double* seen, index_t epoch, index_t step) {
    T* ex = sync.extras;
    T* g = net.grads();
    const index_t np = net.param_count();
    std::fill(ex, ex + kSyncSlots, T(0));
    bool computed = false;
    if (!error && b > 0) {
        try {
            // The penalty waits for the global denominator.
            const StepLoss l = net.loss_grad(x, t, b, loss);
            const double weight = batch_weight(t, b, loss);
            // Each process's mean times its denominator: the sum over the processes is the
            // sum over the global batch, which the global denominator then divides.
            const double denom = loss.mean && weight > 0.0
                                     ? loss_denominator(loss, t, b, net.out_features()) : 0.0;
            if (loss.mean) scale(g, np, T(denom));
            ex[kSyncDenominator] = T(denom);
            ex[kSyncLoss] = T(loss.mean ? l.value * denom : l.value);
            ex[kSyncSeen] = T(weight);
            computed = true;
        } catch (const NonFiniteError& err) {
            error = std::make_exception_ptr(located(err, epoch, step));
        } catch (...) {
            error = std::current_exception();
        }
    }
    if (!computed) std::fill(g, g + np, T(0));
    synced_sum(sync, true, error);
    const double denom = loss.mean && double(ex[kSyncDenominator]) > 0.0
                             ? double(ex[kSyncDenominator]) : 1.0;
    if (loss.mean) scale(g, np, T(1.0 / denom));
    StepLoss r;
    r.value = double(ex[kSyncLoss]) / denom;
    if (l2 != 0.0) {
        const double coef = l2 / denom;
        r.penalty = coef * net.weight_penalty(coef);
        r.value += r.penalty;
    }
    *seen = double(ex[kSyncSeen]);
    try {
        net.update(opt, clip_norm);
    } catch (const NonFiniteError& err) {
        throw located(err, epoch, step);
    }
    return r;
}

void SampleOrder::identity(index_t n, bool wide) {
    wide_ = wide || n > index_t(UINT32_MAX);
    narrow_v_.clear();
    wide_v_.clear();
    visit([&](auto& v) {
        using E = typename std::decay_t<decltype(v)>::value_type;  // (an int start would overflow)
        v.resize(size_t(n));
        std::iota(v.begin(), v.end(), E(0));
    });
}

void SampleOrder::assign(const std::int64_t* values, index_t n, bool wide) {
    // Entries outside 0..n-1 make it wide, so check_order sees them as they are.
    wide_ = wide || n > index_t(UINT32_MAX) ||
            std::any_of(values, values + n, [](std::int64_t v) { return v < 0 || v > UINT32_MAX; });
    narrow_v_.clear();
    wide_v_.clear();
    visit([&](auto& v) {
        using E = typename std::decay_t<decltype(v)>::value_type;
        v.resize(size_t(n));
        for (index_t i = 0; i < n; ++i) v[size_t(i)] = E(values[i]);
    });
}

std::vector<std::int64_t> SampleOrder::values() const {
    std::vector<std::int64_t> out(static_cast<size_t>(size()));
    for (size_t i = 0; i < out.size(); ++i) out[i] = wide_ ? wide_v_[i] : narrow_v_[i];
    return out;
}

template <class T>
FitResult fit(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, const Dataset<T>& train,
              const Dataset<T>* val, const FitOptions& o, const FitHook& fit_hook,
              FitState* state, const FitSync<T>* sync) {
    using clock = std::chrono::steady_clock;
    // The updates alternate the weights between two arrays, with no backup copied
    // per step (fit steps at batch 1 of 256- and 512-wide nets 1.08x and 1.17x
    // faster on Zen 5), and one-row steps leave weight gradients to the update
    // (Net::begin_fit); the net's own arrays hold both whenever the caller may
    // look: in the hook and after fit, however it ends.
    struct Fitting {
        Net<T>& net;
        ~Fitting() { net.end_fit(); }
    } fitting{net};
    net.begin_fit(opt);
    const auto hook = [&](index_t e, bool report, double l, double p, double v) {
        net.settle();
        return fit_hook(e, report, l, p, v);
    };
    const index_t n = train.n, in = net.in_features(), out = net.out_features();
    const index_t bs = o.batch_size > 0 ? std::min(o.batch_size, n) : n;
    const index_t steps = o.steps > 0 ? o.steps : (n + bs - 1) / bs;
    FitState fresh;
    FitState& st = state ? *state : fresh;
    if (st.epoch == 0) st.rng = o.seed;
    // With sync, a failure of this process travels with the next sum instead of leaving the
    // others waiting in it.
    std::exception_ptr pending;
    try {
        if (o.shuffle) {
            if (st.order.empty())
                st.order.identity(n);
            else
                check_order(st.order, n);
        }
    } catch (...) {
        if (!sync) throw;
        pending = std::current_exception();
    }
    Batch<T> batch;
    if (o.shuffle) {
        if (train.x.sparse()) {
            const index_t cap = most_stored(train.x.csr, n, bs);
            batch.x.resize(size_t(cap));
            batch.indices.resize(size_t(cap));
            batch.indptr.resize(size_t(bs + 1));
        } else {
            batch.x.resize(size_t(bs * in));
        }
        (train.t.labels ? batch.labels.resize(size_t(bs)) : batch.y.resize(size_t(bs * out)));
        if (train.t.w) batch.w.resize(size_t(bs));
    }
    std::vector<T> vpred(val ? size_t(val->n * out) : 0),
        scratch(val ? size_t(net.predict_scratch(val->n)) : 0);
    Rng rng(st.rng);
    FitResult& res = st.result;
    res = FitResult{};
    res.loss.reserve(size_t(std::max(o.epochs - st.epoch, index_t(0))));
    auto last_poll = clock::now();
    const auto poll = std::chrono::duration<double>(o.poll_seconds);

    for (index_t e = st.epoch + 1; e <= o.epochs; ++e) {
        if (o.shuffle)
            st.order.visit([&](auto& order) {
                for (index_t i = n - 1; i > 0; --i)
                    std::swap(order[size_t(i)], order[size_t(rng.below(std::uint64_t(i + 1)))]);
            });
        double total = 0.0, penalty = 0.0, seen = 0.0;  // seen: samples, or their weights
        for (index_t step = 1; step <= steps; ++step) {
            const index_t start = (step - 1) * bs, b = start < n ? std::min(bs, n - start) : 0;
            if (sync) {
                // Polled before the step, so that an interrupt travels with its sum.
                if (clock::now() - last_poll >= poll) {
                    try {
                        hook(e, false, 0.0, 0.0, 0.0);
                    } FASTMLP_PASS_THREAD_EXIT catch (...) {
                        if (!pending) pending = std::current_exception();
                    }
                    last_poll = clock::now();
                }
            }
            std::pair<Input<T>, Targets<T>> xt;
            if (b == 0)
                xt = {train.x, train.t};  // unused: this shard has no batch left
            else if (o.shuffle)
                st.order.visit([&](const auto& order) {
                    xt = gather(train, in, out, order.data() + start, b, batch);
                });
            else
                xt = {train.x.from(start, in), rows_of(train.t, start, out)};
            const auto& [x, t] = xt;
            StepLoss l;
            // The epoch's loss is the (weighted) per-sample mean over all batches.
            double weight = 0.0;
            if (sync) {
                std::exception_ptr error = std::exchange(pending, nullptr);
                l = sync_step(net, opt, loss, x, t, b, o.clip_norm, o.l2, *sync, error, &weight,
                              e, step);
            } else {
                try {
                    l = net.train_step(x, t, b, loss, opt, o.clip_norm, o.l2);
                } catch (const NonFiniteError& err) {
                    throw located(err, e, step);
                }
                weight = batch_weight(t, b, loss);
            }
            total += loss.mean ? l.value * weight : l.value;
            penalty += loss.mean ? l.penalty * weight : l.penalty;
            seen += weight;
            if (!sync && clock::now() - last_poll >= poll) {
                hook(e, false, 0.0, 0.0, 0.0);
                last_poll = clock::now();
            }
        }
        res.loss.push_back(seen > 0.0 ? total / seen : 0.0);
        res.penalty.push_back(seen > 0.0 ? penalty / seen : 0.0);
        if (val) {
            net.predict(val->x, val->n, vpred.data(), scratch.data());
            double vl = loss_forward(loss, vpred.data(), val->t, val->n, out,
                                     static_cast<T*>(nullptr));
            if (sync) {  // the mean over every process's validation rows
                const double denom = loss_denominator(loss, val->t, val->n, out);
                T* ex = sync->extras;
                std::fill(ex, ex + kSyncSlots, T(0));
                ex[kSyncDenominator] = T(loss.mean ? denom : 0.0);
                ex[kSyncLoss] = T(loss.mean ? vl * denom : vl);
                synced_sum(*sync, false, std::exchange(pending, nullptr));
                vl = loss.mean ? double(ex[kSyncLoss]) / double(ex[kSyncDenominator])
                               : double(ex[kSyncLoss]);
            }
            res.val_loss.push_back(vl);
        }
        st.epoch = e;
        st.rng = rng.state;
        if (o.report_every > 0 && e % o.report_every == 0) {
            const double vl = val ? res.val_loss.back() : NAN;
            bool go_on = true;
            if (sync) {  // every process stops when any asks to, or fails
                try {
                    go_on = hook(e, true, res.loss.back(), res.penalty.back(), vl);
                } FASTMLP_PASS_THREAD_EXIT catch (...) {
                    if (!pending) pending = std::current_exception();
                }
                std::fill(sync->extras, sync->extras + kSyncSlots, T(0));
                sync->extras[kSyncStop] = go_on ? T(0) : T(1);
                synced_sum(*sync, false, std::exchange(pending, nullptr));
                go_on = sync->extras[kSyncStop] == T(0);
            } else {
                go_on = hook(e, true, res.loss.back(), res.penalty.back(), vl);
            }
            last_poll = clock::now();
            if (!go_on) break;
        }
    }
    if (pending) std::rethrow_exception(pending);  // no epoch left to carry it
    return res;
}

template FitResult fit<float>(Net<float>&, Optimizer<float>&, const LossSpec&,
                              const Dataset<float>&, const Dataset<float>*, const FitOptions&,
                              const FitHook&, FitState*, const FitSync<float>*);
template FitResult fit<double>(Net<double>&, Optimizer<double>&, const LossSpec&,
                               const Dataset<double>&, const Dataset<double>*, const FitOptions&,
                               const FitHook&, FitState*, const FitSync<double>*);
template StepLoss sync_step<float>(Net<float>&, Optimizer<float>&, const LossSpec&, Input<float>,
                                   Targets<float>, index_t, double, double,
                                   const FitSync<float>&, std::exception_ptr, double*, index_t,
                                   index_t);
template StepLoss sync_step<double>(Net<double>&, Optimizer<double>&, const LossSpec&,
                                    Input<double>, Targets<double>, index_t, double, double,
                                    const FitSync<double>&, std::exception_ptr, double*, index_t,
                                    index_t);

}  // namespace fastmlp
