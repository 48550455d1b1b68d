"""Optimizers with torch.optim's update rules over the model's flat buffers."""
from __future__ import annotations

import numpy as np

from . import _core
from .nn import Parameter

# Must match OptKind in cpp/fastmlp/optim.h.
_SGD, _ADAM, _ADAMW, _RMSPROP = 0, 1, 2, 3


def _spans(params):
    """(data, grad) arrays covering the parameters, merging neighbours in one flat buffer."""
    spans = []
    for p in params:
        d, g = p.data.reshape(-1), p.grad.reshape(-1)
        if spans:
            pd, pg = spans[-1]
            # Consecutive views of one flat buffer become one span: one native loop.
            if (pd.base is not None and pd.base is d.base and pg.base is g.base
                    and _end(pd) == _start(d) and _end(pg) == _start(g)):
                spans[-1] = (_extend(pd, d.size), _extend(pg, g.size))
                continue
        spans.append((d, g))
    return spans


def _start(a):
    return a.__array_interface__["data"][0]


def _end(a):
    return _start(a) + a.nbytes


def _extend(a, n):
    base = a.base
    off = (_start(a) - _start(base)) // a.itemsize
    return base.reshape(-1)[off:off + a.size + n]


class Optimizer:
    """Base: holds the parameters, the state buffers and the native updater."""

    def __init__(self, params, spec):
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
        total = sum(p.data.size for p in params)
        self.state = [np.zeros(total, self.dtype) for _ in range(spec.state_count())]
        cls = _core.Optimizer_f32 if self.dtype == np.float32 else _core.Optimizer_f64
        self._impl = cls(spec, _spans(params), self.state)

    @property
    def lr(self) -> float:
        return self._impl.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._impl.lr = _check_lr(value)

    @property
    def step_count(self) -> int:
        return self._impl.step_count

    def step(self) -> None:
        self._impl.step()

    def zero_grad(self) -> None:
        self._impl.zero_grad()


def _check_lr(lr) -> float:
    lr = float(lr)
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    return lr


def _check_nonneg(value, name) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_betas(betas) -> tuple:
    b1, b2 = (float(b) for b in betas)
    for i, b in enumerate((b1, b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"betas[{i}] must be in [0, 1), got {b}")
    return b1, b2


class SGD(Optimizer):
    def __init__(self, params, lr: float = 1e-2, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        s = _core.OptSpec()
        s.kind, s.lr = _SGD, _check_lr(lr)
        s.momentum = _check_nonneg(momentum, "momentum")
        s.dampening = float(dampening)
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        if nesterov and (s.momentum <= 0 or s.dampening != 0):
            raise ValueError("nesterov momentum requires a momentum and zero dampening")
        s.nesterov = bool(nesterov)
        super().__init__(params, s)


class Adam(Optimizer):
    _kind = _ADAM

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        s = _core.OptSpec()
        s.kind, s.lr = self._kind, _check_lr(lr)
        s.beta1, s.beta2 = _check_betas(betas)
        s.eps = _check_nonneg(eps, "eps")
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        s.amsgrad = bool(amsgrad)
        super().__init__(params, s)


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW)."""
    _kind = _ADAMW

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        s = _core.OptSpec()
        s.kind, s.lr = _RMSPROP, _check_lr(lr)
        s.alpha = _check_nonneg(alpha, "alpha")
        s.eps = _check_nonneg(eps, "eps")
        s.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        s.momentum = _check_nonneg(momentum, "momentum")
        s.centered = bool(centered)
        super().__init__(params, s)


from . import lr_scheduler  # noqa: E402  (schedulers import this module lazily)
from .lr_scheduler import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, StepLR  # noqa: E402,F401
