"""scikit-learn estimators that train with fastmlp: drop-ins for sklearn.neural_network's.

    from fastmlp.sklearn import MLPRegressor, MLPClassifier

Same constructor parameters, attributes and methods as scikit-learn's MLPRegressor and
MLPClassifier for the stochastic solvers ("adam", "sgd"), plus ``dtype``. Each fit is one
native ``fm.Sequential.fit`` call; the trained network is ``model_``.

Mapping onto fastmlp, chosen so that an optimizer step moves the weights as scikit-learn's
would (same batches, same initial weights):

- Losses: fastmlp trains on the mean squared error (mean over samples and the k outputs) or
  the cross-entropy; scikit-learn's gradients are those of half the squared error summed over
  outputs, or of the same cross-entropy. So fastmlp's gradient is ``g = 2/k`` times
  scikit-learn's for regression and ``g = 1`` for classification.
- alpha: scikit-learn adds ``alpha * W / batch_size`` to each weight's gradient. Here it is
  the optimizer's (coupled, torch-style) ``weight_decay = g * alpha / batch_size``. Unlike
  scikit-learn it also decays the biases, and ``loss_`` excludes the penalty term.
- solver="sgd" uses ``lr = learning_rate_init / g`` (same steps); "adam" is scale-free
  (but for its ``epsilon``), so it keeps ``learning_rate_init``.
- loss_ / loss_curve_ are on scikit-learn's scale: half the MSE, or the cross-entropy.
- Convergence: training stops when the loss has not improved by ``tol`` for
  ``n_iter_no_change`` epochs in a row (fit's patience/min_delta, Keras-style: an epoch counts
  as an improvement only when it beats the best so far by ``tol``).
- early_stopping monitors the validation *loss* (scikit-learn: the validation score) and
  restores the best weights; ``validation_scores_`` still holds R² / accuracy per epoch.
- Weights start Glorot-uniform as in scikit-learn; the biases start at zero.
- Binary classification uses two logits and the cross-entropy, as multiclass does.
- Not supported: solver="lbfgs", learning_rate schedules other than constant, sparse input.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, ClassVar, Literal, Sequence, TypedDict, Union, final

import numpy as np
import numpy.typing as npt

try:
    from scipy.special import log_softmax, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as e:  # validate_data is new in scikit-learn 1.6
    raise ImportError("fastmlp.sklearn needs scikit-learn >= 1.6: pip install scikit-learn") from e

from . import _checks, optim
from ._checks import FloatArray
from .nn import Layer, Linear, ReLU, Sequential, Sigmoid, Tanh
from .onnx import GraphBuilder

if TYPE_CHECKING:
    from sklearn.utils import Tags
    from typing_extensions import Self, TypeIs

    from .optim.optimizers import OptimizerState

_ACTIVATIONS = {"identity": None, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}
_SEED_MAX = 2**31 - 1
# hidden_layer_sizes: one width, or one per hidden layer.
HiddenSizes = Union[int, Sequence[int]]


def _is_one_size(sizes: HiddenSizes) -> TypeIs[int]:
    """One width for every hidden layer (np.ndim: a NumPy integer is one too)."""
    return bool(np.ndim(sizes) == 0)


# The optimizer's arguments for each solver (final: a key tells which one it is).
@final
class _AdamArgs(TypedDict):
    lr: float
    betas: tuple[float, float]
    eps: float
    weight_decay: float


@final
class _SGDArgs(TypedDict):
    lr: float
    momentum: float
    weight_decay: float
    nesterov: bool


class _PickledState(TypedDict, total=False):
    """The entries of __getstate__'s dict that __setstate__ turns back into native objects."""
    model_: dict[str, FloatArray]
    _optimizer: OptimizerState


class _BaseMLP(BaseEstimator):
    _loss = ""            # fastmlp loss name
    _metric = ""          # fit's validation metric, the same as score()
    _loss_factor = 1.0    # scikit-learn's loss / fastmlp's
    _check_y: ClassVar[dict[str, bool]]  # validate_data's options for y

    def __init__(self, hidden_layer_sizes: HiddenSizes = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | Literal["auto"] = "auto", learning_rate_init: float = 0.001,
                 max_iter: int = 200, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: float = 10,
                 dtype: npt.DTypeLike = "float32") -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
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
        self.dtype = dtype

    # --- what the subclasses define -----------------------------------------------------
    def _encode_targets(self, y: npt.NDArray[np.generic], first: bool,
                        classes: npt.ArrayLike | None) -> tuple[npt.NDArray[np.generic], int]:
        """(targets for fastmlp, number of outputs); sets the target attributes when first."""
        raise NotImplementedError

    def _grad_scale(self) -> float:
        """fastmlp's loss gradient / scikit-learn's."""
        return 1.0

    # --- sklearn-style attributes read from the network ---------------------------------
    @property
    def coefs_(self) -> list[FloatArray]:
        return [l.weight.data.copy() for l in self.model_ if isinstance(l, Linear)]

    @property
    def intercepts_(self) -> list[FloatArray]:
        # Every Linear built here has a bias.
        return [l.bias.data.copy() for l in self.model_
                if isinstance(l, Linear) and l.bias is not None]

    # --- training -----------------------------------------------------------------------
    def _fit(self, X_in: npt.ArrayLike, y_in: npt.ArrayLike,
             sample_weight: npt.ArrayLike | None, incremental: bool,
             classes: npt.ArrayLike | None = None) -> Self:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        dtype = _checks.model_dtype(self.dtype)
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X: FloatArray
        y: npt.NDArray[np.generic]
        X, y = validate_data(self, X_in, y_in, reset=first, dtype=dtype, **self._check_y)
        y, n_out = self._encode_targets(y, first, classes)
        if sample_weight is not None:  # scikit-learn's checks and messages
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype,
                                                 ensure_non_negative=True)
        if first:
            self._random_state: np.random.RandomState = check_random_state(self.random_state)
            self.n_outputs_ = n_out
            hidden = self.hidden_layer_sizes
            # The architecture as built, so that unpickling ignores later set_params.
            self._arch = ([X.shape[1], *([hidden] if _is_one_size(hidden) else hidden), n_out],
                          self.activation)
            self.model_ = self._build(*self._arch, dtype, self._random_state.randint(_SEED_MAX))
            self.loss_curve_: list[float] = []
            self.best_loss_: float | None = np.inf
        rng = self._random_state

        validation_data = None
        if self.early_stopping:
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            split = train_test_split(*arrays, random_state=rng, test_size=self.validation_fraction,
                                     stratify=y if self._metric == "accuracy" else None)
            X, y, validation_data = split[0], split[2], (split[1], split[3])
            sample_weight = None if sample_weight is None else split[4]
            if len(split[1]) < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")

        batch = self._batch_size(X.shape[0])
        if first:
            self._opt_args = self._optimizer_args(batch)
            self._optimizer = self._new_optimizer()
        no_patience = incremental or self.n_iter_no_change == np.inf
        hist = self.model_.fit(
            X, y, loss=self._loss, optimizer=self._optimizer,
            epochs=1 if incremental else self.max_iter, batch_size=batch, shuffle=self.shuffle,
            seed=rng.randint(_SEED_MAX), log_every=int(bool(self.verbose)),
            sample_weight=sample_weight, validation_data=validation_data,
            metrics=(self._metric,) if validation_data else (),
            # Keras' patience counts the non-improving epochs up to and including the stop;
            # scikit-learn stops once more than n_iter_no_change of them have passed.
            patience=None if no_patience else int(self.n_iter_no_change) + 1,
            min_delta=self.tol / self._loss_factor, restore_best_weights=bool(validation_data))

        losses = (hist.loss * self._loss_factor).tolist()
        self.loss_curve_ += losses
        self.loss_ = losses[-1]
        self.n_iter_ = len(losses)
        if validation_data:
            self.validation_scores_ = hist.val_metrics[self._metric].tolist()
            assert hist.best_epoch is not None  # restore_best_weights records it
            self.best_validation_score_ = self.validation_scores_[hist.best_epoch - 1]
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.best_loss_, min(losses))
        if not incremental and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _build(self, sizes: list[int], activation: str, dtype: npt.DTypeLike,
               seed: int | None) -> Sequential:
        act = _ACTIVATIONS[activation]
        layers: list[Layer] = []
        for i in range(len(sizes) - 1):
            if i and act is not None:
                layers.append(act())
            layers.append(Linear(sizes[i], sizes[i + 1], dtype=dtype, init="xavier_uniform"))
        net = Sequential(*layers, dtype=dtype, seed=seed)
        if activation == "logistic":  # scikit-learn's Glorot bound sqrt(2/(in+out)) here
            for l in net:
                if isinstance(l, Linear):
                    l.weight.data *= 3 ** -0.5
        return net

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        return int(min(self.batch_size, n))

    def _optimizer_args(self, batch: int) -> _AdamArgs | _SGDArgs:
        g = self._grad_scale()
        wd = g * self.alpha / batch
        if self.solver == "adam":
            return dict(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                        eps=self.epsilon, weight_decay=wd)
        return dict(lr=self.learning_rate_init / g, momentum=self.momentum, weight_decay=wd,
                    nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _new_optimizer(self) -> optim.Optimizer:
        if "betas" in self._opt_args:
            return optim.Adam(self.model_.parameters(), **self._opt_args)
        return optim.SGD(self.model_.parameters(), **self._opt_args)

    def _forward(self, X: npt.ArrayLike) -> FloatArray:
        check_is_fitted(self)
        return self.model_.predict(validate_data(self, X, reset=False, dtype=self.model_.dtype))

    def onnx_network(self) -> Sequential:
        """The trained network, for fastmlp.onnx.to_onnx(estimator)."""
        check_is_fitted(self)
        return self.model_

    # --- pickling (joblib, clone of fitted models): the native objects don't pickle -----
    def __getstate__(self) -> dict[str, object]:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        state = dict(super().__getstate__())  # type: ignore[no-untyped-call]
        if "model_" in state:
            state["model_"] = self.model_.state_dict()
            state["_optimizer"] = self._optimizer.state_dict()
        return state

    def __setstate__(self, state: _PickledState) -> None:
        weights, opt_state = state.pop("model_", None), state.pop("_optimizer", None)
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        if weights is not None:
            # No seed: drawing one would advance _random_state; the weights are loaded next.
            dtype = next(iter(weights.values())).dtype
            self.model_ = self._build(*self._arch, dtype, None)
            self.model_.load_state_dict(weights)
            self._optimizer = self._new_optimizer()
            assert opt_state is not None  # __getstate__ stores it with the weights
            self._optimizer.load_state_dict(opt_state)


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by fastmlp on the squared error.

    Parameters and attributes as sklearn.neural_network.MLPRegressor (see the module
    docstring for how they map onto fastmlp), plus ``dtype`` ("float32" or "float64") and
    ``model_``, the trained ``fastmlp.Sequential``. ``y`` may have shape (n,) or (n, k).
    """

    _loss, _metric, _loss_factor = "mse", "r2", 0.5
    _check_y = dict(multi_output=True, y_numeric=True)

    def __sklearn_tags__(self) -> Tags:
        # mypy #16653: untyped_calls_exclude does not cover calls through super().
        tags: Tags = super().__sklearn_tags__()  # type: ignore[no-untyped-call]
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y: npt.NDArray[np.generic], first: bool,
                        classes: npt.ArrayLike | None) -> tuple[npt.NDArray[np.generic], int]:
        return y, 1 if y.ndim == 1 else y.shape[1]

    def _grad_scale(self) -> float:
        return 2.0 / self.n_outputs_

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> Self:
        """Trains a new network (or continues it with warm_start); returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: npt.ArrayLike | None = None) -> Self:
        """One epoch over (X, y), keeping the network and the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: npt.ArrayLike) -> FloatArray:
        """Predictions of shape (n,) for one output, else (n, k), in the model's dtype."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
        """ONNX output "y" shaped as predict()'s."""
        if self.n_outputs_ == 1:
            g.output("y", g.op("Reshape", [x, g.tensor(np.array([-1], np.int64), "shape")]),
                     ["N"])
        else:
            g.output("y", x, ["N", self.n_outputs_])


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by fastmlp on the cross-entropy.

    Parameters and attributes as sklearn.neural_network.MLPClassifier (see the module
    docstring for how they map onto fastmlp), plus ``dtype`` and ``model_``, the trained
    ``fastmlp.Sequential`` whose outputs are one logit per class of ``classes_``. Labels may
    be of any sortable type (ints, strings, ...).
    """

    _loss, _metric = "cross_entropy", "accuracy"
    _check_y = dict()

    def _encode_targets(self, y: npt.NDArray[np.generic], first: bool,
                        classes: npt.ArrayLike | None) -> tuple[npt.NDArray[np.generic], int]:
        check_classification_targets(y)
        if first:
            self.classes_: npt.NDArray[np.generic] = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes, got one class: "
                                 f"{self.classes_[0]!r}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to "
                             f"partial_fit: {self.classes_!r}")
        idx = np.searchsorted(self.classes_, y)
        known = self.classes_[np.minimum(idx, len(self.classes_) - 1)] == y
        if not known.all():
            raise ValueError(f"y contains labels not in classes_ {self.classes_!r}: "
                             f"{np.unique(np.asarray(y)[~known])!r}")
        return idx.astype(np.int64), len(self.classes_)

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> Self:
        """Trains a new network (or continues it with warm_start); returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: npt.ArrayLike | None = None,
                    classes: npt.ArrayLike | None = None) -> Self:
        """One epoch over (X, y), keeping the network and the optimizer state.

        classes: all the labels, required on the first call."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Softmax of the logits, float64, shape (n, n_classes)."""
        return softmax(self._forward(X).astype(np.float64), axis=1)

    def predict_log_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return log_softmax(self._forward(X).astype(np.float64), axis=1)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.generic]:
        logits = self._forward(X)  # first: it raises NotFittedError before classes_ would
        best: npt.NDArray[np.intp] = logits.argmax(axis=1)  # NumPy types argmax(axis) as Any
        return self.classes_[best]

    def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
        """ONNX outputs "label" (classes_, strings included) and "probabilities"."""
        g.classifier_outputs(x, np.asarray(self.classes_))
