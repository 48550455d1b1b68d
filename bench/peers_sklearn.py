"""scikit-learn's MLPRegressor: one partial_fit call is one epoch."""
import sklearn
from sklearn.neural_network import MLPRegressor

from timing import Contender
from workloads import LR

NAME = "sklearn"
VERSION = sklearn.__version__


def configure(threads):
    pass  # NumPy's BLAS, limited by the worker


def train(x, y, params, loss, flops):
    if loss != "mse":
        raise ValueError("the MLPRegressor contender only trains with MSE")
    hidden = tuple(w.shape[1] for w, _ in params[:-1])
    est = MLPRegressor(hidden_layer_sizes=hidden, activation="relu",
                       solver="adam", learning_rate_init=LR, alpha=0.0,
                       batch_size=len(x), shuffle=False, random_state=0)
    y1 = y.ravel()
    est.partial_fit(x, y1)  # builds layers and Adam state
    for i, (w, b) in enumerate(params):  # in place: Adam holds these arrays
        est.coefs_[i][...] = w
        est.intercepts_[i][...] = b

    def epochs(n):
        for _ in range(n):
            est.partial_fit(x, y1)

    return [Contender("scikit-learn partial_fit", epochs, flops)]
