"""fastmlp.sklearn's estimators against scikit-learn's: the same constructor arguments on
scikit-learn's bundled data sets, each solver; test score side by side and the whole-fit
time ratio (scikit-learn's time / fastmlp's, medians of interleaved repeats).

    python bench/sklearn_estimators.py [--threads 1] [--repeats 5]

Both sides are pinned to the same thread count (fastmlp's own setting; NumPy's BLAS
through threadpoolctl when installed). Unset OPENBLAS_CORETYPE for a fair NumPy.
"""
import argparse
import statistics
import time
import warnings

import numpy as np
import sklearn
import sklearn.neural_network as sknn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastmlp as fm
import fastmlp.sklearn as fsk

DATASETS = {"digits": (load_digits, "MLPClassifier"),
            "breast_cancer": (load_breast_cancer, "MLPClassifier"),
            "diabetes": (load_diabetes, "MLPRegressor")}
SOLVERS = ("lbfgs", "adam", "sgd")


def split(name):
    load, _ = DATASETS[name]
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if name == "diabetes":
        y = (y - y.mean()) / y.std()
    return train_test_split(X, y, random_state=0)


def params(name, solver):
    return dict(hidden_layer_sizes=(64,), solver=solver, max_iter=300, random_state=0,
                learning_rate_init=0.01 if solver == "sgd" else 0.001,
                alpha=1.0 if name == "diabetes" else 1e-4)


def timed_fit(est, X, y):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return time.perf_counter() - t0


def row(name, solver, repeats):
    Xt, Xs, yt, ys = split(name)
    cls = DATASETS[name][1]
    makers = {"fastmlp": lambda: getattr(fsk, cls)(**params(name, solver)),
              "fastmlp f64": lambda: getattr(fsk, cls)(dtype="float64", **params(name, solver)),
              "sklearn": lambda: getattr(sknn, cls)(**params(name, solver))}
    times = {k: [] for k in makers}
    fitted = {}
    timed_fit(makers["fastmlp"](), Xt, yt)  # warm-up: imports, first allocations
    for _ in range(repeats):  # interleaved, so a noisy moment hits every contender
        for k, make in makers.items():
            est = make()
            times[k].append(timed_fit(est, Xt, yt))
            fitted[k] = est
    med = {k: statistics.median(v) for k, v in times.items()}
    scores = {k: est.score(Xs, ys) for k, est in fitted.items()}
    iters = {k: est.n_iter_ for k, est in fitted.items()}
    return med, scores, iters


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    fm.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl not installed: NumPy's BLAS threads are not capped")
    print(f"fastmlp {fm.__version__} ({fm.build_info()['isa']}), scikit-learn "
          f"{sklearn.__version__}, {args.threads} thread(s), median of {args.repeats} fits; "
          "score: accuracy or R^2 on a held-out quarter; ratio: scikit-learn's fit time / "
          "fastmlp's\n")
    head = (f"{'data':<14}{'solver':<7}{'score fastmlp':>14}{'f64':>7}{'sklearn':>9}"
            f"{'iters':>12}{'fit ratio':>11}{'f64':>7}")
    print(head)
    print("-" * len(head))
    for name in DATASETS:
        for solver in SOLVERS:
            med, sc, it = row(name, solver, args.repeats)
            print(f"{name:<14}{solver:<7}{sc['fastmlp']:>14.3f}{sc['fastmlp f64']:>7.3f}"
                  f"{sc['sklearn']:>9.3f}{it['fastmlp']:>6}/{it['sklearn']:<5}"
                  f"{med['sklearn'] / med['fastmlp']:>10.1f}x"
                  f"{med['sklearn'] / med['fastmlp f64']:>6.1f}x", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
