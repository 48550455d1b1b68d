"""The seed's from-scratch path: one native kernel per call, on plain NumPy arrays.

The same kernels run inside `fastmlp.Sequential`; here the caller holds the weights and
writes the backward pass. Results are new arrays, except for the in-place updates, whose
names end in ``_``. float32 and float64 inputs keep their common dtype; other real dtypes
compute in float64."""
from __future__ import annotations

from functools import lru_cache
from typing import List, TypeVar, cast

import numpy as np
import numpy.typing as npt

from . import _checks, _core
from ._checks import Float32Array, Float64Array, FloatArray, FloatDType

_F32 = TypeVar("_F32")
_F64 = TypeVar("_F64")


def _core_fn(dt: FloatDType, f32: _F32, f64: _F64) -> _F32 | _F64:
    """Of a core function's float32 and float64 variants, the one for dtype dt."""
    return f32 if dt == np.float32 else f64


def _matrix(a: npt.ArrayLike, name: str, dt: FloatDType) -> FloatArray:
    """2-D C-ordered array of dt. The GEMM could read any strides, but its fastest
    path for a shape depends on the layout, and results must not."""
    arr = _checks.real_array(a, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dt)


_LINEAR_FORWARD = {np.dtype(np.float32): _core.linear_forward_f32,
                   np.dtype(np.float64): _core.linear_forward_f64}


def linear(x: npt.ArrayLike, w: npt.ArrayLike, b: npt.ArrayLike | None = None) -> FloatArray:
    """``x @ w + b``: one GEMM with the bias added as it writes the result.

    Parameters
    ----------
    x : array_like, shape (n, in)
        The input rows.
    w : array_like, shape (in, out)
        The weights.
    b : array_like, shape (out,), optional
        The bias; None adds none.

    Returns
    -------
    ndarray, shape (n, out)
    """
    if type(x) is np.ndarray and type(w) is np.ndarray and x.dtype == w.dtype:
        # Arrays of one float dtype and matching shapes, as a loop passes them: straight to
        # the core, which makes a C-ordered copy of any other layout as the path below does.
        core = _LINEAR_FORWARD.get(x.dtype)
        if (core is not None and x.ndim == 2 and w.ndim == 2 and x.shape[1] == w.shape[0]
                and (b is None or (type(b) is np.ndarray and b.dtype == x.dtype
                                   and b.shape == (w.shape[1],)))):
            return cast(FloatArray, core(x, w, b))
    xa, wa = _checks.real_array(x, "x"), _checks.real_array(w, "w")
    operands = (xa, wa) if b is None else (xa, wa, _checks.real_array(b, "b"))
    dt = _checks.compute_dtype(*operands)
    xa, wa = _matrix(xa, "x", dt), _matrix(wa, "w", dt)
    if xa.shape[1] != wa.shape[0]:
        raise ValueError(f"x has shape {xa.shape} but w has shape {wa.shape}: "
                         f"x.shape[1] must equal w.shape[0]")
    ba = None
    if b is not None:
        ba = np.ascontiguousarray(_checks.real_array(b, "b"), dtype=dt)
        if ba.shape != (wa.shape[1],):
            raise ValueError(f"b must have shape ({wa.shape[1]},), got {ba.shape}")
    return _core_fn(dt, _core.linear_forward_f32, _core.linear_forward_f64)(xa, wa, ba)


def linear_backward(x: npt.ArrayLike, w: npt.ArrayLike,
                    grad_out: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The gradients of ``linear(x, w, b)`` from the gradient of its output.

    Parameters
    ----------
    x : array_like, shape (n, in)
        The input of the forward call.
    w : array_like, shape (in, out)
        Its weights.
    grad_out : array_like, shape (n, out)
        dloss/doutput.

    Returns
    -------
    (ndarray, ndarray, ndarray)
        dloss/dx of shape (n, in), dloss/dw of shape (in, out) and dloss/db of shape (out,).
    """
    xa, wa = _checks.real_array(x, "x"), _checks.real_array(w, "w")
    dt = _checks.compute_dtype(xa, wa)
    xa, wa = _matrix(xa, "x", dt), _matrix(wa, "w", dt)
    if xa.shape[1] != wa.shape[0]:
        raise ValueError(f"x has shape {xa.shape} but w has shape {wa.shape}")
    ga = _matrix(grad_out, "grad_out", dt)
    if ga.shape != (xa.shape[0], wa.shape[1]):
        raise ValueError(f"grad_out must have shape {(xa.shape[0], wa.shape[1])}, got {ga.shape}")
    return _core_fn(dt, _core.linear_backward_f32, _core.linear_backward_f64)(xa, wa, ga)


def _elementwise(x: npt.ArrayLike, name: str) -> tuple[FloatArray, FloatDType]:
    arr = _checks.real_array(x, name)
    dt = _checks.compute_dtype(arr)
    # asarray, not ascontiguousarray, which turns a 0-d array into shape (1,).
    return np.asarray(arr, dtype=dt, order="C"), dt


@lru_cache(maxsize=64)
def act_spec(kind: str, a: float = 0.0, b: float = 0.0) -> _core.ActSpec:
    """The native core's description of an activation (cached).

    Parameters
    ----------
    kind : str
        A name of ``fastmlp._core.Act``: ``"identity"``, ``"relu"``, ``"leaky_relu"``,
        ``"tanh"``, ``"sigmoid"``, ``"gelu"``, ``"gelu_tanh"``, ``"silu"``, ``"softplus"``.
    a : float, optional
        The first parameter: leaky_relu's negative slope, softplus' beta.
    b : float, optional
        The second parameter: softplus' threshold.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if kind not in _core.Act.__members__:
        raise ValueError(f"unknown activation {kind!r}; expected one of "
                         f"{sorted(_core.Act.__members__)}")
    return _core.ActSpec(_core.Act.__members__[kind], float(a), float(b))


def activation(x: npt.ArrayLike, kind: str, a: float = 0.0, b: float = 0.0) -> FloatArray:
    """An activation of every element, by name (the layers of `fastmlp.nn` call it).

    Parameters
    ----------
    x : array_like
        Any shape.
    kind : str
        The activation's name, as for `act_spec`.
    a : float, optional
        Its first parameter (leaky_relu's slope, softplus' beta).
    b : float, optional
        Its second parameter (softplus' threshold).

    Returns
    -------
    ndarray
        Of x's shape.
    """
    xa, dt = _elementwise(x, "x")
    return _core_fn(dt, _core.act_forward_f32, _core.act_forward_f64)(xa, act_spec(kind, a, b))


def activation_backward(x: npt.ArrayLike, grad_out: npt.ArrayLike, kind: str, a: float = 0.0,
                        b: float = 0.0) -> FloatArray:
    """The gradient through an activation.

    Parameters
    ----------
    x : array_like
        The activation's input in the forward pass.
    grad_out : array_like
        dloss/doutput, of x's shape.
    kind : str
        The activation's name, as for `act_spec`.
    a : float, optional
        Its first parameter.
    b : float, optional
        Its second parameter.

    Returns
    -------
    ndarray
        dloss/dx, of x's shape.
    """
    xa, dt = _elementwise(x, "x")
    ga = _checks.like(grad_out, "grad_out", xa, "x")
    return _core_fn(dt, _core.act_backward_f32, _core.act_backward_f64)(xa, ga,
                                                                          act_spec(kind, a, b))


def relu(x: npt.ArrayLike) -> FloatArray:
    """``max(x, 0)`` elementwise.

    Parameters
    ----------
    x : array_like
        Any shape.

    Returns
    -------
    ndarray
        Of x's shape.
    """
    return activation(x, "relu")


def relu_backward(x: npt.ArrayLike, grad_out: npt.ArrayLike) -> FloatArray:
    """The gradient through `relu`: ``grad_out`` where ``x > 0``, else 0.

    Parameters
    ----------
    x : array_like
        The input of relu, the pre-activation (not its output).
    grad_out : array_like
        dloss/doutput, of x's shape.

    Returns
    -------
    ndarray
        dloss/dx.
    """
    return activation_backward(x, grad_out, "relu")


def _regression_loss(kind: _core.LossKind, pred: npt.ArrayLike, target: npt.ArrayLike,
                     reduction: str, want_grad: bool,
                     delta: float = 1.0) -> tuple[float, FloatArray | None]:
    """(loss value, its gradient with pred's shape when want_grad)."""
    p, dt = _elementwise(pred, "pred")
    p2 = p.reshape(-1, 1) if p.ndim == 1 else p
    if p2.ndim != 2:
        raise ValueError(f"pred must be 1-D or 2-D, got shape {p.shape}")
    _checks.check_nonempty(p2, "pred")
    t = _checks.as_targets(target, "target", p2.shape[0], p2.shape[1], dt, labels=False)
    spec = _core.LossSpec(kind, reduction == "mean", float(delta))
    value, g = _core_fn(dt, _core.loss_f32, _core.loss_f64)(p2, t, None, spec, want_grad)
    return value, None if g is None else g.reshape(p.shape)


def mse_loss(pred: npt.ArrayLike, target: npt.ArrayLike, reduction: str = "mean") -> float:
    """The squared error of ``pred`` against ``target``, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    pred : array_like, shape (n,) or (n, k)
        The predictions.
    target : array_like
        The targets, of pred's shape; ``(n,)`` against ``(n, 1)`` is accepted, any other
        mismatch raises ValueError.
    reduction : {"mean", "sum"}, optional
        The mean over every element, or the sum.

    Returns
    -------
    float
    """
    return _regression_loss(_core.LossKind.mse, pred, target, reduction, False)[0]


def mse_loss_backward(pred: npt.ArrayLike, target: npt.ArrayLike,
                      reduction: str = "mean") -> FloatArray:
    """The gradient of `mse_loss` with respect to ``pred``.

    Parameters
    ----------
    pred : array_like, shape (n,) or (n, k)
        The predictions.
    target : array_like
        The targets, as for `mse_loss`.
    reduction : {"mean", "sum"}, optional
        As for `mse_loss`.

    Returns
    -------
    ndarray
        dloss/dpred, of pred's shape.
    """
    grad = _regression_loss(_core.LossKind.mse, pred, target, reduction, True)[1]
    assert grad is not None  # want_grad=True: the core returned the gradient
    return grad


def _update_target(w: object, g: npt.ArrayLike, name: str = "w") -> tuple[FloatArray, FloatArray]:
    w = _checks.inplace_target(w, name)
    return w, _checks.like(g, "g", w, name)


def _optim_update(spec: _core.OptSpec, step: int, w: FloatArray, g: FloatArray,
                  states: list[FloatArray]) -> None:
    """One update of w and its states in place, in w's dtype: the core takes exactly that
    dtype (a converted copy would lose the update), so the arrays are typed as it; the
    callers checked that the states have it too."""
    if w.dtype == np.float32:
        _core.optim_update_f32(spec, step, cast(Float32Array, w), g,
                               cast(List[Float32Array], states))
    else:
        _core.optim_update_f64(spec, step, cast(Float64Array, w), g,
                               cast(List[Float64Array], states))


def sgd_update_(w: FloatArray, g: npt.ArrayLike, lr: float) -> None:
    """``w -= lr * g`` in place: a step of ``torch.optim.SGD`` without momentum.

    Parameters
    ----------
    w : ndarray
        The weights: a writable, C-contiguous float32 or float64 array (anything else
        raises rather than updating a copy).
    g : array_like
        The gradient, of w's shape.
    lr : float
        The learning rate.
    """
    w, g = _update_target(w, g)
    spec = _core.OptSpec()
    spec.kind, spec.lr = _core.OptKind.sgd, float(lr)
    _optim_update(spec, 1, w, g, [])


def adam_update_(w: FloatArray, g: npt.ArrayLike, m: FloatArray, v: FloatArray, step: int,
                 lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
    """One step of ``torch.optim.Adam``, updating ``w``, ``m`` and ``v`` in place.

    Parameters
    ----------
    w : ndarray
        The weights: a writable, C-contiguous float32 or float64 array.
    g : array_like
        The gradient, of w's shape.
    m : ndarray
        The first-moment buffer, of w's shape and dtype (zeros before the first step).
    v : ndarray
        The second-moment buffer, likewise.
    step : int
        The number of this step, counting from 1 (for the bias corrections).
    lr : float, optional
        The learning rate.
    beta1 : float, optional
        The decay of m.
    beta2 : float, optional
        The decay of v.
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        L2 penalty added to the gradient (coupled, as in Adam, not AdamW).
    """
    w, g = _update_target(w, g)
    for name, s in (("m", m), ("v", v)):
        _checks.inplace_target(s, name)
        if s.dtype != w.dtype:
            raise TypeError(f"{name} must have w's dtype {w.dtype}, got {s.dtype}")
        if s.shape != w.shape:
            raise ValueError(f"{name} must have w's shape {w.shape}, got {s.shape}")
    step = _checks.positive_int(step, "step")
    spec = _core.OptSpec()
    spec.kind, spec.lr, spec.beta1, spec.beta2 = _core.OptKind.adam, float(lr), float(beta1), float(beta2)
    spec.eps, spec.weight_decay = float(eps), float(weight_decay)
    _optim_update(spec, step, w, g, [m, v])


def log_softmax(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """``log(softmax(x))`` along an axis, shifted by the maximum so that any logits are
    safe, in one native pass.

    Parameters
    ----------
    x : array_like
        At least one dimension.
    axis : int, optional
        The axis that sums to one after ``exp``.

    Returns
    -------
    ndarray
        Of x's shape.
    """
    xa, dt = _elementwise(x, "x")
    if xa.ndim == 0:
        raise ValueError("log_softmax needs at least one dimension")
    moved = np.ascontiguousarray(np.moveaxis(xa, axis, -1))
    flat = moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, moved.shape[-1])
    out = (_core_fn(dt, _core.log_softmax_f32, _core.log_softmax_f64)(flat) if flat.size
           else flat.copy())
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


def softmax(x: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """``exp(x) / sum(exp(x))`` along an axis, computed as ``exp(log_softmax(x))``.

    Parameters
    ----------
    x : array_like
        At least one dimension.
    axis : int, optional
        The axis that sums to one.

    Returns
    -------
    ndarray
        Of x's shape.
    """
    return np.exp(log_softmax(x, axis))
