"""fastmlp.sklearn: drop-in MLPRegressor / MLPClassifier for scikit-learn's."""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn.neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator, check_regressor_multioutput

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
# Checks that cannot pass, with why. Any other failure, or one of these passing, fails the test.
SAMPLE_WEIGHT = {"check_sample_weight_equivalence_on_dense_data":
                 # Minibatch SGD/Adam: repeating a sample changes the batches and the number of
                 # steps, so it is not the same as weighting it (scikit-learn runs this check on
                 # its own MLPs only with lbfgs or a loose-tol sgd).
                 "stochastic minibatch training"}
EXPECTED_FAILURES = {
    MLPRegressor: {**SAMPLE_WEIGHT, "check_regressor_multioutput":
                   # Predictions keep the model's dtype, float32 by default (as scikit-learn's
                   # MLP keeps float32); test_float64_regressor_passes_multioutput_check.
                   "float32 predictions"},
    MLPClassifier: SAMPLE_WEIGHT,
}
# SkipTest from scikit-learn for optional packages that are not our code.
OPTIONAL = ("pandas is not installed", "SCIPY_ARRAY_API is not set")


@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_sklearn_estimator_checks(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(cls(max_iter=100), on_fail=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results
              if r["status"] == "failed"}
    skipped = {r["check_name"]: str(r["exception"]) for r in results
               if r["status"] == "skipped" and not str(r["exception"]).startswith(OPTIONAL)}
    assert len(results) > 40
    assert set(failed) == set(EXPECTED_FAILURES[cls]), failed
    assert not skipped


def test_float64_regressor_passes_multioutput_check():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_regressor_multioutput("MLPRegressor", MLPRegressor(max_iter=100, dtype="float64"))


# --- the estimator API ----------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [(MLPRegressor, sknn.MLPRegressor),
                                          (MLPClassifier, sknn.MLPClassifier)])
def test_same_parameters_as_sklearn(ours, theirs):
    # lbfgs, lr schedules, MLPRegressor(loss="poisson")
    unsupported = {"learning_rate", "power_t", "max_fun", "loss"}
    mine, sk = ours().get_params(), theirs().get_params()
    assert set(mine) - {"dtype"} == set(sk) - unsupported
    assert {k: mine[k] for k in set(sk) - unsupported} == {k: sk[k] for k in set(sk) - unsupported}


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


def test_bad_parameters_raise():
    X, _, y, _ = regression_data()
    for bad in (dict(activation="softmax"), dict(solver="lbfgs")):
        with pytest.raises(ValueError, match=next(iter(bad))):
            MLPRegressor(**bad).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)


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
def test_stops_as_documented(tol, n_iter_no_change):
    """Stop after n_iter_no_change + 1 epochs in a row that don't beat the best by tol,
    with tol on loss_curve_'s (scikit-learn's) scale."""
    Xt, _, yt, _ = regression_data()
    est = MLPRegressor(hidden_layer_sizes=(32,), tol=tol, n_iter_no_change=n_iter_no_change,
                       random_state=0).fit(Xt, yt)
    best, wait = np.inf, 0
    for epoch, loss in enumerate(est.loss_curve_, 1):
        best, wait = (loss, 0) if loss < best - tol else (best, wait + 1)
        if wait > n_iter_no_change:
            break
    assert wait > n_iter_no_change and epoch == est.n_iter_ < est.max_iter


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


@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_one_sgd_step_matches_sklearn(cls):
    """The documented mapping (loss scale, alpha -> weight_decay, lr) gives scikit-learn's step."""
    X, y = make_classification(50, 4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    if cls is MLPRegressor:
        y = np.c_[y, X[:, :2]]  # three outputs: the loss scale 2/k is not 1
    kw = dict(hidden_layer_sizes=(6,), activation="tanh", solver="sgd", alpha=0.5, momentum=0.9,
              learning_rate_init=0.1, batch_size=len(X), shuffle=False, random_state=0)
    ours = cls(dtype="float64", **kw)
    theirs = getattr(sknn, cls.__name__)(**kw)
    ours.partial_fit(X, y, **({"classes": [0, 1, 2]} if cls is MLPClassifier else {}))
    theirs.partial_fit(X, y, **({"classes": [0, 1, 2]} if cls is MLPClassifier else {}))
    # Same starting point, with zero biases (the only weights decayed differently).
    for layer in ours.model_:
        if isinstance(layer, fm.Linear):
            layer.bias.data[...] = 0.0
    for mine, sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        sk[...] = mine  # in place: sklearn's optimizer holds these arrays
    theirs._optimizer.velocities = [np.zeros_like(v) for v in theirs._optimizer.velocities]
    ours._optimizer = ours._new_optimizer()  # fresh momentum buffers too
    penalty = 0.5 * kw["alpha"] * sum((w ** 2).sum() for w in ours.coefs_) / len(X)
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    for mine, sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, sk, rtol=1e-10, atol=1e-12)
    assert ours.loss_ == pytest.approx(theirs.loss_ - penalty, rel=1e-10)  # sklearn's scale


@pytest.mark.parametrize("activation, gain", [("relu", 1.0), ("logistic", 3 ** -0.5)])
def test_glorot_init_as_sklearn(activation, gain):
    Xt, _, yt, _ = regression_data()
    est = MLPRegressor(activation=activation, learning_rate_init=1e-12, random_state=0)
    first = est.partial_fit(Xt, yt).coefs_[0]  # (8, 100): moved by ~1e-12 only
    bound = gain * np.sqrt(6 / (8 + 100))
    assert 0.95 * bound < np.abs(first).max() <= bound * (1 + 1e-6)


# --- incremental training, pickling ---------------------------------------------------------
def test_partial_fit_keeps_optimizer_state():
    """Two partial_fit epochs equal a two-epoch fit only if Adam's moments carry over."""
    Xt, _, yt, _ = regression_data()
    kw = dict(shuffle=False, random_state=0, dtype="float64")
    whole = fit_quietly(MLPRegressor(max_iter=2, **kw), Xt, yt)
    parts = MLPRegressor(**kw).partial_fit(Xt, yt).partial_fit(Xt, yt)
    np.testing.assert_array_equal(whole.model_._flat, parts.model_._flat)
    assert parts.loss_curve_ == whole.loss_curve_


def test_classifier_partial_fit_needs_classes():
    X, y = make_classification(100, 4, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)
    est = MLPClassifier().partial_fit(X[y == 0], y[y == 0], classes=[0, 1])
    np.testing.assert_array_equal(est.classes_, [0, 1])
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes_"):
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
    np.testing.assert_array_equal(copy.model_._flat, est.model_._flat)


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
    np.testing.assert_array_equal(cut.model_._flat, est.model_._flat)
    assert est.best_validation_score_ == cut.validation_scores_[-1] > 0.9


def test_verbose_prints_losses(capsys):
    Xt, _, yt, _ = regression_data()
    fit_quietly(MLPRegressor(max_iter=3, verbose=True), Xt, yt)
    assert capsys.readouterr().out.count("Loss") == 3


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
