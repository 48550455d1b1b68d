"""Loss objects: value in one native call, gradient kept for backward()."""
from __future__ import annotations

from typing import Union

import numpy as np
import numpy.typing as npt

from . import _checks, _core
from ._checks import FloatArray


class _Loss:
    """What every loss object has: its reduction, the native spec, backward()."""
    kind = _core.LossKind.mse

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._grad: FloatArray | None = None

    @property
    def name(self) -> str:
        """The loss's name, as `resolve_loss` and fit's ``loss=`` accept it."""
        return self.kind.name

    @property
    def _labels(self) -> bool:
        return self.kind == _core.LossKind.cross_entropy

    def _delta(self) -> float:
        return 1.0

    def spec(self) -> _core.LossSpec:
        """The native description of this loss (kind, reduction, delta)."""
        return _core.LossSpec(self.kind, self.reduction == "mean", self._delta())

    def __call__(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        """The loss of pred against target; remembers dloss/dpred for backward().

        Parameters
        ----------
        pred : array_like, shape (n,) or (n, d)
            The predictions (logits for the classification losses).
        target : array_like
            Targets of pred's shape, or integer class labels (n,) for CrossEntropyLoss.
        """
        p = _checks.real_array(pred, "pred")
        dt = _checks.compute_dtype(p)
        p = _checks.as_matrix(p.reshape(-1, 1) if p.ndim == 1 else p, "pred", dt)
        _checks.check_nonempty(p, "pred")
        t = _checks.as_targets(target, "target", p.shape[0], p.shape[1], dt, self._labels)
        fn = _core.loss_f32 if dt == np.float32 else _core.loss_f64
        value, g = fn(p, None if self._labels else t, t if self._labels else None,
                      self.spec(), True)
        assert g is not None  # want_grad=True: the core returned the gradient
        self._grad = g.reshape(np.shape(pred))
        return value

    def backward(self) -> FloatArray:
        """dloss/dpred of the last call, shaped as its pred; RuntimeError before a call."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before the loss")
        return self._grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(_Loss):
    """torch.nn.MSELoss: (pred - target) ** 2.

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values (samples for
        CrossEntropyLoss), or by the sum of the sample weights times the values per sample.
    """
    kind = _core.LossKind.mse


class L1Loss(_Loss):
    """torch.nn.L1Loss: abs(pred - target).

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values (samples for
        CrossEntropyLoss), or by the sum of the sample weights times the values per sample.
    """
    kind = _core.LossKind.l1


class HuberLoss(_Loss):
    """torch.nn.HuberLoss: 0.5 * d**2 where abs(d) < delta, else delta * (abs(d) - delta / 2),
    with d = pred - target.

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values.
    delta : float, optional
        Where the loss turns from quadratic to linear (> 0).
    """
    kind = _core.LossKind.huber

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"delta must be positive, got {delta}")
        self.delta = float(delta)

    def _delta(self) -> float:
        return self.delta


class BCEWithLogitsLoss(_Loss):
    """torch.nn.BCEWithLogitsLoss: the binary cross-entropy of sigmoid(pred), computed
    stably from the logits; targets in [0, 1].

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values (samples for
        CrossEntropyLoss), or by the sum of the sample weights times the values per sample.
    """
    kind = _core.LossKind.bce_with_logits


class CrossEntropyLoss(_Loss):
    """torch.nn.CrossEntropyLoss: the cross-entropy of softmax(pred) against integer
    class labels, the log-softmax fused in.

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values (samples for
        CrossEntropyLoss), or by the sum of the sample weights times the values per sample.
    """
    kind = _core.LossKind.cross_entropy


class PoissonNLLLoss(_Loss):
    """torch.nn.PoissonNLLLoss(log_input=True, full=False): exp(pred) - target * pred, the
    prediction being the log of the Poisson rate.

    Parameters
    ----------
    reduction : {"mean", "sum"}, optional
        "mean" divides the summed loss by the number of values (samples for
        CrossEntropyLoss), or by the sum of the sample weights times the values per sample.
    """
    kind = _core.LossKind.poisson_nll


_BY_NAME = {c.kind.name: c for c in (MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss,
                                      CrossEntropyLoss, PoissonNLLLoss)}


# What train_step and fit take as `loss`: a loss object or its name.
LossLike = Union[str, _Loss]

# (core spec, takes integer labels) by name, made once: train_step in a loop resolves its
# loss every call.
NAMED_SPECS = {name: (cls().spec(), cls()._labels) for name, cls in _BY_NAME.items()}


def resolve_loss(loss: LossLike) -> tuple[_core.LossSpec, bool]:
    """(core LossSpec, takes integer labels) for a loss object or name.

    Parameters
    ----------
    loss : str or loss object
        A name (``"mse"``, ``"l1"``, ``"huber"``, ``"bce_with_logits"``,
        ``"cross_entropy"``, ``"poisson_nll"``) or one of this module's loss objects.
    """
    if isinstance(loss, str):
        if loss not in NAMED_SPECS:
            raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(_BY_NAME)}")
        return NAMED_SPECS[loss]
    if not isinstance(loss, _Loss):
        raise TypeError(f"loss must be a name or a fastmlp loss, got {type(loss).__name__}")
    return loss.spec(), loss._labels
