#include "fastmlp/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "fastmlp/rng.h"

namespace fastmlp {

namespace {

// Copies the rows idx[0..b) of a dataset into contiguous batch buffers.
template <class T>
struct Batch {
    std::vector<T> x, y, w;
    std::vector<std::int64_t> labels;
};

template <class T>
Targets<T> gather(const Dataset<T>& d, index_t in, index_t out, const index_t* idx, index_t b,
                  Batch<T>& bt) {
    for (index_t r = 0; r < b; ++r) {
        const index_t s = idx[r];
        std::copy(d.x + s * in, d.x + (s + 1) * in, bt.x.data() + r * in);
        if (d.t.labels)
            bt.labels[size_t(r)] = d.t.labels[s];
        else
            std::copy(d.t.y + s * out, d.t.y + (s + 1) * out, bt.y.data() + r * out);
        if (d.t.w) bt.w[size_t(r)] = d.t.w[s];
    }
    return {d.t.labels ? nullptr : bt.y.data(), d.t.labels ? bt.labels.data() : nullptr,
            d.t.w ? bt.w.data() : nullptr};
}

}  // namespace

template <class T>
FitResult fit(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, const Dataset<T>& train,
              const Dataset<T>* val, const FitOptions& o, const FitHook& hook) {
    using clock = std::chrono::steady_clock;
    const index_t n = train.n, in = net.in_features(), out = net.out_features();
    const index_t bs = o.batch_size > 0 ? std::min(o.batch_size, n) : n;
    std::vector<index_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), index_t(0));
    Batch<T> batch;
    if (o.shuffle) {
        batch.x.resize(size_t(bs * in));
        (train.t.labels ? batch.labels.resize(size_t(bs)) : batch.y.resize(size_t(bs * out)));
        if (train.t.w) batch.w.resize(size_t(bs));
    }
    std::vector<T> vpred(val ? size_t(val->n * out) : 0),
        scratch(val ? size_t(net.predict_scratch(val->n)) : 0);
    Rng rng(o.seed);
    FitResult res;
    res.loss.reserve(size_t(o.epochs));
    auto last_poll = clock::now();
    const auto poll = std::chrono::duration<double>(o.poll_seconds);

    for (index_t e = 1; e <= o.epochs; ++e) {
        if (o.shuffle)
            for (index_t i = n - 1; i > 0; --i)
                std::swap(order[size_t(i)], order[size_t(rng.below(std::uint64_t(i + 1)))]);
        double total = 0.0, penalty = 0.0, seen = 0.0;  // seen: samples, or their weights
        for (index_t start = 0, step = 1; start < n; start += bs, ++step) {
            const index_t b = std::min(bs, n - start);
            const T* x = o.shuffle ? batch.x.data() : train.x + start * in;
            const Targets<T> t = o.shuffle
                                     ? gather(train, in, out, order.data() + start, b, batch)
                                     : rows_of(train.t, start, out);
            try {
                const StepLoss l = net.train_step(x, t, b, loss, opt, o.clip_norm, o.l2);
                // The epoch's loss is the (weighted) per-sample mean over all batches.
                double weight = double(b);
                if (t.w && loss.mean) weight = std::accumulate(t.w, t.w + b, 0.0);
                total += loss.mean ? l.value * weight : l.value;
                penalty += loss.mean ? l.penalty * weight : l.penalty;
                seen += weight;
            } catch (const NonFiniteError& err) {
                throw NonFiniteError(std::string(err.what()) + " at epoch " + std::to_string(e) +
                                     ", step " + std::to_string(step));
            }
            if (clock::now() - last_poll >= poll) {
                hook(e, false, 0.0, 0.0, 0.0);
                last_poll = clock::now();
            }
        }
        res.loss.push_back(seen > 0.0 ? total / seen : 0.0);
        res.penalty.push_back(seen > 0.0 ? penalty / seen : 0.0);
        if (val) {
            net.predict(val->x, val->n, vpred.data(), scratch.data());
            res.val_loss.push_back(loss_forward(loss, vpred.data(), val->t, val->n, out,
                                                static_cast<T*>(nullptr)));
        }
        if (o.report_every > 0 && e % o.report_every == 0) {
            const bool go_on = hook(e, true, res.loss.back(), res.penalty.back(),
                                    val ? res.val_loss.back() : NAN);
            last_poll = clock::now();
            if (!go_on) break;
        }
    }
    return res;
}

template FitResult fit<float>(Net<float>&, Optimizer<float>&, const LossSpec&,
                              const Dataset<float>&, const Dataset<float>*, const FitOptions&,
                              const FitHook&);
template FitResult fit<double>(Net<double>&, Optimizer<double>&, const LossSpec&,
                               const Dataset<double>&, const Dataset<double>*, const FitOptions&,
                               const FitHook&);

}  // namespace fastmlp
