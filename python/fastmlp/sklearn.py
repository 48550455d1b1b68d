"""scikit-learn estimators that train with fastmlp: drop-ins for sklearn.neural_network's.

    from fastmlp.sklearn import MLPRegressor, MLPClassifier

The constructor parameters, fitted attributes, methods and stopping rules of scikit-learn
1.9's MLPRegressor and MLPClassifier, plus ``dtype``: the network computes in it (float32
by default), while ``predict``/``predict_proba`` return float64 for float64 input. Each fit
is one native call: ``fm.Sequential.fit`` for solver="adam"/"sgd", ``fit_lbfgs`` for
solver="lbfgs". The trained network is ``model_``; its outputs are the pre-activations of
scikit-learn's output layer (``out_activation_`` is applied on top).

How scikit-learn's objective maps onto fastmlp's (so that steps move the weights as
scikit-learn's would, from the same initial weights):

- scikit-learn's gradients are those of half the squared error summed over the k outputs,
  of the cross-entropy, of the binary cross-entropy summed over outputs, or of the half
  Poisson deviance summed over outputs, each averaged over samples; fastmlp's losses
  (mse, cross_entropy, bce_with_logits, poisson_nll) average over samples and outputs.
  fastmlp's gradient is ``g`` times scikit-learn's: 2/k, 1, 1/k, 1/k.
- alpha is scikit-learn's L2 penalty on the weights (not the biases), alpha / 2 * sum(W**2)
  added to each batch's summed loss: fit's ``weight_l2`` (2 * alpha for the squared error,
  whose fastmlp form has no 1/2). ``loss_`` and ``loss_curve_`` are on scikit-learn's scale
  and include it.
- solver="sgd" steps with ``lr = learning_rate / g``; Adam is scale-free, with
  ``eps = g * epsilon``; "lbfgs" stops on the gradient at ``g * tol``.
- The weights and biases start as scikit-learn draws them, from the same random_state:
  the same initial network. The minibatch order comes from the same random_state but not
  from NumPy's shuffle, so stochastic runs differ from scikit-learn's after the first epoch.
- Adam adds epsilon to the bias-corrected root mean square (torch's rule); scikit-learn
  adds it before the correction, a difference that matters only for gradients near epsilon.
- SGD's momentum follows torch's rule (the buffer sums gradients, the step scales it by the
  current lr); scikit-learn's buffer sums lr-scaled gradients. They agree while the lr is
  constant.
- scikit-learn's check_estimator passes every check for dtype="float64"; float32 fails
  only the two sample-weight equivalence checks, which compare to rtol 1e-7.
- For a regressor with several outputs, L-BFGS minimises the objective whose gradient
  scikit-learn uses (half the squared error summed over outputs); scikit-learn's own
  reports its value averaged over outputs instead.
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, Sequence, Union

import numpy as np
import numpy.typing as npt

try:
    from scipy.special import expit, softmax, xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import unique_labels
    from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, column_or_1d,
                                          validate_data)
except ImportError as e:  # validate_data is new in scikit-learn 1.6
    raise ImportError("fastmlp.sklearn needs scikit-learn >= 1.6: pip install scikit-learn") from e

from . import _checks, optim
from ._checks import FloatArray
from .nn import Layer, Linear, ReLU, Sequential, Sigmoid, Tanh
from .onnx import GraphBuilder

if TYPE_CHECKING:
    from sklearn.utils import Tags
    from typing_extensions import Self

_COMMON_PARAMETERS = """hidden_layer_sizes : int or sequence of int, default=(100,)
    The width of each hidden layer.
activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    The hidden layers' activation.
solver : {"lbfgs", "sgd", "adam"}, default="adam"
    "lbfgs": full-batch L-BFGS (``Sequential.fit_lbfgs``); "sgd", "adam": minibatches.
alpha : float, default=1e-4
    Strength of the L2 penalty alpha / 2 * sum(W**2) on the weights (not the biases),
    added to each batch's summed loss.
batch_size : int or "auto", default="auto"
    Minibatch size for the stochastic solvers; "auto" is min(200, n_samples).
learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
    solver="sgd" only. "invscaling": ``learning_rate_init / (t_ + 1) ** power_t`` after
    each epoch; "adaptive": divided by 5 each time n_iter_no_change + 1 epochs in a row
    did not improve by tol (training stops once it is at most 1e-6).
learning_rate_init : float, default=1e-3
    The initial learning rate (sgd, adam).
power_t : float, default=0.5
    The exponent of "invscaling".
max_iter : int, default=200
    Epochs (sgd, adam) or iterations (lbfgs).
shuffle : bool, default=True
    Shuffle the samples every epoch (sgd, adam).
random_state : int, RandomState or None, default=None
    Seeds the initial weights (scikit-learn's draws), the validation split and the
    minibatch order.
tol : float, default=1e-4
    The improvement that counts (loss, or validation score with early_stopping); for
    lbfgs, the largest gradient entry at which it has converged.
verbose : bool, default=False
    Print the loss after each epoch or iteration.
warm_start : bool, default=False
    fit() continues from the current weights instead of starting anew.
momentum : float, default=0.9
    SGD momentum, in [0, 1].
nesterovs_momentum : bool, default=True
    Nesterov's momentum (SGD, momentum > 0).
early_stopping : bool, default=False
    Hold out validation_fraction of the data, stop when its score (R^2 or accuracy)
    stops improving by tol, and keep the best epoch's weights (sgd, adam).
validation_fraction : float, default=0.1
    The held-out fraction for early_stopping.
beta_1, beta_2 : float, default=0.9, 0.999
    Adam's moment decay rates.
epsilon : float, default=1e-8
    Adam's numerical-stability term.
n_iter_no_change : int or numpy.inf, default=10
    Epochs in a row without improvement by tol after which training stops.
max_fun : int, default=15000
    lbfgs: stop after the iteration that passes this many loss evaluations.
dtype : "float32" or "float64", default="float32"
    What the network computes in (fastmlp's addition).
"""

_ATTRIBUTES = """
Attributes
----------
coefs_, intercepts_ : list of ndarray
    The weights (fan_in, fan_out) and biases of each layer.
loss_ : float
    The last epoch's (or the final) loss, on scikit-learn's scale, penalty included.
loss_curve_ : list of float
    The loss of each epoch (sgd, adam).
best_loss_, validation_scores_, best_validation_score_
    As scikit-learn's: the lowest loss, or the validation scores with early_stopping.
n_iter_, t_, n_layers_, n_outputs_, out_activation_, n_features_in_
    Epochs or iterations run, samples seen, layers (input and output included), outputs,
    the output activation, input features.
model_ : fastmlp.Sequential
    The trained network; it outputs the pre-activations of the output layer.
"""


_ACTIVATIONS = {"identity": None, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}
_SOLVERS = ("lbfgs", "sgd", "adam")
_SEED_MAX = 2**31 - 1
# hidden_layer_sizes: one width, or one per hidden layer.
HiddenSizes = Union[int, Sequence[int]]


# scikit-learn's error for a solver whose weights became NaN or Inf.
_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain "
               "large values and need to be preprocessed.")


class _Objective(NamedTuple):
    """fastmlp's loss for scikit-learn's output activation, and the scales between them."""
    loss: str       # fastmlp loss name
    labels: bool    # trains on integer labels
    grad: float     # fastmlp's gradient / scikit-learn's
    data: float     # scikit-learn's data loss / fastmlp's
    l2: float       # weight_l2 / alpha


def _objective(out_activation: str, k: int) -> _Objective:
    if out_activation == "identity":
        return _Objective("mse", False, 2.0 / k, 0.5, 2.0)
    if out_activation == "exp":
        return _Objective("poisson_nll", False, 1.0 / k, float(k), 1.0)
    if out_activation == "logistic":
        return _Objective("bce_with_logits", False, 1.0 / k, float(k), 1.0)
    return _Objective("cross_entropy", True, 1.0, 1.0, 1.0)


def _check_params(est: _BaseMLP) -> None:
    """scikit-learn's parameter constraints, with its kind of message."""
    name = type(est).__name__

    def bad(param: str, expected: str) -> ValueError:
        return ValueError(f"The {param!r} parameter of {name} must be {expected}. "
                          f"Got {getattr(est, param)!r} instead.")

    def real(param: str, lo: float, hi: float = np.inf, lo_open: bool = False,
             hi_open: bool = True) -> None:
        v = getattr(est, param)
        ok = not isinstance(v, bool) and isinstance(v, Real)
        x = float(v) if ok else np.nan
        if not ok or not ((x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)):
            raise bad(param, f"a float in the range {'(' if lo_open else '['}{lo}, {hi}"
                             f"{')' if hi_open else ']'}")

    def integer(param: str, lo: int) -> None:
        v = getattr(est, param)
        if isinstance(v, bool) or not isinstance(v, Integral) or v < lo:
            raise bad(param, f"an int in the range [{lo}, inf)")

    def option(param: str, options: Sequence[str]) -> None:
        if getattr(est, param) not in options:
            raise bad(param, f"a str among {sorted(options)}")

    option("activation", list(_ACTIVATIONS))
    option("solver", _SOLVERS)
    option("learning_rate", ("constant", "invscaling", "adaptive"))
    if isinstance(est, MLPRegressor):
        option("loss", ("squared_error", "poisson"))
    real("alpha", 0.0)
    if est.batch_size != "auto":
        integer("batch_size", 1)
    real("learning_rate_init", 0.0, lo_open=True)
    real("power_t", 0.0)
    integer("max_iter", 1)
    real("tol", 0.0)
    real("momentum", 0.0, 1.0, hi_open=False)
    real("validation_fraction", 0.0, 1.0)
    real("beta_1", 0.0, 1.0)
    real("beta_2", 0.0, 1.0)
    real("epsilon", 0.0, lo_open=True)
    if est.n_iter_no_change != np.inf:
        integer("n_iter_no_change", 1)
    integer("max_fun", 1)
    sizes = np.atleast_1d(np.asarray(est.hidden_layer_sizes))
    if sizes.dtype.kind not in "iu" or (sizes <= 0).any():
        raise ValueError(f"hidden_layer_sizes must be > 0, got {list(sizes)}.")


class _BaseMLP(BaseEstimator):
    _check_y: ClassVar[dict[str, bool]]  # validate_data's options for y
    _score_fn: ClassVar[Any]             # what score() measures, for early stopping

    def __init__(self, hidden_layer_sizes: HiddenSizes = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | Literal["auto"] = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10, max_fun: int = 15000,
                 dtype: npt.DTypeLike = "float32") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # --- what the subclasses define -----------------------------------------------------
    def _encode_targets(self, y: npt.NDArray[Any], first: bool,
                        incremental: bool) -> tuple[npt.NDArray[Any], int]:
        """(y as the network's targets (n, k) or labels (n,), the network's outputs);
        sets the target attributes."""
        raise NotImplementedError

    def _output_activation(self, y: npt.NDArray[Any]) -> str:
        raise NotImplementedError

    # --- sklearn-style attributes read from the network ---------------------------------
    @property
    def coefs_(self) -> list[FloatArray]:
        """The weight matrix of each layer, (fan_in, fan_out)."""
        return [l.weight.data.copy() for l in self.model_ if isinstance(l, Linear)]

    @property
    def intercepts_(self) -> list[FloatArray]:
        """The bias vector of each layer."""
        # Every Linear built here has a bias.
        return [l.bias.data.copy() for l in self.model_
                if isinstance(l, Linear) and l.bias is not None]

    # --- training -----------------------------------------------------------------------
    def _fit(self, X_in: Any, y_in: npt.ArrayLike, sample_weight: npt.ArrayLike | None,
             incremental: bool) -> Self:
        _check_params(self)
        if self.early_stopping and incremental and self.solver != "lbfgs":
            raise ValueError("partial_fit does not support early_stopping=True")
        dtype = _checks.model_dtype(self.dtype)
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X_in, y_in, reset=first, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), **self._check_y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        t, k = self._encode_targets(y, first, incremental)
        w: FloatArray | None = None
        if sample_weight is not None:  # scikit-learn's checks and messages
            w = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
        X = X.astype(dtype, copy=False)
        # As scikit-learn: a fresh generator from random_state on every call.
        self._random_state: np.random.RandomState = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], t, k, dtype)
        self._obj = _objective(self.out_activation_, k)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, t, w)
        else:
            self._fit_stochastic(X, t, w, incremental)
        if not np.isfinite(self.model_.flat_parameters()).all():
            raise ValueError(_NON_FINITE)
        return self

    def _initialize(self, n_features: int, t: npt.NDArray[Any], n_out: int,
                    dtype: npt.DTypeLike) -> None:
        hidden = self.hidden_layer_sizes
        sizes = [n_features, *np.atleast_1d(np.asarray(hidden)).tolist(), n_out]
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_out
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._output_activation(t)
        # The architecture as built, so that unpickling ignores later set_params.
        self._arch = (sizes, self.activation)
        self.model_ = self._build(sizes, self.activation, dtype)
        # scikit-learn's Glorot draws, layer by layer, weights then biases.
        factor = 2.0 if self.activation == "logistic" else 6.0
        for lin in (l for l in self.model_ if isinstance(l, Linear)):
            bound = np.sqrt(factor / (lin.in_features + lin.out_features))
            lin.weight.data[...] = self._random_state.uniform(-bound, bound, lin.weight.shape)
            assert lin.bias is not None  # every Linear built here has one
            lin.bias.data[...] = self._random_state.uniform(-bound, bound, lin.out_features)
        if self.solver != "lbfgs":
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = self.best_validation_score_ = None
        self._best_weights = self.model_.flat_parameters().copy()
        self._optimizer: optim.Optimizer | None = None

    def _build(self, sizes: list[int], activation: str, dtype: npt.DTypeLike) -> Sequential:
        act = _ACTIVATIONS[activation]
        layers: list[Layer] = []
        for i in range(len(sizes) - 1):
            if i and act is not None:
                layers.append(act())
            layers.append(Linear(sizes[i], sizes[i + 1], dtype=dtype))
        return Sequential(*layers, dtype=dtype, seed=0)

    def _targets(self, t: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return t.astype(np.int64) if self._obj.labels else t.astype(self.model_.dtype)

    def _loss_constant(self, t: npt.NDArray[Any], w: FloatArray | None) -> float:
        """The part of scikit-learn's loss that does not depend on the weights: the Poisson
        deviance's y log y - y (weighted mean over samples, summed over outputs)."""
        if self._obj.loss != "poisson_nll":
            return 0.0
        y = t.astype(np.float64)
        return float(np.average((xlogy(y, y) - y).sum(axis=1), weights=w))

    def _sklearn_loss(self, loss: float, penalty: float, constant: float) -> float:
        o = self._obj
        return o.data * (loss - penalty) + constant + penalty / o.grad

    def _fit_lbfgs(self, X: Any, t: npt.NDArray[Any], w: FloatArray | None) -> None:
        o = self._obj

        def report(it: int, f: float) -> None:
            if self.verbose:
                print(f"Iteration {it}, objective = {f:.8f}")

        try:
            r = self.model_.fit_lbfgs(X, self._targets(t), loss=o.loss, max_iter=self.max_iter,
                                      max_fun=self.max_fun, tol=self.tol * o.grad,
                                      weight_l2=o.l2 * self.alpha, sample_weight=w,
                                      callback=report)
        except FloatingPointError as e:  # as the stochastic solvers: scikit-learn's error
            raise ValueError(_NON_FINITE) from e
        self.n_iter_ = min(r.n_iter, self.max_iter)
        n = len(t) if w is None else float(np.sum(w))
        per_sample = 1 if o.labels else t.shape[1]
        sq = sum(float((c.astype(np.float64) ** 2).sum()) for c in self.coefs_)
        penalty = o.l2 * self.alpha / 2 * sq / (n * per_sample) if n > 0 else 0.0
        self.loss_ = self._sklearn_loss(r.f, penalty, self._loss_constant(t, w))
        if r.status != 0:
            warnings.warn(f"lbfgs failed to converge after {r.n_iter} iteration(s) "
                          f"(status={r.status}):\n{r.message}.\n\nIncrease the number of "
                          f"iterations to improve the convergence (max_iter={self.max_iter}).\n"
                          "You might also want to scale the data as shown in:\n"
                          "    https://scikit-learn.org/stable/modules/preprocessing.html",
                          ConvergenceWarning)

    def _new_optimizer(self) -> optim.Optimizer:
        g = self._obj.grad
        params = self.model_.parameters()
        if self.solver == "adam":
            return optim.Adam(params, lr=self.learning_rate_init,
                              betas=(self.beta_1, self.beta_2), eps=g * self.epsilon)
        return optim.SGD(params, lr=self.learning_rate_init / g, momentum=self.momentum,
                         nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _fit_stochastic(self, X: Any, t: npt.NDArray[Any], w: FloatArray | None,
                        incremental: bool) -> None:
        if self._optimizer is None or not incremental:
            self._optimizer = self._new_optimizer()
        opt = self._optimizer
        early = self.early_stopping
        X_val = y_val = w_val = None
        if early:
            # Stratified for one output, as scikit-learn does.
            stratify = t if isinstance(self, MLPClassifier) and self.n_outputs_ == 1 else None
            arrays = (X, t) if w is None else (X, t, w)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, t, y_val = split[:4]
            w, w_val = (None, None) if w is None else (split[4], split[5])
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch = int(np.clip(self.batch_size, 1, n))
        constant = self._loss_constant(t, w)
        g = self._obj.grad
        self.n_iter_ = 0
        stopped = False

        def on_epoch(epoch: int, logs: dict[str, float]) -> bool:
            nonlocal stopped
            self.n_iter_ += 1
            self.loss_ = self._sklearn_loss(logs["loss"], logs["penalty"], constant)
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._count_no_improvement(X_val, y_val, w_val)
            if self.learning_rate == "invscaling" and self.solver == "sgd":
                opt.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t / g
            if self._no_improvement_count > self.n_iter_no_change:
                what = ("Validation score did not improve more than" if early else
                        "Training loss did not improve more than")
                msg = f"{what} tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
                adaptive = self.learning_rate == "adaptive" and self.solver == "sgd"
                if not adaptive or opt.lr * g <= 1e-6:
                    if self.verbose:
                        print(msg + (" Learning rate too small." if adaptive else "") +
                              " Stopping.")
                    stopped = True
                    return False
                opt.lr /= 5.0
                if self.verbose:
                    print(msg + f" Setting learning rate to {opt.lr * g:f}")
                self._no_improvement_count = 0
            return True

        try:
            self.model_.fit(X, self._targets(t), loss=self._obj.loss, optimizer=opt,
                            epochs=1 if incremental else self.max_iter, batch_size=batch,
                            shuffle=self.shuffle, seed=self._random_state.randint(_SEED_MAX),
                            sample_weight=w, weight_l2=self._obj.l2 * self.alpha,
                            on_epoch=on_epoch)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        except FloatingPointError as e:
            raise ValueError(_NON_FINITE) from e
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)
        if early:
            self.model_.flat_parameters()[...] = self._best_weights

    def _count_no_improvement(self, X_val: Any, y_val: npt.NDArray[Any] | None,
                              w_val: FloatArray | None) -> None:
        """scikit-learn's rule: an epoch that is not better than the best by tol counts."""
        if X_val is not None:
            assert self.validation_scores_ is not None and y_val is not None
            assert self.best_validation_score_ is not None
            out = self._activate(self.model_.predict(X_val))
            score = float(self._score_fn(self._truth(y_val), self._predictions(out),
                                         sample_weight=w_val)) \
                if np.isfinite(out).all() else np.nan
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_weights = self.model_.flat_parameters().copy()
        else:
            assert self.best_loss_ is not None
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    # --- prediction ---------------------------------------------------------------------
    def _activate(self, z: FloatArray) -> npt.NDArray[np.floating[Any]]:
        """scikit-learn's output activation on the network's outputs."""
        a = self.out_activation_
        if a == "exp":
            return np.exp(z)
        if a == "logistic":
            return expit(z)
        if a == "softmax":
            return softmax(z, axis=1)
        return z

    def _predictions(self, out: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """What predict() gives for the activated outputs."""
        return out.ravel() if out.shape[1] == 1 else out

    def _truth(self, t: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The targets as given to fit, from their encoding."""
        return t.ravel() if t.shape[1] == 1 else t

    def _forward(self, X: Any) -> npt.NDArray[np.floating[Any]]:
        """The activated outputs, in X's dtype (float64 for other input)."""
        check_is_fitted(self)
        Xv = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"],
                           dtype=(np.float64, np.float32))
        out = self.model_.predict(Xv.astype(self.model_.dtype, copy=False))
        return self._activate(out.astype(Xv.dtype, copy=False))

    def __sklearn_tags__(self) -> Tags:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        tags: Tags = super().__sklearn_tags__()  # type: ignore[no-untyped-call]
        tags.input_tags.sparse = True
        return tags

    def onnx_network(self) -> Sequential:
        """The trained network, for fastmlp.onnx.to_onnx(estimator).

        Raises NotFittedError before fit."""
        check_is_fitted(self)
        return self.model_

    # --- pickling (joblib, clone of fitted models): the native objects don't pickle -----
    def __getstate__(self) -> dict[str, object]:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        state = dict(super().__getstate__())  # type: ignore[no-untyped-call]
        if "model_" in state:
            state["model_"] = self.model_.state_dict()
            opt = self._optimizer
            state["_optimizer"] = None if opt is None else opt.state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights, opt_state = state.pop("model_", None), state.pop("_optimizer", None)
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        if weights is not None:
            dtype = next(iter(weights.values())).dtype
            self.model_ = self._build(*self._arch, dtype)
            self.model_.load_state_dict(weights)
            self._optimizer = None
            if opt_state is not None:
                self._optimizer = self._new_optimizer()
                self._optimizer.load_state_dict(opt_state)


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron regressor trained by fastmlp: scikit-learn's
MLPRegressor (see the module docstring for how its objective maps onto fastmlp's).

``y`` may have shape (n,) or (n, k). Inputs may be dense or scipy.sparse CSR/CSC.

Parameters
----------
loss : {"squared_error", "poisson"}, default="squared_error"
    Half the squared error, or half the Poisson deviance with a log link (the network
    predicts log(y); y must be >= 0).
""" + _COMMON_PARAMETERS + _ATTRIBUTES

    _check_y = dict(multi_output=True, y_numeric=True)
    _score_fn = staticmethod(r2_score)

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: HiddenSizes = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | Literal["auto"] = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | np.random.RandomState | None = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10, max_fun: int = 15000,
                 dtype: npt.DTypeLike = "float32") -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype)
        self.loss = loss

    def __sklearn_tags__(self) -> Tags:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        tags: Tags = super().__sklearn_tags__()  # type: ignore[no-untyped-call]
        tags.target_tags.multi_output = True
        return tags

    def _output_activation(self, y: npt.NDArray[Any]) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _encode_targets(self, y: npt.NDArray[Any], first: bool,
                        incremental: bool) -> tuple[npt.NDArray[Any], int]:
        if self.loss == "poisson" and (np.asarray(y) < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        t = y.reshape(-1, 1) if y.ndim == 1 else y
        return t, t.shape[1]

    def fit(self, X: Any, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> Self:
        """Trains a new network (or continues it with warm_start); returns self.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights of the samples.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: npt.ArrayLike,
                    sample_weight: npt.ArrayLike | None = None) -> Self:
        """One epoch over (X, y) keeping the network and the optimizer state (for
        solver="lbfgs", as scikit-learn's: a full L-BFGS run from the current weights).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights of the samples.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> npt.NDArray[np.floating[Any]]:
        """Predictions of shape (n,) for one output, else (n, k); float64 unless X is
        float32.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        """
        return self._predictions(self._forward(X))

    def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
        """Adds the ONNX output "y", shaped as predict()'s (for fastmlp.onnx.to_onnx).

        Parameters
        ----------
        g : fastmlp.onnx.GraphBuilder
            The graph being built.
        x : str
            The name of the network's output tensor.
        """
        if self.out_activation_ == "exp":
            x = g.op("Exp", [x])
        if self.n_outputs_ == 1:
            g.output("y", g.op("Reshape", [x, g.tensor(np.array([-1], np.int64), "shape")]),
                     ["N"])
        else:
            g.output("y", x, ["N", self.n_outputs_])


def _stochastic(est: MLPClassifier) -> bool:
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron classifier trained by fastmlp: scikit-learn's
MLPClassifier (see the module docstring for how its objective maps onto fastmlp's).

``model_`` outputs one logit per class of ``classes_`` (softmax), or one logit for a
binary problem and one per label for multilabel indicator targets (logistic). Labels may
be of any sortable type (ints, strings, ...). Inputs may be dense or scipy.sparse CSR/CSC.

Parameters
----------
""" + _COMMON_PARAMETERS + _ATTRIBUTES + """classes_ : ndarray
    The class labels.
"""

    _check_y: ClassVar[dict[str, bool]] = dict(multi_output=True)
    _score_fn = staticmethod(accuracy_score)

    def __sklearn_tags__(self) -> Tags:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        tags: Tags = super().__sklearn_tags__()  # type: ignore[no-untyped-call]
        assert tags.classifier_tags is not None  # ClassifierMixin sets them
        tags.classifier_tags.multi_label = True
        return tags

    def _output_activation(self, y: npt.NDArray[Any]) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _encode_targets(self, y: npt.NDArray[Any], first: bool,
                        incremental: bool) -> tuple[npt.NDArray[Any], int]:
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_: npt.NDArray[Any] = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        onehot = np.asarray(self._label_binarizer.transform(y))
        if self._label_binarizer.y_type_ == "multiclass":
            return onehot.argmax(axis=1), onehot.shape[1]
        return onehot.astype(np.float64), onehot.shape[1]

    def _predictions(self, out: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if self.out_activation_ == "softmax":
            return np.asarray(self.classes_[out.argmax(axis=1)])
        return np.asarray(self._label_binarizer.inverse_transform(
            out.ravel() if out.shape[1] == 1 else out))

    def _truth(self, t: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if t.ndim == 1:  # labels
            return np.asarray(self.classes_[t])
        return np.asarray(self._label_binarizer.inverse_transform(
            t.ravel() if t.shape[1] == 1 else t))

    def fit(self, X: Any, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> Self:
        """Trains a new network (or continues it with warm_start); returns self.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        y : array-like, shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights of the samples.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # scikit-learn's decorator is untyped; it hides the method unless the solver is
    # stochastic, as scikit-learn's classifier does.
    @available_if(_stochastic)  # type: ignore[untyped-decorator]
    def partial_fit(self, X: Any, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
                    classes: npt.ArrayLike | None = None) -> Self:
        """One epoch over (X, y), keeping the network and the optimizer state (solver
        "adam" or "sgd" only, as scikit-learn's).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        y : array-like, shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights of the samples.
        classes : array-like, optional
            All the labels; required on the first call.
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if np.ndim(y) == 2 and np.shape(y)[1] > 1:
                self._label_binarizer.fit(y)  # multilabel: the indicator's columns
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X: Any) -> npt.NDArray[np.floating[Any]]:
        """Class probabilities, (n, n_classes), in the order of ``classes_``; float64 unless X
        is float32.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        """
        p = self._forward(X)
        if p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X: Any) -> npt.NDArray[np.floating[Any]]:
        """log of predict_proba(X).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        """
        log: npt.NDArray[np.floating[Any]] = np.log(self.predict_proba(X))
        return log

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """Labels, (n,), or a multilabel indicator matrix.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix, shape (n_samples, n_features)
            The input.
        """
        return self._predictions(self._forward(X))

    def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
        """Adds the ONNX outputs "label" (``classes_``, strings included) and "probabilities".

        Parameters
        ----------
        g : fastmlp.onnx.GraphBuilder
            The graph being built.
        x : str
            The name of the network's output tensor.
        """
        if self.out_activation_ == "softmax":
            g.classifier_outputs(x, np.asarray(self.classes_))
        elif self._label_binarizer.y_type_ == "binary":
            # Logits (0, z): their softmax is (1 - sigmoid(z), sigmoid(z)).
            zero = g.op("Mul", [x, g.const(0.0, "zero")])
            g.classifier_outputs(g.op("Concat", [zero, x], axis=1), np.asarray(self.classes_))
        else:  # multilabel
            from onnx import TensorProto
            above = g.op("Greater", [x, g.const(0.0, "zero")])
            g.output("label", g.op("Cast", [above], to=TensorProto.INT64),
                     ["N", self.n_outputs_], TensorProto.INT64)
            g.output("probabilities", g.op("Sigmoid", [x]), ["N", self.n_outputs_])
