"""fastmlp.sklearn: drop-in MLPRegressor / MLPClassifier for scikit-learn's."""
import inspect
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits,
                              make_classification, make_regression)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import fastmlp as fm
from fastmlp.sklearn import MLPClassifier, MLPRegressor


@pytest.fixture(autouse=True)
def one_thread():
    # These models are tiny: one thread is fastest and keeps the file quick on a busy machine.
    old = fm.get_num_threads()
    fm.set_num_threads(1)
    yield
    fm.set_num_threads(old)


def regression_data(n_targets=1):
    X, y = make_regression(400, 8, n_informative=6, n_targets=n_targets, noise=5.0,
                           random_state=0)
    return train_test_split(X, y / y.std(axis=0), random_state=0)


def fit_quietly(est, *args, **kwargs):
    """fit() when reaching max_iter (a ConvergenceWarning) is expected and fine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# --- scikit-learn's own estimator checks ----------------------------------------------------
# The two sample-weight checks compare weighting a sample with repeating it to rtol 1e-7:
# finer than float32 resolves, so the default float32 estimators fail them (scikit-learn's
# own MLPs compute in float64); in float64 nothing may fail, for any solver.
FLOAT32_ONLY = {"check_sample_weight_equivalence_on_dense_data",
                "check_sample_weight_equivalence_on_sparse_data"}
# SkipTest from scikit-learn for optional packages that are not our code, and for the
# decision_function that scikit-learn's MLPClassifier has not either.
OPTIONAL = ("pandas is not installed", "SCIPY_ARRAY_API is not set",
            "MLPClassifier does not have a decision_function")


def _check(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results
              if r["status"] == "failed"}
    skipped = {r["check_name"]: str(r["exception"]) for r in results
               if r["status"] == "skipped" and not str(r["exception"]).startswith(OPTIONAL)}
    assert len(results) > 40 and not skipped
    return failed


@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_sklearn_estimator_checks(cls):
    failed = _check(cls(max_iter=100))
    assert set(failed) == FLOAT32_ONLY, failed


# max_iter=100 as scikit-learn checks its own MLPs (at 200 lbfgs takes its classifier's
# multilabel probabilities to 1.0, scikit-learn's own included).
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_sklearn_estimator_checks_float64(cls, solver):
    assert _check(cls(solver=solver, max_iter=100, dtype="float64")) == {}


# --- the estimator API ----------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [(MLPRegressor, sknn.MLPRegressor),
                                          (MLPClassifier, sknn.MLPClassifier)])
def test_same_parameters_as_sklearn(ours, theirs):
    mine, sk = ours().get_params(), theirs().get_params()
    assert mine.pop("dtype") == "float32" and mine == sk
    assert list(inspect.signature(ours).parameters)[:-1] == \
        list(inspect.signature(theirs).parameters)


def test_clone_get_set_params_round_trip():
    est = MLPRegressor(hidden_layer_sizes=(7, 5), activation="tanh", alpha=0.1, dtype="float64")
    assert est.set_params(max_iter=30, solver="sgd") is est
    params = est.get_params()
    assert params["max_iter"] == 30 and params["solver"] == "sgd"
    fit_quietly(est, *regression_data()[::2])
    twin = clone(est)
    assert twin.get_params() == params
    assert not hasattr(twin, "model_") and hasattr(est, "model_")
    assert [w.shape for w in est.coefs_] == [(8, 7), (7, 5), (5, 1)]
    assert isinstance(est.model_, fm.Sequential) and est.model_.dtype == np.float64
    assert (est.n_layers_, est.n_outputs_, est.out_activation_) == (4, 1, "identity")


@pytest.mark.parametrize("bad", [dict(activation="softmax"), dict(solver="newton"),
                                 dict(learning_rate="cyclic"), dict(loss="huber"),
                                 dict(alpha=-1.0), dict(max_fun=0), dict(momentum=1.5),
                                 dict(batch_size=0), dict(n_iter_no_change=0),
                                 dict(hidden_layer_sizes=(4, 0))])
def test_bad_parameters_raise(bad):
    X, _, y, _ = regression_data()
    with pytest.raises(ValueError, match=next(iter(bad))):
        MLPRegressor(**bad).fit(X, y)


def test_partial_fit_exists_where_sklearns_does():
    X, _, y, _ = regression_data()
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)
    for solver in ("adam", "sgd", "lbfgs"):
        for ours, theirs in ((MLPRegressor, sknn.MLPRegressor),
                             (MLPClassifier, sknn.MLPClassifier)):
            assert hasattr(ours(solver=solver), "partial_fit") == \
                hasattr(theirs(solver=solver), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifier(solver="lbfgs").partial_fit


def test_fastmlp_imports_sklearn_only_in_fastmlp_sklearn():
    code = ("import sys, fastmlp\n"
            "assert 'sklearn' not in sys.modules\n"
            "sys.modules['sklearn'] = None  # as if not installed\n"
            "try:\n    import fastmlp.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "pip install scikit-learn" in out.stdout


# --- learning -------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_regression_r2(solver):
    Xt, Xs, yt, ys = regression_data()
    est = MLPRegressor(hidden_layer_sizes=(32,), solver=solver, learning_rate_init=0.01,
                       random_state=0)
    fit_quietly(est, Xt, yt)
    assert est.predict(Xs).shape == ys.shape
    assert est.score(Xs, ys) > 0.9
    assert len(est.loss_curve_) == est.n_iter_ and est.loss_ == est.loss_curve_[-1]
    assert est.best_loss_ == min(est.loss_curve_) and est.validation_scores_ is None


def test_multioutput_regression():
    Xt, Xs, yt, ys = regression_data(n_targets=3)
    est = fit_quietly(MLPRegressor(learning_rate_init=0.01, random_state=0), Xt, yt)
    assert est.predict(Xs).shape == (len(Xs), 3) and est.n_outputs_ == 3
    assert est.score(Xs, ys) > 0.9


def test_make_classification_accuracy():
    X, y = make_classification(600, 10, n_informative=5, n_classes=3, random_state=0)
    Xt, Xs, yt, ys = train_test_split(X, y, random_state=0)
    est = fit_quietly(MLPClassifier(learning_rate_init=0.01, random_state=0), Xt, yt)
    assert est.score(Xs, ys) > 0.8


def test_digits_accuracy_and_probabilities():
    X, y = load_digits(return_X_y=True)
    Xt, Xs, yt, ys = train_test_split(X / 16, y, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.003, tol=1e-3,
                        random_state=0).fit(Xt, yt)
    assert est.n_iter_ < est.max_iter  # converged: stopped by tol / n_iter_no_change
    assert est.score(Xs, ys) > 0.93
    proba = est.predict_proba(Xs)
    assert proba.shape == (len(Xs), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(Xs))
    np.testing.assert_allclose(np.exp(est.predict_log_proba(Xs)), proba, rtol=1e-9)


@pytest.mark.parametrize("tol, n_iter_no_change", [(1e-3, 2), (1e-2, 5)])
def test_stops_by_sklearns_rule(tol, n_iter_no_change):
    """An epoch counts when its loss is not below the best so far minus tol (the best
    follows every new minimum); training stops once more than n_iter_no_change in a row
    counted, with tol on loss_curve_'s (scikit-learn's) scale."""
    Xt, _, yt, _ = regression_data()
    est = MLPRegressor(hidden_layer_sizes=(32,), tol=tol, n_iter_no_change=n_iter_no_change,
                       random_state=0).fit(Xt, yt)
    best, count = np.inf, 0
    for epoch, loss in enumerate(est.loss_curve_, 1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            break
    assert count > n_iter_no_change and epoch == est.n_iter_ < est.max_iter
    assert est.best_loss_ == min(est.loss_curve_)


def test_convergence_warning_at_max_iter():
    Xt, _, yt, _ = regression_data()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPRegressor(max_iter=3, random_state=0).fit(Xt, yt)


@pytest.mark.parametrize("labels", [["bird", "cat", "dog"], ["no", "yes"]])
def test_string_labels_round_trip(labels):
    X, y = make_classification(300, 6, n_informative=4, n_classes=len(labels), random_state=1)
    y = np.array(labels)[y]
    est = fit_quietly(MLPClassifier(learning_rate_init=0.01, random_state=0), X, y)
    np.testing.assert_array_equal(est.classes_, sorted(labels))
    pred = est.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(labels)
    assert est.score(X, y) > 0.85
    assert est.predict_proba(X).shape == (len(X), len(labels))  # binary: two columns


def test_random_state_reproducible():
    Xt, Xs, yt, _ = regression_data()
    a, b, c = (fit_quietly(MLPRegressor(max_iter=20, random_state=s), Xt, yt) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.predict(Xs), b.predict(Xs))
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.predict(Xs), c.predict(Xs))


def test_sample_weight_zero_ignores_samples():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = X[:, 0].copy()
    y[::2] = 5.0  # garbage on the zero-weight half
    w = np.tile([0.0, 1.0], 150)
    est = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    fit_quietly(est, X, y, sample_weight=w)
    assert est.score(X[1::2], y[1::2]) > 0.95


def test_alpha_shrinks_weights():
    Xt, _, yt, _ = regression_data()
    norms = [sum((w ** 2).sum() for w in fit_quietly(
        MLPRegressor(alpha=a, max_iter=50, learning_rate_init=0.01, random_state=0),
        Xt, yt).coefs_) for a in (0.0, 30.0)]
    assert norms[1] < 0.5 * norms[0]


def _sk_twin(est):
    return getattr(sknn, type(est).__name__)(**{k: v for k, v in est.get_params().items()
                                               if k != "dtype"})


def _problem(kind, rng=None):
    """(X, y, partial_fit kwargs) for each kind of target."""
    X, y = make_classification(60, 4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    if kind == "regression":
        return X, np.c_[y, X[:, :2]], {}  # three outputs: the loss scale 2/k is not 1
    if kind == "poisson":
        return X, np.c_[y, (X[:, 0] > 0) * 2.0], {}
    if kind == "binary":
        return X, np.array(["no", "yes"])[(y > 0).astype(int)], {"classes": ["no", "yes"]}
    if kind == "multilabel":
        return X, np.c_[y == 0, X[:, 1] > 0].astype(int), {"classes": [0, 1]}
    return X, y, {"classes": [0, 1, 2]}


KINDS = ["regression", "poisson", "binary", "multilabel", "multiclass"]


def _estimator(kind, **kw):
    if kind in ("regression", "poisson"):
        return MLPRegressor(loss="poisson" if kind == "poisson" else "squared_error", **kw)
    return MLPClassifier(**kw)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_first_epochs_match_sklearn(kind, solver):
    """The same initial weights from the same random_state, and full-batch steps that move
    them as scikit-learn's do (alpha on the weights only, loss_ with the penalty). Adam adds
    epsilon after the bias correction (torch's rule), scikit-learn before it: a relative
    difference of about epsilon / (|gradient| * sqrt(1 - beta_2**t)) per step."""
    rtol = 1e-9 if solver == "sgd" else 1e-3
    X, y, cl = _problem(kind)
    ours = _estimator(kind, hidden_layer_sizes=(6,), activation="tanh", solver=solver,
                      alpha=0.5, learning_rate_init=0.05, batch_size=len(X), shuffle=False,
                      random_state=0, dtype="float64")
    theirs = _sk_twin(ours)
    for _ in range(3):
        ours.partial_fit(X, y, **cl)
        theirs.partial_fit(X, y, **cl)
        for mine, sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
            np.testing.assert_allclose(mine, sk, rtol=rtol, atol=rtol * 1e-3)
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=rtol)
    assert ours.out_activation_ == theirs.out_activation_
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert (ours.t_, ours.n_iter_, ours.n_outputs_) == (theirs.t_, theirs.n_iter_,
                                                        theirs.n_outputs_)
    Xs = X[:7] + 0.1
    if kind in ("regression", "poisson"):
        np.testing.assert_allclose(ours.predict(Xs), theirs.predict(Xs), rtol=rtol)
    else:
        np.testing.assert_array_equal(ours.predict(Xs), theirs.predict(Xs))
        np.testing.assert_allclose(ours.predict_proba(Xs), theirs.predict_proba(Xs), rtol=rtol)


@pytest.mark.parametrize("kind", KINDS)
def test_lbfgs_takes_sklearns_steps(kind):
    """L-BFGS from scikit-learn's initial weights: the same iterates as scikit-learn's
    (scipy's L-BFGS-B), to rounding, over the first iterations."""
    X, y, _ = _problem(kind)
    if kind == "regression":
        y = y[:, 0]  # one output: the objectives agree exactly (see the module docstring)
    ours = _estimator(kind, hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs",
                      alpha=0.01, max_iter=12, random_state=1, dtype="float64")
    theirs = _sk_twin(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    for mine, sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, sk, rtol=1e-6, atol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_ == 12
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")


def test_lbfgs_converges_and_warns_as_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0, tol=1e-3)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(max_iter=5, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier(max_iter=2000, **kw).fit(X, y)
    assert est.n_iter_ < 2000 and est.score(X, y) > 0.98
    with pytest.warns(ConvergenceWarning, match="EVALUATIONS"):
        MLPClassifier(max_fun=20, **kw).fit(X, y)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "diabetes"])
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_scores_within_noise_of_sklearns(name, solver):
    """Bundled data, each solver: the test score within a few points of scikit-learn's."""
    X, y = {"digits": load_digits, "breast_cancer": load_breast_cancer,
            "diabetes": load_diabetes}[name](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if name == "diabetes":
        y = (y - y.mean()) / y.std()
    Xt, Xs, yt, ys = train_test_split(X, y, random_state=0)
    kw = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=300, random_state=0,
              learning_rate_init=0.01 if solver == "sgd" else 0.001,
              alpha=1.0 if name == "diabetes" else 1e-4)
    cls = MLPRegressor if name == "diabetes" else MLPClassifier
    ours = fit_quietly(cls(**kw), Xt, yt)
    theirs = fit_quietly(_sk_twin(ours), Xt, yt)
    assert ours.score(Xs, ys) > theirs.score(Xs, ys) - (0.08 if name == "diabetes" else 0.03)


def test_learning_rate_schedules_follow_sklearns_rule():
    """invscaling: lr = learning_rate_init / (t_ + 1) ** power_t after each epoch, t_ the
    samples seen; adaptive: divided by 5 when n_iter_no_change + 1 epochs in a row did not
    improve, stopping once it is at most 1e-6."""
    X, _, y, _ = regression_data()
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", power_t=0.3,
              learning_rate_init=0.01, random_state=0, dtype="float64")
    ours = MLPRegressor(**kw)
    theirs = _sk_twin(ours)
    g = 2.0  # fastmlp's gradient over scikit-learn's, one output
    for epoch in range(1, 4):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
        expected = 0.01 / (epoch * len(X) + 1) ** 0.3
        assert ours._optimizer.lr * g == pytest.approx(expected, rel=1e-12)
        assert theirs._optimizer.learning_rate == pytest.approx(expected, rel=1e-12)
    # tol so large that no epoch after the first improves: lr / 5 at epochs 4, 7, ..., 16,
    # from 0.001 down to 3.2e-7, then the stop at epoch 19.
    kw.update(learning_rate="adaptive", tol=1e9, n_iter_no_change=2, learning_rate_init=1e-3,
              max_iter=100)
    ours = MLPRegressor(**kw).fit(X, y)
    theirs = _sk_twin(ours).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 19
    assert ours._optimizer.lr * g == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert theirs._optimizer.learning_rate == pytest.approx(1e-3 / 5 ** 5, rel=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_sparse_input_equals_dense(fmt, solver):
    X, y = load_digits(return_X_y=True)
    X = np.where(X > 8, X / 16, 0.0)  # about 30% nonzero
    Xs = getattr(scipy.sparse, f"{fmt}_matrix")(X)
    kw = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=20, random_state=0,
              dtype="float64")
    dense = fit_quietly(MLPClassifier(**kw), X, y)
    sparse = fit_quietly(MLPClassifier(**kw), Xs, y)
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=1e-9)
    reg = fit_quietly(MLPRegressor(**kw), Xs, X[:, 20])
    np.testing.assert_allclose(reg.predict(Xs), fit_quietly(MLPRegressor(**kw), X, X[:, 20])
                               .predict(X), rtol=1e-8, atol=1e-10)


def test_outputs_float64_for_float64_input():
    Xt, Xs, yt, _ = regression_data(n_targets=2)
    est = fit_quietly(MLPRegressor(max_iter=5), Xt, yt)
    assert est.model_.dtype == np.float32
    assert est.predict(Xs).dtype == np.float64
    assert est.predict(Xs.astype(np.float32)).dtype == np.float32
    X, y = make_classification(100, 4, random_state=0)
    clf = fit_quietly(MLPClassifier(max_iter=5), X, y)
    assert clf.predict_proba(X).dtype == np.float64


def test_binary_has_one_logistic_output_and_multilabel_works():
    X, y = make_classification(200, 5, random_state=0)
    est = fit_quietly(MLPClassifier(hidden_layer_sizes=(7,), random_state=0), X, y)
    assert est.coefs_[-1].shape == (7, 1) and est.out_activation_ == "logistic"
    p = est.predict_proba(X)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-est.model_.predict(X)[:, 0])),
                               rtol=1e-6)
    np.testing.assert_array_equal(est.predict(X), (p[:, 1] > 0.5).astype(int))
    Y = np.c_[y, X[:, 0] > 0, X[:, 1] + X[:, 2] > 0].astype(int)
    ml = fit_quietly(MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                   random_state=0), X, Y)
    assert ml.out_activation_ == "logistic" and ml.predict(X).shape == Y.shape
    assert ml.predict_proba(X).shape == Y.shape and ml.score(X, Y) > 0.7


def test_poisson_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    est = fit_quietly(MLPRegressor(loss="poisson", solver="lbfgs", hidden_layer_sizes=(8,),
                                   random_state=0), X, y)
    assert est.score(X, np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])) > 0.8
    assert est.out_activation_ == "exp" and (est.predict(X) > 0).all()
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)


# --- incremental training, pickling ---------------------------------------------------------
def test_partial_fit_keeps_optimizer_state():
    """Two partial_fit epochs equal a two-epoch fit only if Adam's moments carry over."""
    Xt, _, yt, _ = regression_data()
    kw = dict(shuffle=False, random_state=0, dtype="float64")
    whole = fit_quietly(MLPRegressor(max_iter=2, **kw), Xt, yt)
    parts = MLPRegressor(**kw).partial_fit(Xt, yt).partial_fit(Xt, yt)
    np.testing.assert_array_equal(whole.model_.flat_parameters(), parts.model_.flat_parameters())
    assert parts.loss_curve_ == whole.loss_curve_


def test_classifier_partial_fit_needs_classes():
    X, y = make_classification(100, 4, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)
    est = MLPClassifier().partial_fit(X[y == 0], y[y == 0], classes=[0, 1])
    np.testing.assert_array_equal(est.classes_, [0, 1])
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        est.partial_fit(X, y + 1)


def test_warm_start_continues():
    Xt, _, yt, _ = regression_data()
    est = fit_quietly(MLPRegressor(max_iter=5, warm_start=True, random_state=0), Xt, yt)
    model = est.model_
    fit_quietly(est, Xt, yt)
    assert est.model_ is model and len(est.loss_curve_) == 10
    assert est.loss_curve_[5] < est.loss_curve_[0]


def test_pickle_keeps_model_and_optimizer():
    X, y = make_classification(200, 5, random_state=0)
    est = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.model_.flat_parameters(), est.model_.flat_parameters())


def test_pickle_and_warm_start_with_lbfgs():
    X, y = make_classification(200, 5, random_state=0)
    est = fit_quietly(MLPClassifier(solver="lbfgs", max_iter=5, warm_start=True,
                                    random_state=0), X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    fit_quietly(est, X, y)  # five more iterations from where it stopped
    fit_quietly(copy, X, y)
    np.testing.assert_array_equal(copy.model_.flat_parameters(), est.model_.flat_parameters())
    assert est.loss_ < fit_quietly(clone(est).set_params(warm_start=False), X, y).loss_


def test_early_stopping_restores_the_best_epoch():
    X, y = load_digits(return_X_y=True)
    kw = dict(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3,
              learning_rate_init=0.01, random_state=0)
    est = MLPClassifier(**kw).fit(X / 16, y)
    assert est.n_iter_ < est.max_iter and est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_
    # The best epoch is the last improvement, n_iter_no_change + 1 epochs before the stop;
    # the same run cut there ends with the weights early stopping restored.
    best = est.n_iter_ - (est.n_iter_no_change + 1)
    cut = fit_quietly(MLPClassifier(max_iter=best, **kw), X / 16, y)
    np.testing.assert_array_equal(cut.model_.flat_parameters(), est.model_.flat_parameters())
    assert est.best_validation_score_ == cut.validation_scores_[-1] > 0.9


def test_verbose_prints_losses(capsys):
    Xt, _, yt, _ = regression_data()
    fit_quietly(MLPRegressor(max_iter=3, verbose=True), Xt, yt)
    assert capsys.readouterr().out.count("Iteration") == 3


# --- model selection ------------------------------------------------------------------------
def test_pipeline_with_scaler():
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(learning_rate_init=0.01, random_state=0))
    fit_quietly(pipe, X * 100 + 50, y / y.std())
    assert pipe.score(X * 100 + 50, y / y.std()) > 0.95


def test_cross_val_score_same_with_two_jobs(monkeypatch):
    monkeypatch.setenv("FASTMLP_NUM_THREADS", "1")  # for the joblib worker processes
    X, y = make_classification(200, 6, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=0.01,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = cross_val_score(est, X, y, cv=3, n_jobs=1)
        two = cross_val_score(est, X, y, cv=3, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    assert one.mean() > 0.8


def test_grid_search_two_jobs(monkeypatch):
    monkeypatch.setenv("FASTMLP_NUM_THREADS", "1")
    Xt, Xs, yt, ys = regression_data()
    grid = GridSearchCV(MLPRegressor(max_iter=100, random_state=0),
                        {"hidden_layer_sizes": [(4,), (32,)], "learning_rate_init": [1e-4, 1e-2]},
                        cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(Xt, yt)
    assert grid.best_params_ == {"hidden_layer_sizes": (32,), "learning_rate_init": 1e-2}
    assert grid.score(Xs, ys) > 0.9


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_diverging_solvers_raise_sklearns_error(solver):
    # Found by tests/fuzz/test_sklearn.py: a finite float32 target whose loss overflows made
    # lbfgs raise FloatingPointError instead of scikit-learn's ValueError.
    X, y = np.array([[0.5], [0.1]]), np.array([-3.4e38, 1.0], np.float32)
    est = MLPRegressor(hidden_layer_sizes=(1,), solver=solver, max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        est.fit(X, y)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_targets_too_large_for_float32_say_so():
    X, y = np.array([[0.5], [0.1]]), np.array([1e300, 1.0])
    with pytest.raises(ValueError, match=r"y contains NaN or Inf \(or a value too large for float32\)"):
        MLPRegressor(hidden_layer_sizes=(1,), max_iter=2).fit(X, y)
