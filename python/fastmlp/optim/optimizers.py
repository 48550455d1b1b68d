"""Optimizers with ``torch.optim``'s update rules over the model's flat buffers.

Parameters that sit next to each other in one flat buffer (those of a `Sequential`) are
updated as one span, so a step is one native loop; the state (momentum, Adam's moments) is
one flat buffer per kind."""
from __future__ import annotations

from typing import Dict, Iterable, NoReturn, TypedDict, Union

import numpy as np
import numpy.typing as npt

from .. import _checks, _core
from .._checks import FloatArray
from ..params import Parameter, zeros_aligned

# The core optimizer of an Optimizer's dtype.
NativeOptimizer = Union[_core.Optimizer_f32, _core.Optimizer_f64]
# An optimizer's constructor arguments besides params, as fastmlp.save writes them.
OptimizerConfig = Dict[str, Union[bool, float, list[float]]]


class OptimizerState(TypedDict):
    """What ``Optimizer.state_dict()`` returns and ``load_state_dict()`` takes: ``state``,
    copies of the state buffers (none for plain SGD, the momentum for SGD with momentum,
    Adam's m and v, ...); ``step_count``, the steps taken; ``lr``, the learning rate."""
    state: list[FloatArray]
    step_count: int
    lr: float


def _spans(params: list[Parameter]) -> list[tuple[FloatArray, FloatArray]]:
    """(data, grad) arrays covering the parameters, merging neighbours in one flat buffer."""
    spans: list[tuple[FloatArray, FloatArray]] = []
    for p in params:
        d, g = p.data.reshape(-1), p.grad.reshape(-1)
        if spans:
            pd, pg = spans[-1]
            # Consecutive views of one flat buffer become one span: one native loop.
            if (pd.base is not None and pd.base is d.base and pg.base is not None
                    and pg.base is g.base and _end(pd) == _start(d) and _end(pg) == _start(g)):
                spans[-1] = (_extend(pd.base, pd, d.size), _extend(pg.base, pg, g.size))
                continue
        spans.append((d, g))
    return spans


def _start(a: npt.NDArray[np.generic]) -> int:
    return int(a.__array_interface__["data"][0])


def _end(a: FloatArray) -> int:
    return _start(a) + a.nbytes


def _extend(base: FloatArray, a: FloatArray, n: int) -> FloatArray:
    """The view of `base` that is `a` and the n elements after it."""
    off = (_start(a) - _start(base)) // a.itemsize
    return base.reshape(-1)[off:off + a.size + n]


class Optimizer:
    """The base of the optimizers: the parameters, the state buffers and the native
    updater. Construct `SGD`, `Adam`, `AdamW` or `RMSprop` rather than this class.

    ``params`` and ``state`` (the list of flat state buffers) are attributes, and
    ``dtype`` is the parameters' dtype.

    Parameters
    ----------
    params : iterable of Parameter
        What to optimize, all of one dtype: usually ``net.parameters()``.
    spec : fastmlp._core.OptSpec
        The native description of the update rule and its settings.
    """

    def __init__(self, params: Iterable[Parameter], spec: _core.OptSpec) -> None:
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a fastmlp Parameter, got {type(p).__name__}")
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.params = params
        self.dtype = params[0].dtype
        self._spec = spec  # its settings, for config(); lr lives in the native optimizer
        total = sum(p.data.size for p in params)
        self.state = [zeros_aligned(total, self.dtype) for _ in range(spec.state_count())]
        cls = _core.Optimizer_f32 if self.dtype == np.float32 else _core.Optimizer_f64
        self._impl = cls(spec, _spans(params), self.state)

    @property
    def native(self) -> NativeOptimizer:
        """The core optimizer behind this object: what train_step and fit hand to the core."""
        return self._impl

    @property
    def lr(self) -> float:
        """The learning rate of the next step; settable (>= 0), as the schedules do."""
        return self._impl.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._impl.lr = _check_lr(value)

    @property
    def step_count(self) -> int:
        """The number of steps taken (Adam's bias corrections count from it)."""
        return self._impl.step_count

    def step(self) -> None:
        """Updates the parameters from their current ``.grad``, in one native call."""
        self._impl.step()

    def zero_grad(self) -> None:
        """Sets the gradients of the parameters to zero."""
        self._impl.zero_grad()

    def config(self) -> OptimizerConfig:
        """The constructor's arguments besides ``params`` (``lr`` the current rate):
        ``type(opt)(params, **opt.config())`` makes an optimizer of the same settings.

        Returns
        -------
        dict of str to bool, float or list of float
        """
        raise NotImplementedError

    def __reduce__(self) -> NoReturn:
        # Its parameters are views into one model's buffers, which a copy would not share.
        raise TypeError(f"{type(self).__name__} optimizers do not pickle or copy: each updates one "
                        "model's parameters in place. Save both with fm.save(net, path, "
                        "optimizer=opt), or copy opt.state_dict() into a new optimizer")

    def state_dict(self) -> OptimizerState:
        """Copies of the state buffers (Adam's m and v, ...), the step count and lr."""
        return {"state": [s.copy() for s in self.state], "step_count": self.step_count,
                "lr": self.lr}

    def load_state_dict(self, state: OptimizerState) -> None:
        """Restores what ``state_dict()`` returned, checking every buffer before changing
        anything.

        Parameters
        ----------
        state : OptimizerState
            From ``state_dict()`` of an optimizer of the same kind over parameters of the
            same sizes.

        Raises
        ------
        ValueError
            A buffer of the wrong size or count, a negative step count or learning rate.
        """
        buffers = list(state["state"])
        if len(buffers) != len(self.state):
            raise ValueError(f"state_dict has {len(buffers)} state buffers, this optimizer "
                             f"needs {len(self.state)}")
        new = [_checks.like(b, f"state[{i}]", s, "the optimizer state")
               for i, (b, s) in enumerate(zip(buffers, self.state))]
        step_count = int(state["step_count"])
        if step_count < 0:
            raise ValueError(f"step_count must be >= 0, got {step_count}")
        lr = _check_lr(state["lr"])
        for s, b in zip(self.state, new):
            s[...] = b
        self._impl.step_count = step_count
        self._impl.lr = lr


def _check_lr(lr: float) -> float:
    lr = float(lr)
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    return lr


def _check_nonneg(value: float, name: str) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_betas(betas: Iterable[float]) -> tuple[float, float]:
    b1, b2 = (float(b) for b in betas)
    for i, b in enumerate((b1, b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"betas[{i}] must be in [0, 1), got {b}")
    return b1, b2


class SGD(Optimizer):
    """Stochastic gradient descent, with ``torch.optim.SGD``'s update rule.

    Parameters
    ----------
    params : iterable of Parameter
        What to optimize, all of one dtype: usually ``net.parameters()``.
    lr : float, optional
        The learning rate.
    momentum : float, optional
        The momentum factor; 0 is plain SGD.
    dampening : float, optional
        Dampening of the momentum.
    weight_decay : float, optional
        L2 penalty, added to the gradient as ``weight_decay * w``.
    nesterov : bool, optional
        Nesterov momentum (needs a momentum and no dampening).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        s = _core.OptSpec()
        s.kind, s.lr = _core.OptKind.sgd, _check_lr(lr)
        s.momentum = _check_nonneg(momentum, "momentum")
        s.dampening = float(dampening)
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        if nesterov and (s.momentum <= 0 or s.dampening != 0):
            raise ValueError("nesterov momentum requires a momentum and zero dampening")
        s.nesterov = bool(nesterov)
        super().__init__(params, s)

    def config(self) -> OptimizerConfig:
        s = self._spec
        return {"lr": self.lr, "momentum": s.momentum, "dampening": s.dampening,
                "weight_decay": s.weight_decay, "nesterov": s.nesterov}


class Adam(Optimizer):
    """Adam, with ``torch.optim.Adam``'s update rule.

    Parameters
    ----------
    params : iterable of Parameter
        What to optimize, all of one dtype: usually ``net.parameters()``.
    lr : float, optional
        The learning rate.
    betas : (float, float), optional
        The decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        L2 penalty, added to the gradient (coupled; `AdamW` decouples it).
    amsgrad : bool, optional
        Use the maximum of the second moments seen so far (the AMSGrad variant).
    """

    _kind = _core.OptKind.adam

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        s = _core.OptSpec()
        s.kind, s.lr = self._kind, _check_lr(lr)
        s.beta1, s.beta2 = _check_betas(betas)
        s.eps = _check_nonneg(eps, "eps")
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        s.amsgrad = bool(amsgrad)
        super().__init__(params, s)

    def config(self) -> OptimizerConfig:
        s = self._spec
        return {"lr": self.lr, "betas": [s.beta1, s.beta2], "eps": s.eps,
                "weight_decay": s.weight_decay, "amsgrad": s.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, with ``torch.optim.AdamW``'s update rule: the
    weights shrink by ``lr * weight_decay`` each step, apart from the gradient.

    Parameters
    ----------
    params : iterable of Parameter
        What to optimize, all of one dtype: usually ``net.parameters()``.
    lr : float, optional
        The learning rate.
    betas : (float, float), optional
        The decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        The decoupled decay rate.
    amsgrad : bool, optional
        The AMSGrad variant.
    """
    _kind = _core.OptKind.adamw

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop, with ``torch.optim.RMSprop``'s update rule.

    Parameters
    ----------
    params : iterable of Parameter
        What to optimize, all of one dtype: usually ``net.parameters()``.
    lr : float, optional
        The learning rate.
    alpha : float, optional
        The decay rate of the mean square of the gradients.
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        L2 penalty, added to the gradient.
    momentum : float, optional
        The momentum factor.
    centered : bool, optional
        Divide by the gradients' estimated variance rather than their mean square.
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        s = _core.OptSpec()
        s.kind, s.lr = _core.OptKind.rmsprop, _check_lr(lr)
        s.alpha = _check_nonneg(alpha, "alpha")
        s.eps = _check_nonneg(eps, "eps")
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        s.momentum = _check_nonneg(momentum, "momentum")
        s.centered = bool(centered)
        super().__init__(params, s)

    def config(self) -> OptimizerConfig:
        s = self._spec
        return {"lr": self.lr, "alpha": s.alpha, "eps": s.eps, "weight_decay": s.weight_decay,
                "momentum": s.momentum, "centered": s.centered}


# Every optimizer class by name, as fastmlp.save writes it.
OPTIMIZER_TYPES: Dict[str, "type[Optimizer]"] = {
    cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop)}
