"""Fuzz fastmlp.sklearn's estimators: scikit-learn's own validation decides which input is
refused (fastmlp must refuse it with the same exception class), and a fitted estimator
predicts what numpy_ref computes from its coefs_ and intercepts_."""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_X_y

import fastmlp.sklearn as sk
import numpy_ref as ref

from .checks import close, moderate
from .strategies import REAL_DTYPES, REFUSED_DTYPES, arrays, sizes

ACT = {"identity": "identity", "relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


def sklearn_refuses(X, y, regressor):
    """The exception scikit-learn's validation raises for (X, y), or None."""
    try:
        with warnings.catch_warnings():  # its finiteness check sums +Inf and -Inf
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            check_X_y(X, y, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32),
                      multi_output=regressor, y_numeric=regressor)
    except (TypeError, ValueError) as e:
        return type(e)
    return None


def reference(est, X):
    """The network's activated outputs by numpy_ref, from the fitted attributes."""
    h = X
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        h = ref.linear(h, W.astype(np.float64), b.astype(np.float64))
        if i + 1 < len(est.coefs_):
            h = ref.act_forward(ACT[est.activation], h)
    return {"identity": h, "logistic": ref.sigmoid(h),
            "softmax": np.exp(ref.log_softmax(h))}[est.out_activation_]


@given(classifier=st.booleans(), hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       activation=st.sampled_from(sorted(ACT)), solver=st.sampled_from(("adam", "sgd", "lbfgs")),
       dtype=st.sampled_from(("float32", "float64")), n=sizes(hi=12), d=sizes(lo=1, hi=4),
       n_classes=st.integers(1, 3), str_labels=st.booleans(), data=st.data())
def test_estimators(classifier, hidden, activation, solver, dtype, n, d, n_classes, str_labels,
                    data):
    X, xv = data.draw(arrays((n, d), REAL_DTYPES + REFUSED_DTYPES))
    if classifier:
        labels = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n,
                                             max_size=n)), dtype=np.int64)
        y = np.array(["ab", "cd", "ef"])[labels] if str_labels else labels
    else:
        y, _ = data.draw(arrays((n,) if data.draw(st.booleans()) else (n, 2), REAL_DTYPES))
    cls = sk.MLPClassifier if classifier else sk.MLPRegressor
    est = cls(hidden_layer_sizes=tuple(hidden), activation=activation, solver=solver,
              max_iter=3, random_state=0, dtype=dtype, learning_rate_init=1e-3)
    refused = sklearn_refuses(X, y, not classifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        try:
            est.fit(X, y)
        except (TypeError, ValueError) as e:
            if refused is not None:
                assert isinstance(e, refused), (refused, e)
            else:  # weights that became non-finite (scikit-learn's rule), or data that a
                # float32 model cannot hold
                assert "non-finite parameter weights" in str(e) or "too large" in str(e), e
            return
    assert refused is None, f"scikit-learn refuses this input ({refused}), fastmlp fitted it"
    Xm = np.asarray(X, dtype=np.float64)
    Xm = Xm.astype(dtype).astype(np.float64)
    if not moderate(Xm):
        return
    with np.errstate(all="ignore"):
        want = reference(est, Xm)
    if not moderate(want, bound=1e30):  # diverged weights whose outputs overflow float32
        return
    # float32 in the model or in X (whose dtype the outputs keep) rounds to float32.
    dtype = np.float32 if np.float32 in (np.dtype(dtype), np.asarray(X).dtype) else np.float64
    if classifier:
        proba = est.predict_proba(X)
        full = np.hstack([1 - want, want]) if want.shape[1] == 1 else want
        close(proba, full, dtype)
    else:
        pred = est.predict(X)
        close(pred, want.ravel() if want.shape[1] == 1 else want, dtype)
