"""
fastmlp native core
"""
from __future__ import annotations
import builtins
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['Act', 'ActSpec', 'CsrMatrix', 'FitOptions', 'FitState', 'LayerKind', 'LayerSpec', 'LbfgsOptions', 'LbfgsResult', 'LossKind', 'LossSpec', 'Net_f32', 'Net_f64', 'OptKind', 'OptSpec', 'Optimizer_f32', 'Optimizer_f64', 'ParamInfo', 'SYNC_FAILED', 'SYNC_SLOTS', 'act_backward_f32', 'act_backward_f64', 'act_forward_f32', 'act_forward_f64', 'build_info', 'gemm_f32', 'gemm_f64', 'get_num_threads', 'linear_backward_f32', 'linear_backward_f64', 'linear_forward_f32', 'linear_forward_f64', 'log_softmax_f32', 'log_softmax_f64', 'loss_f32', 'loss_f64', 'optim_update_f32', 'optim_update_f64', 'param_count', 'param_layout', 'set_num_threads']
class LayerKind:
    """
    Members:
    
      linear
    
      activation
    
      dropout
    """
    __members__: typing.ClassVar[dict[str, LayerKind]]
    activation: typing.ClassVar[LayerKind]
    dropout: typing.ClassVar[LayerKind]
    linear: typing.ClassVar[LayerKind]
    @typing.overload
    def __eq__(self, other: LayerKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: LayerKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class Act:
    """
    Members:
    
      identity
    
      relu
    
      leaky_relu
    
      tanh
    
      sigmoid
    
      gelu
    
      gelu_tanh
    
      silu
    
      softplus
    """
    __members__: typing.ClassVar[dict[str, Act]]
    gelu: typing.ClassVar[Act]
    gelu_tanh: typing.ClassVar[Act]
    identity: typing.ClassVar[Act]
    leaky_relu: typing.ClassVar[Act]
    relu: typing.ClassVar[Act]
    sigmoid: typing.ClassVar[Act]
    silu: typing.ClassVar[Act]
    softplus: typing.ClassVar[Act]
    tanh: typing.ClassVar[Act]
    @typing.overload
    def __eq__(self, other: Act) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: Act) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class LossKind:
    """
    Members:
    
      mse
    
      l1
    
      huber
    
      bce_with_logits
    
      cross_entropy
    
      poisson_nll
    """
    __members__: typing.ClassVar[dict[str, LossKind]]
    bce_with_logits: typing.ClassVar[LossKind]
    cross_entropy: typing.ClassVar[LossKind]
    huber: typing.ClassVar[LossKind]
    l1: typing.ClassVar[LossKind]
    mse: typing.ClassVar[LossKind]
    poisson_nll: typing.ClassVar[LossKind]
    @typing.overload
    def __eq__(self, other: LossKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: LossKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class OptKind:
    """
    Members:
    
      sgd
    
      adam
    
      adamw
    
      rmsprop
    """
    __members__: typing.ClassVar[dict[str, OptKind]]
    adam: typing.ClassVar[OptKind]
    adamw: typing.ClassVar[OptKind]
    rmsprop: typing.ClassVar[OptKind]
    sgd: typing.ClassVar[OptKind]
    @typing.overload
    def __eq__(self, other: OptKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: OptKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class ActSpec:
    """
    An activation: a = negative slope (leaky_relu) or beta (softplus); b = threshold (softplus).
    """
    kind: Act
    def __init__(self, kind: Act = ..., a: typing.SupportsFloat | typing.SupportsIndex = 0.0, b: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
        ...
    @property
    def a(self) -> float:
        ...
    @a.setter
    def a(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def b(self) -> float:
        ...
    @b.setter
    def b(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class LayerSpec:
    act: ActSpec
    bias: bool
    kind: LayerKind
    def __init__(self, kind: LayerKind, in_features: typing.SupportsInt | typing.SupportsIndex = 0, out_features: typing.SupportsInt | typing.SupportsIndex = 0, bias: bool = True, act: ActSpec = ..., p: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
        ...
    @property
    def in_features(self) -> int:
        ...
    @in_features.setter
    def in_features(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def out_features(self) -> int:
        ...
    @out_features.setter
    def out_features(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def p(self) -> float:
        ...
    @p.setter
    def p(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class ParamInfo:
    """
    Where a parameter lives in a model's flat buffers.
    """
    @property
    def layer(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def offset(self) -> int:
        ...
    @property
    def shape(self) -> tuple[int, ...]:
        ...
class LossSpec:
    kind: LossKind
    mean: bool
    def __init__(self, kind: LossKind, mean: bool = True, delta: typing.SupportsFloat | typing.SupportsIndex = 1.0) -> None:
        ...
    @property
    def delta(self) -> float:
        ...
    @delta.setter
    def delta(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class OptSpec:
    amsgrad: bool
    centered: bool
    kind: OptKind
    nesterov: bool
    def __init__(self) -> None:
        ...
    def state_count(self) -> int:
        ...
    @property
    def alpha(self) -> float:
        ...
    @alpha.setter
    def alpha(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def beta1(self) -> float:
        ...
    @beta1.setter
    def beta1(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def beta2(self) -> float:
        ...
    @beta2.setter
    def beta2(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def dampening(self) -> float:
        ...
    @dampening.setter
    def dampening(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def eps(self) -> float:
        ...
    @eps.setter
    def eps(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def lr(self) -> float:
        ...
    @lr.setter
    def lr(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def momentum(self) -> float:
        ...
    @momentum.setter
    def momentum(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def weight_decay(self) -> float:
        ...
    @weight_decay.setter
    def weight_decay(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class FitOptions:
    shuffle: bool
    def __init__(self) -> None:
        ...
    @property
    def batch_size(self) -> int:
        ...
    @batch_size.setter
    def batch_size(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def clip_norm(self) -> float:
        ...
    @clip_norm.setter
    def clip_norm(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def epochs(self) -> int:
        ...
    @epochs.setter
    def epochs(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def l2(self) -> float:
        ...
    @l2.setter
    def l2(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def report_every(self) -> int:
        ...
    @report_every.setter
    def report_every(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def steps(self) -> int:
        ...
    @steps.setter
    def steps(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class FitState:
    def __init__(self) -> None:
        ...
    @property
    def epoch(self) -> int:
        ...
    @epoch.setter
    def epoch(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def loss(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def order(self) -> numpy.typing.NDArray[numpy.int64]:
        ...
    @order.setter
    def order(self, arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> None:
        ...
    @property
    def penalty(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def rng(self) -> int:
        ...
    @rng.setter
    def rng(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def val_loss(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
class LbfgsOptions:
    def __init__(self) -> None:
        ...
    @property
    def ftol(self) -> float:
        ...
    @ftol.setter
    def ftol(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def gtol(self) -> float:
        ...
    @gtol.setter
    def gtol(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def history(self) -> int:
        ...
    @history.setter
    def history(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_fun(self) -> int:
        ...
    @max_fun.setter
    def max_fun(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_iter(self) -> int:
        ...
    @max_iter.setter
    def max_iter(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_ls(self) -> int:
        ...
    @max_ls.setter
    def max_ls(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class LbfgsResult:
    @property
    def f(self) -> float:
        ...
    @property
    def message(self) -> str:
        ...
    @property
    def n_fun(self) -> int:
        ...
    @property
    def n_iter(self) -> int:
        ...
    @property
    def status(self) -> int:
        """
        0 converged, 1 an iteration or evaluation limit, 2 the line search failed (scipy's status codes)
        """
class Optimizer_f32:
    def __init__(self, spec: OptSpec, params: collections.abc.Sequence[tuple[typing.Annotated[numpy.typing.ArrayLike, numpy.float32], typing.Annotated[numpy.typing.ArrayLike, numpy.float32]]], states: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float32]]) -> None:
        ...
    def step(self) -> None:
        ...
    def zero_grad(self) -> None:
        ...
    @property
    def lr(self) -> float:
        ...
    @lr.setter
    def lr(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def step_count(self) -> int:
        ...
    @step_count.setter
    def step_count(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class Optimizer_f64:
    def __init__(self, spec: OptSpec, params: collections.abc.Sequence[tuple[typing.Annotated[numpy.typing.ArrayLike, numpy.float64], typing.Annotated[numpy.typing.ArrayLike, numpy.float64]]], states: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float64]]) -> None:
        ...
    def step(self) -> None:
        ...
    def zero_grad(self) -> None:
        ...
    @property
    def lr(self) -> float:
        ...
    @lr.setter
    def lr(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def step_count(self) -> int:
        ...
    @step_count.setter
    def step_count(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class CsrMatrix:
    def __init__(self, data: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | typing.Annotated[numpy.typing.ArrayLike, numpy.float64], indices: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], indptr: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], n_cols: typing.SupportsInt | typing.SupportsIndex, name: str) -> None:
        """
        Rows of a CSR matrix with n_cols columns over scipy's three arrays (kept, not copied, but int32 indices are widened to int64), for a Net of the values' dtype; bad structure raises ValueError naming `name`.
        """
class Net_f32:
    training: bool
    def __init__(self, layers: collections.abc.Sequence[LayerSpec], in_features: typing.SupportsInt | typing.SupportsIndex, params: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], grads: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], prepare: collections.abc.Callable[[builtins.object], builtins.object]) -> None:
        """
        prepare(x) turns what predict() was given into a C-ordered matrix of the net's dtype with in_features columns or a CsrMatrix of them (checked).
        """
    def backward(self, grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def fit(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, loss: LossSpec, optimizer: Optimizer_f32, options: FitOptions, val_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | CsrMatrix | None, val_y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, val_labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, on_report: collections.abc.Callable[[int, float, float, float], bool] | None, state: FitState, sync: collections.abc.Callable[[bool, typing.Any], None] | None = None, sync_extras: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None = None) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64] | None]:
        """
        The native training loop: (loss per epoch, its weight-L2 part, validation loss per epoch or None). It continues from the epoch of `state` (0: a fresh run) and keeps it up to date, before each report, for checkpoints. With sync, data-parallel: see train_step.
        """
    def fit_lbfgs(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, loss: LossSpec, weight_l2: typing.SupportsFloat | typing.SupportsIndex, options: LbfgsOptions, on_iter: collections.abc.Callable[[int, float], bool] | None) -> LbfgsResult:
        """
        Full-batch L-BFGS on (x, targets); on_iter(iteration, objective) after each iteration, False stops.
        """
    def forward(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def predict(self, x: builtins.object) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def train_step(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, loss: LossSpec, optimizer: Optimizer_f32, clip_norm: typing.SupportsFloat | typing.SupportsIndex, weight_l2: typing.SupportsFloat | typing.SupportsIndex, sync: collections.abc.Callable[[bool, typing.Any], None] | None = None, sync_extras: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None = None) -> float:
        """
        With sync (and sync_extras, the values after the gradient buffer), one data-parallel step: the gradients are summed over the processes by sync.
        """
    def train_step_exact(self, x: typing.Any, y: typing.Any, loss: LossSpec, labels: bool, optimizer: Optimizer_f32) -> float | None:
        """
        train_step's per-step path: dense x and y (or int64 labels) exactly as the net reads them, finite and in range, no sample weights, clipping or penalty. None when they are not, for the full path to check and explain.
        """
    @property
    def batch(self) -> int:
        ...
    @property
    def dropout_draws(self) -> int:
        """
        Training forwards so far under dropout_seed: the position of the dropout masks.
        """
    @dropout_draws.setter
    def dropout_draws(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def dropout_seed(self) -> int:
        ...
    @dropout_seed.setter
    def dropout_seed(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class Net_f64:
    training: bool
    def __init__(self, layers: collections.abc.Sequence[LayerSpec], in_features: typing.SupportsInt | typing.SupportsIndex, params: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], grads: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], prepare: collections.abc.Callable[[builtins.object], builtins.object]) -> None:
        """
        prepare(x) turns what predict() was given into a C-ordered matrix of the net's dtype with in_features columns or a CsrMatrix of them (checked).
        """
    def backward(self, grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def fit(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, loss: LossSpec, optimizer: Optimizer_f64, options: FitOptions, val_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | CsrMatrix | None, val_y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, val_labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, on_report: collections.abc.Callable[[int, float, float, float], bool] | None, state: FitState, sync: collections.abc.Callable[[bool, typing.Any], None] | None = None, sync_extras: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64] | None]:
        """
        The native training loop: (loss per epoch, its weight-L2 part, validation loss per epoch or None). It continues from the epoch of `state` (0: a fresh run) and keeps it up to date, before each report, for checkpoints. With sync, data-parallel: see train_step.
        """
    def fit_lbfgs(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, loss: LossSpec, weight_l2: typing.SupportsFloat | typing.SupportsIndex, options: LbfgsOptions, on_iter: collections.abc.Callable[[int, float], bool] | None) -> LbfgsResult:
        """
        Full-batch L-BFGS on (x, targets); on_iter(iteration, objective) after each iteration, False stops.
        """
    def forward(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict(self, x: builtins.object) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def train_step(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | CsrMatrix, y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, sample_weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, loss: LossSpec, optimizer: Optimizer_f64, clip_norm: typing.SupportsFloat | typing.SupportsIndex, weight_l2: typing.SupportsFloat | typing.SupportsIndex, sync: collections.abc.Callable[[bool, typing.Any], None] | None = None, sync_extras: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None) -> float:
        """
        With sync (and sync_extras, the values after the gradient buffer), one data-parallel step: the gradients are summed over the processes by sync.
        """
    def train_step_exact(self, x: typing.Any, y: typing.Any, loss: LossSpec, labels: bool, optimizer: Optimizer_f64) -> float | None:
        """
        train_step's per-step path: dense x and y (or int64 labels) exactly as the net reads them, finite and in range, no sample weights, clipping or penalty. None when they are not, for the full path to check and explain.
        """
    @property
    def batch(self) -> int:
        ...
    @property
    def dropout_draws(self) -> int:
        """
        Training forwards so far under dropout_seed: the position of the dropout masks.
        """
    @dropout_draws.setter
    def dropout_draws(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def dropout_seed(self) -> int:
        ...
    @dropout_seed.setter
    def dropout_seed(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
def _multithreaded_regions() -> int:
    ...
def _select_isa(isa: str) -> str:
    ...
def act_backward_f32(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], act: ActSpec) -> numpy.typing.NDArray[numpy.float32]:
    ...
def act_backward_f64(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], act: ActSpec) -> numpy.typing.NDArray[numpy.float64]:
    ...
def act_forward_f32(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], act: ActSpec) -> numpy.typing.NDArray[numpy.float32]:
    ...
def act_forward_f64(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], act: ActSpec) -> numpy.typing.NDArray[numpy.float64]:
    ...
def build_info() -> dict[str, str | bool | int | list[str]]:
    ...
def gemm_f32(a: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], c: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], accumulate: bool) -> None:
    ...
def gemm_f64(a: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], c: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], accumulate: bool) -> None:
    ...
def get_num_threads() -> int:
    ...
def linear_backward_f32(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]]:
    ...
def linear_backward_f64(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], grad: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    ...
def linear_forward_f32(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None) -> numpy.typing.NDArray[numpy.float32]:
    ...
def linear_forward_f64(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None) -> numpy.typing.NDArray[numpy.float64]:
    ...
def log_softmax_f32(z: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    ...
def log_softmax_f64(z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
    ...
def loss_f32(pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, loss: LossSpec, want_grad: bool) -> tuple[float, numpy.typing.NDArray[numpy.float32] | None]:
    """
    (loss value, dloss/dpred or None); pass exactly one of y and labels.
    """
def loss_f64(pred: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, labels: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, loss: LossSpec, want_grad: bool) -> tuple[float, numpy.typing.NDArray[numpy.float64] | None]:
    """
    (loss value, dloss/dpred or None); pass exactly one of y and labels.
    """
def optim_update_f32(spec: OptSpec, step: typing.SupportsInt | typing.SupportsIndex, p: numpy.typing.NDArray[numpy.float32], g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], states: list[numpy.typing.NDArray[numpy.float32]]) -> None:
    ...
def optim_update_f64(spec: OptSpec, step: typing.SupportsInt | typing.SupportsIndex, p: numpy.typing.NDArray[numpy.float64], g: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], states: list[numpy.typing.NDArray[numpy.float64]]) -> None:
    ...
def param_count(layers: collections.abc.Sequence[LayerSpec]) -> int:
    ...
def param_layout(layers: collections.abc.Sequence[LayerSpec]) -> list[ParamInfo]:
    """
    Each Linear's weight then bias, in layer order; checks the specs.
    """
def set_num_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
SYNC_FAILED: int = 4
SYNC_SLOTS: int = 5
