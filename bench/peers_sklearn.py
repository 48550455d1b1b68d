"""scikit-learn's MLPRegressor and MLPClassifier: one partial_fit call is
one epoch (shuffled minibatches; unlike fit with max_iter=1 it raises no
ConvergenceWarning and keeps Adam's state between epochs)."""
import numpy as np
import sklearn
from sklearn.neural_network import MLPClassifier, MLPRegressor

from timing import Contender
from workloads import LR

NAME = "sklearn"
VERSION = sklearn.__version__


def configure(threads):
    pass  # NumPy's BLAS, limited by the worker


def _set_params(est, params):
    """Same start as every peer, written in place: Adam holds these arrays.
    The estimator must exist first, so the caller's first partial_fit has
    already taken one Adam step."""
    for i, (w, b) in enumerate(params):
        est.coefs_[i][...] = w
        est.intercepts_[i][...] = b


def _hidden(params):
    return tuple(w.shape[1] for w, _ in params[:-1])


def train(x, y, params, loss, flops):
    if loss != "mse":
        raise ValueError("the MLPRegressor contender only trains with MSE")
    est = MLPRegressor(hidden_layer_sizes=_hidden(params), activation="relu",
                       solver="adam", learning_rate_init=LR, alpha=0.0,
                       batch_size=len(x), shuffle=False, random_state=0)
    y1 = y.ravel()
    est.partial_fit(x, y1)  # builds layers and Adam state
    _set_params(est, params)

    def epochs(n):
        for _ in range(n):
            est.partial_fit(x, y1)

    return [Contender("scikit-learn partial_fit", epochs, flops)]


def classify(x, labels, params, batch, flops):
    est = MLPClassifier(hidden_layer_sizes=_hidden(params), activation="relu",
                        solver="adam", learning_rate_init=LR, alpha=0.0,
                        batch_size=batch, shuffle=True, random_state=0)
    classes = np.arange(params[-1][0].shape[1])
    est.partial_fit(x[:batch], labels[:batch], classes=classes)  # one step
    _set_params(est, params)

    def epochs(n):
        for _ in range(n):
            est.partial_fit(x, labels)

    return [Contender("scikit-learn partial_fit", epochs, flops, labels=est.predict)]
