// Full-batch L-BFGS: the unconstrained case of scipy's L-BFGS-B (which
// scikit-learn's solver="lbfgs" runs), with the same stopping rules.
#pragma once
#include <functional>
#include <string>

#include "fastmlp/fit.h"

namespace fastmlp {

struct LbfgsOptions {
    index_t max_iter = 200;   // iterations
    index_t max_fun = 15000;  // objective evaluations, checked after each iteration
    double gtol = 1e-5;       // converged when max |g_i| <= gtol
    double ftol = 2.220446049250313e-09;  // or (f_old - f) / max(|f_old|, |f|, 1) <= ftol
    int history = 10;         // correction pairs kept (scipy's maxcor)
    int max_ls = 20;          // evaluations per line search
};

enum class LbfgsStatus : int { converged = 0, limit = 1, line_search_failed = 2 };

struct LbfgsResult {
    double f = 0.0;
    index_t n_iter = 0, n_fun = 0;
    LbfgsStatus status = LbfgsStatus::converged;
    std::string message;
};

// f(x), writing the gradient into g (both n values).
using Objective = std::function<double(const double* x, double* g)>;
// Called after each iteration with its count and f; false stops (status limit).
using LbfgsHook = std::function<bool(index_t iter, double f)>;

// Minimises fg from x (updated in place to the last accepted iterate).
// Deterministic: plain loops in a fixed order.
LbfgsResult minimize_lbfgs(double* x, index_t n, const Objective& fg, const LbfgsOptions& o,
                           const LbfgsHook& hook);

// Trains the net on the whole data set: the objective is Net::loss_grad's on all
// rows (mean loss plus the l2 weight penalty), evaluated in fixed row blocks so
// memory stays bounded. The net's parameters end at the solution.
template <class T>
LbfgsResult fit_lbfgs(Net<T>& net, const LossSpec& loss, const Dataset<T>& data, double l2,
                      const LbfgsOptions& o, const LbfgsHook& hook);

}  // namespace fastmlp
