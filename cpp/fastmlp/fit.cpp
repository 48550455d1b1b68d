#include "fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "rng.h"

namespace fastmlp {

namespace {

// Copies the rows idx[0..b) of a dataset into contiguous batch buffers.
template <class T>
void gather(const Dataset<T>& d, index_t in, index_t out, const index_t* idx, index_t b, T* xb,
            T* yb, std::int64_t* lb) {
    for (index_t r = 0; r < b; ++r) {
        const index_t s = idx[r];
        std::copy(d.x + s * in, d.x + (s + 1) * in, xb + r * in);
        if (d.t.labels)
            lb[r] = d.t.labels[s];
        else
            std::copy(d.t.y + s * out, d.t.y + (s + 1) * out, yb + r * out);
    }
}

}  // namespace

template <class T>
FitResult fit(Net<T>& net, Optimizer<T>& opt, const LossSpec& loss, const Dataset<T>& train,
              const Dataset<T>* val, const FitOptions& o, const FitHook& hook) {
    using clock = std::chrono::steady_clock;
    const index_t n = train.n, in = net.in_features(), out = net.out_features();
    const index_t bs = o.batch_size > 0 ? std::min(o.batch_size, n) : n;
    const bool copy_rows = o.shuffle;
    std::vector<index_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), index_t(0));
    std::vector<T> xb(copy_rows ? size_t(bs * in) : 0), yb;
    std::vector<std::int64_t> lb;
    if (copy_rows) (train.t.labels ? lb.resize(size_t(bs)) : yb.resize(size_t(bs * out)));
    std::vector<T> vpred(val ? size_t(val->n * out) : 0), scratch;
    Rng rng(o.seed);
    FitResult res;
    res.loss.reserve(size_t(o.epochs));
    auto last_poll = clock::now();
    const auto poll = std::chrono::duration<double>(o.poll_seconds);
    net.training = true;

    for (index_t e = 1; e <= o.epochs; ++e) {
        if (o.shuffle)
            for (index_t i = n - 1; i > 0; --i)
                std::swap(order[size_t(i)], order[size_t(rng.below(std::uint64_t(i + 1)))]);
        double total = 0.0;
        for (index_t start = 0, step = 1; start < n; start += bs, ++step) {
            const index_t b = std::min(bs, n - start);
            const T* x = train.x + start * in;
            Targets<T> t = train.t;
            if (copy_rows) {
                gather(train, in, out, order.data() + start, b, xb.data(), yb.data(), lb.data());
                x = xb.data();
                t = {yb.empty() ? nullptr : yb.data(), lb.empty() ? nullptr : lb.data()};
            } else {
                t = {t.y ? t.y + start * out : nullptr, t.labels ? t.labels + start : nullptr};
            }
            try {
                const double l = net.train_step(x, t, b, loss, opt, o.clip_norm);
                total += loss.mean ? l * double(b) : l;
            } catch (const NonFiniteError& err) {
                throw NonFiniteError(std::string(err.what()) + " at epoch " + std::to_string(e) +
                                     ", step " + std::to_string(step));
            }
            if (clock::now() - last_poll >= poll) {
                hook(e, false, 0.0, 0.0);
                last_poll = clock::now();
            }
        }
        res.loss.push_back(loss.mean ? total / double(n) : total);
        if (val) {
            net.predict(val->x, val->n, vpred.data(), scratch);
            res.val_loss.push_back(loss_forward(loss, vpred.data(), val->t, val->n, out,
                                                static_cast<T*>(nullptr)));
        }
        if (o.log_every > 0 && e % o.log_every == 0) {
            hook(e, true, res.loss.back(), val ? res.val_loss.back() : NAN);
            last_poll = clock::now();
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
