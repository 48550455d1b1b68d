#include "fastmlp/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace fastmlp {

namespace {

double dot(const double* a, const double* b, index_t n) {
    double s = 0.0;
    for (index_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

double max_abs(const double* a, index_t n) {
    double m = 0.0;
    for (index_t i = 0; i < n; ++i) m = std::max(m, std::abs(a[i]));
    return m;
}

// One safeguarded step of the Moré-Thuente line search (MINPACK-2's dcstep):
// from the interval end points x (best so far) and y and the trial t, each with
// its value f and derivative d, picks the next trial and updates the interval.
struct Point {
    double t, f, d;
};

void more_thuente_step(Point& x, Point& y, Point& trial, bool& bracketed, double tmin,
                       double tmax) {
    const double tp = trial.t, fp = trial.f, dp = trial.d;
    const double sgnd = dp * (x.d / std::abs(x.d));
    // The minimiser of the cubic through (x, trial), and of a quadratic or the secant.
    auto cubic_gamma = [](double theta, double da, double db) {
        const double s = std::max({std::abs(theta), std::abs(da), std::abs(db)});
        return s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (da / s) * (db / s)));
    };
    double next;
    if (fp > x.f) {
        // Higher value: the minimum lies between x and the trial.
        const double theta = 3.0 * (x.f - fp) / (tp - x.t) + x.d + dp;
        double gamma = cubic_gamma(theta, x.d, dp);
        if (tp < x.t) gamma = -gamma;
        const double p = (gamma - x.d) + theta, q = ((gamma - x.d) + gamma) + dp;
        const double tc = x.t + (p / q) * (tp - x.t);
        const double tq = x.t + ((x.d / ((x.f - fp) / (tp - x.t) + x.d)) / 2.0) * (tp - x.t);
        next = std::abs(tc - x.t) < std::abs(tq - x.t) ? tc : tc + (tq - tc) / 2.0;
        bracketed = true;
    } else if (sgnd < 0.0) {
        // Derivatives of opposite signs: bracketed.
        const double theta = 3.0 * (x.f - fp) / (tp - x.t) + x.d + dp;
        double gamma = cubic_gamma(theta, x.d, dp);
        if (tp > x.t) gamma = -gamma;
        const double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + x.d;
        const double tc = tp + (p / q) * (x.t - tp);
        const double tq = tp + (dp / (dp - x.d)) * (x.t - tp);
        next = std::abs(tc - tp) > std::abs(tq - tp) ? tc : tq;
        bracketed = true;
    } else if (std::abs(dp) < std::abs(x.d)) {
        // Same sign, shrinking derivative: the cubic may have no minimiser beyond.
        const double theta = 3.0 * (x.f - fp) / (tp - x.t) + x.d + dp;
        double gamma = cubic_gamma(theta, x.d, dp);
        if (tp > x.t) gamma = -gamma;
        const double p = (gamma - dp) + theta, q = (gamma + (x.d - dp)) + gamma;
        const double r = p / q;
        double tc;
        if (r < 0.0 && gamma != 0.0)
            tc = tp + r * (x.t - tp);
        else
            tc = tp > x.t ? tmax : tmin;
        const double tq = tp + (dp / (dp - x.d)) * (x.t - tp);
        if (bracketed) {
            next = std::abs(tc - tp) < std::abs(tq - tp) ? tc : tq;
            const double limit = tp + 0.66 * (y.t - tp);
            next = tp > x.t ? std::min(limit, next) : std::max(limit, next);
        } else {
            next = std::abs(tc - tp) > std::abs(tq - tp) ? tc : tq;
            next = std::clamp(next, tmin, tmax);
        }
    } else {
        // Same sign, derivative not shrinking: extrapolate, or use y's cubic.
        if (bracketed) {
            const double theta = 3.0 * (fp - y.f) / (y.t - tp) + y.d + dp;
            double gamma = cubic_gamma(theta, y.d, dp);
            if (tp > y.t) gamma = -gamma;
            const double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + y.d;
            next = tp + (p / q) * (y.t - tp);
        } else {
            next = tp > x.t ? tmax : tmin;
        }
    }
    if (fp > x.f) {
        y = trial;
    } else {
        if (sgnd < 0.0) y = x;
        x = trial;
    }
    trial.t = next;
}

// Moré-Thuente search for a step meeting the strong Wolfe conditions
// (sufficient decrease 1e-3, curvature 0.9, interval tolerance 0.1), as
// MINPACK-2's dcsrch with L-BFGS-B's settings. State between evaluations.
class LineSearch {
public:
    LineSearch(double f0, double d0, double step, double step_max)
        : f0_(f0), dtest_(kFtol * d0), width_(step_max), width1_(2.0 * step_max),
          x_{0.0, f0, d0}, y_{0.0, f0, d0}, tmax_bound_(step_max), d0_(d0) {
        lo_ = 0.0;
        hi_ = step + kExtrapUpper * step;
        trial_ = step;
    }
    double step() const { return trial_; }
    // Given f and its directional derivative at step(): true when the search is
    // done (the step is accepted); otherwise step() is the next trial.
    bool update(double f, double d) {
        const double t = trial_;
        const double ftest = f0_ + t * dtest_;
        if (stage1_ && f <= ftest && d >= 0.0) stage1_ = false;
        // Converged, or no further progress possible: accept the step.
        if (f <= ftest && std::abs(d) <= kGtol * -d0_) return true;
        if (bracketed_ && (t <= lo_ || t >= hi_)) return true;
        if (bracketed_ && hi_ - lo_ <= kXtol * hi_) return true;
        if (t == tmax_bound_ && f <= ftest && d <= dtest_) return true;
        Point trial{t, f, d};
        if (stage1_ && f <= x_.f && f > ftest) {
            // The modified function f - t * dtest until a point of sufficient decrease.
            Point xm{x_.t, x_.f - x_.t * dtest_, x_.d - dtest_};
            Point ym{y_.t, y_.f - y_.t * dtest_, y_.d - dtest_};
            Point tm{t, f - t * dtest_, d - dtest_};
            more_thuente_step(xm, ym, tm, bracketed_, lo_, hi_);
            x_ = {xm.t, xm.f + xm.t * dtest_, xm.d + dtest_};
            y_ = {ym.t, ym.f + ym.t * dtest_, ym.d + dtest_};
            trial_ = tm.t;
        } else {
            more_thuente_step(x_, y_, trial, bracketed_, lo_, hi_);
            trial_ = trial.t;
        }
        if (bracketed_) {
            // Bisect when the interval does not shrink fast enough.
            if (std::abs(y_.t - x_.t) >= 0.66 * width1_) trial_ = x_.t + 0.5 * (y_.t - x_.t);
            width1_ = width_;
            width_ = std::abs(y_.t - x_.t);
            lo_ = std::min(x_.t, y_.t);
            hi_ = std::max(x_.t, y_.t);
        } else {
            lo_ = trial_ + kExtrapLower * (trial_ - x_.t);
            hi_ = trial_ + kExtrapUpper * (trial_ - x_.t);
        }
        trial_ = std::clamp(trial_, 0.0, tmax_bound_);
        if ((bracketed_ && (trial_ <= lo_ || trial_ >= hi_)) ||
            (bracketed_ && hi_ - lo_ <= kXtol * hi_))
            trial_ = x_.t;
        return false;
    }
    // A trial whose value is not finite: retreat towards the best point.
    void shrink() {
        hi_ = trial_;
        trial_ = x_.t + 0.1 * (trial_ - x_.t);
    }

private:
    static constexpr double kFtol = 1e-3, kGtol = 0.9, kXtol = 0.1;
    static constexpr double kExtrapLower = 1.1, kExtrapUpper = 4.0;
    double f0_, dtest_, width_, width1_;
    Point x_, y_;
    double tmax_bound_, d0_;
    double lo_ = 0.0, hi_ = 0.0, trial_ = 0.0;
    bool bracketed_ = false, stage1_ = true;
};

// The correction pairs (s, y) in a ring, and the two-loop recursion over them.
class History {
public:
    History(index_t n, int m) : n_(n), m_(m), s_(size_t(n * m)), y_(size_t(n * m)), rho_(size_t(m)),
                                alpha_(size_t(m)) {}
    void clear() {
        count_ = 0;
        gamma_ = 1.0;
    }
    bool empty() const { return count_ == 0; }
    // Keeps the pair when s'y > eps * (-s'g_old), L-BFGS-B's curvature test.
    void push(const double* s, const double* y, double sg_old) {
        const double sy = dot(s, y, n_);
        if (sy <= std::numeric_limits<double>::epsilon() * -sg_old) return;
        const int slot = int((head_ + count_) % m_);
        if (count_ < m_) ++count_;
        else head_ = (head_ + 1) % m_;
        std::copy(s, s + n_, &s_[size_t(slot * n_)]);
        std::copy(y, y + n_, &y_[size_t(slot * n_)]);
        rho_[size_t(slot)] = 1.0 / sy;
        gamma_ = sy / dot(y, y, n_);
    }
    // d = -H g.
    void direction(const double* g, double* d) {
        for (index_t i = 0; i < n_; ++i) d[i] = -g[i];
        for (int k = count_ - 1; k >= 0; --k) {
            const int j = (head_ + k) % m_;
            const double a = rho_[size_t(j)] * dot(&s_[size_t(j * n_)], d, n_);
            alpha_[size_t(j)] = a;
            const double* y = &y_[size_t(j * n_)];
            for (index_t i = 0; i < n_; ++i) d[i] -= a * y[i];
        }
        for (index_t i = 0; i < n_; ++i) d[i] *= gamma_;
        for (int k = 0; k < count_; ++k) {
            const int j = (head_ + k) % m_;
            const double b = rho_[size_t(j)] * dot(&y_[size_t(j * n_)], d, n_);
            const double* s = &s_[size_t(j * n_)];
            const double a = alpha_[size_t(j)];
            for (index_t i = 0; i < n_; ++i) d[i] += (a - b) * s[i];
        }
    }

private:
    index_t n_;
    int m_, head_ = 0, count_ = 0;
    std::vector<double> s_, y_, rho_, alpha_;
    double gamma_ = 1.0;
};

constexpr double kStepMax = 1e10;

}  // namespace

LbfgsResult minimize_lbfgs(double* x, index_t n, const Objective& fg, const LbfgsOptions& o,
                           const LbfgsHook& hook) {
    require(o.max_iter > 0 && o.max_fun > 0 && o.history > 0 && o.max_ls > 0,
            "lbfgs: max_iter, max_fun, history and max_ls must be positive");
    const size_t len = size_t(n);
    std::vector<double> g(len), d(len), x_old(len), g_old(len), s(len), y(len);
    LbfgsResult r;
    double f = fg(x, g.data());
    r.n_fun = 1;
    if (!std::isfinite(f)) throw NonFiniteError("lbfgs: the objective at the start is not finite");
    History mem(n, o.history);
    auto done = [&](LbfgsStatus status, const char* message) {
        r.f = f;
        r.status = status;
        r.message = message;
        return r;
    };
    if (max_abs(g.data(), n) <= o.gtol)
        return done(LbfgsStatus::converged, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL");
    for (;;) {
        // A line search that fails after steepest descent ends the run; after a
        // quasi-Newton direction it drops the history and retries once from here.
        mem.direction(g.data(), d.data());
        const double d0 = dot(g.data(), d.data(), n);
        std::copy(x, x + n, x_old.begin());
        std::copy(g.begin(), g.end(), g_old.begin());
        const double f_old = f;
        bool accepted = false;
        if (d0 < 0.0) {
            const double step0 = r.n_iter == 0 && mem.empty()
                                     ? std::min(1.0 / std::sqrt(dot(d.data(), d.data(), n)), kStepMax)
                                     : 1.0;
            LineSearch ls(f, d0, step0, kStepMax);
            for (int evals = 0; evals < o.max_ls && !accepted; ++evals) {
                const double t = ls.step();
                for (index_t i = 0; i < n; ++i) x[i] = x_old[size_t(i)] + t * d[size_t(i)];
                f = fg(x, g.data());
                ++r.n_fun;
                if (!std::isfinite(f)) {
                    ls.shrink();
                    continue;
                }
                accepted = ls.update(f, dot(g.data(), d.data(), n));
            }
        }
        if (!accepted) {
            std::copy(x_old.begin(), x_old.end(), x);
            std::copy(g_old.begin(), g_old.end(), g.begin());
            f = f_old;
            if (mem.empty())
                return done(LbfgsStatus::line_search_failed, "ABNORMAL_TERMINATION_IN_LNSRCH");
            mem.clear();
            continue;
        }
        ++r.n_iter;
        if (!hook(r.n_iter, f)) return done(LbfgsStatus::limit, "STOP: stopped by the caller");
        if (r.n_iter >= o.max_iter)
            return done(LbfgsStatus::limit, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT");
        if (r.n_fun > o.max_fun)
            return done(LbfgsStatus::limit, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT");
        if (max_abs(g.data(), n) <= o.gtol)
            return done(LbfgsStatus::converged, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL");
        if (f_old - f <= o.ftol * std::max({std::abs(f_old), std::abs(f), 1.0}))
            return done(LbfgsStatus::converged,
                        "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH");
        for (index_t i = 0; i < n; ++i) {
            s[size_t(i)] = x[i] - x_old[size_t(i)];
            y[size_t(i)] = g[size_t(i)] - g_old[size_t(i)];
        }
        mem.push(s.data(), y.data(), dot(s.data(), g_old.data(), n));
    }
}

template <class T>
LbfgsResult fit_lbfgs(Net<T>& net, const LossSpec& loss, const Dataset<T>& data, double l2,
                      const LbfgsOptions& o, const LbfgsHook& hook) {
    // Rows per block: a fixed number, so the sums' order depends on the shapes only.
    constexpr index_t kBlock = 4096;
    const index_t n = data.n, in = net.in_features(), out = net.out_features();
    require(n > 0, "lbfgs: empty data");
    const index_t np = net.param_count();
    T* p = net.params();
    T* g = net.grads();
    LossSpec summed = loss;
    summed.mean = false;
    const double denom = loss_denominator(loss, data.t, n, out);
    const Objective fg = [&](const double* x, double* grad) {
        for (index_t i = 0; i < np; ++i) p[i] = T(x[i]);
        double total = 0.0;
        try {
            for (index_t start = 0; start < n; start += kBlock) {
                const index_t b = std::min(kBlock, n - start);
                total += net.loss_grad(data.x.from(start, in), rows_of(data.t, start, out), b, summed,
                                       0.0, start > 0)
                             .value;
            }
        } catch (const NonFiniteError&) {
            return std::numeric_limits<double>::infinity();
        }
        const double scale = 1.0 / denom;
        for (index_t i = 0; i < np; ++i) g[i] = T(double(g[i]) * scale);
        double value = total * scale;
        if (l2 != 0.0) value += (l2 * scale) * net.weight_penalty(l2 * scale);
        for (index_t i = 0; i < np; ++i) grad[i] = double(g[i]);
        return all_finite(g, np) ? value : std::numeric_limits<double>::infinity();
    };
    std::vector<double> x(p, p + np);
    const LbfgsResult r = minimize_lbfgs(x.data(), np, fg, o, hook);
    for (index_t i = 0; i < np; ++i) p[i] = T(x[size_t(i)]);
    return r;
}

template LbfgsResult fit_lbfgs<float>(Net<float>&, const LossSpec&, const Dataset<float>&, double,
                                      const LbfgsOptions&, const LbfgsHook&);
template LbfgsResult fit_lbfgs<double>(Net<double>&, const LossSpec&, const Dataset<double>&,
                                       double, const LbfgsOptions&, const LbfgsHook&);

}  // namespace fastmlp
