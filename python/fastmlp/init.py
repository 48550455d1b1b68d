"""Weight initialisers with ``torch.nn.init``'s formulas, in place on a Parameter, seeded.

``fan_in`` and ``fan_out`` follow the math ``x @ W``: a weight of shape ``(in, out)`` has
``fan_in = in`` (torch, which stores the transpose, reads the other axis, so the numbers
agree). A 1-D parameter has both fans equal to its length."""
from __future__ import annotations

import math
from typing import Protocol, TypeVar, Union

import numpy as np
import numpy.typing as npt

from ._checks import FloatArray, FloatDType

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}

# A seed for NumPy's default_rng, or the generator itself.
_Seed = Union[int, np.random.Generator, None]


class _Weight(Protocol):
    """What an initialiser needs of a fastmlp.Parameter (which this module may not import)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> FloatDType: ...

    @property
    def data(self) -> FloatArray: ...

    @data.setter
    def data(self, value: npt.ArrayLike) -> None: ...


_W = TypeVar("_W", bound=_Weight)


def _rng(seed: _Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _fans(p: _Weight) -> tuple[int, int]:
    shape = p.shape
    return (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation, as ``torch.nn.init.calculate_gain``.

    Parameters
    ----------
    nonlinearity : str
        ``"linear"``, ``"sigmoid"`` (1), ``"tanh"`` (5/3), ``"relu"`` (sqrt 2) or
        ``"leaky_relu"`` (``sqrt(2 / (1 + slope**2))``).
    param : float, optional
        leaky_relu's negative slope; None means 0.01.

    Returns
    -------
    float
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def uniform_(p: _W, low: float = 0.0, high: float = 1.0, seed: _Seed = None) -> _W:
    """Fills ``p`` with draws from U(low, high).

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    low : float, optional
        The lower bound.
    high : float, optional
        The upper bound.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    p.data = _rng(seed).uniform(low, high, p.shape).astype(p.dtype)
    return p


def normal_(p: _W, mean: float = 0.0, std: float = 1.0, seed: _Seed = None) -> _W:
    """Fills ``p`` with draws from N(mean, std**2).

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    mean : float, optional
        The mean.
    std : float, optional
        The standard deviation.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    p.data = _rng(seed).normal(mean, std, p.shape).astype(p.dtype)
    return p


def zeros_(p: _W) -> _W:
    """Fills ``p`` with zeros.

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).

    Returns
    -------
    Parameter
        ``p``.
    """
    p.data[...] = 0
    return p


def xavier_uniform_(p: _W, gain: float = 1.0, seed: _Seed = None) -> _W:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    gain : float, optional
        A factor, such as `calculate_gain`'s.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    fan_in, fan_out = _fans(p)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(p, -bound, bound, seed)


def xavier_normal_(p: _W, gain: float = 1.0, seed: _Seed = None) -> _W:
    """Glorot normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    gain : float, optional
        A factor, such as `calculate_gain`'s.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    fan_in, fan_out = _fans(p)
    return normal_(p, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)


def kaiming_uniform_(p: _W, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     seed: _Seed = None) -> _W:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``.

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    a : float, optional
        The negative slope passed to `calculate_gain` (0: the gain is sqrt 2).
    mode : {"fan_in", "fan_out"}, optional
        Which fan: ``fan_in`` keeps the forward pass's variance, ``fan_out`` the
        backward's.
    nonlinearity : str, optional
        The activation, for `calculate_gain`.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(p, -bound, bound, seed)


def kaiming_normal_(p: _W, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    seed: _Seed = None) -> _W:
    """He normal: N(0, std**2) with ``std = gain / sqrt(fan)``.

    Parameters
    ----------
    p : Parameter
        The weight to fill (any object with ``shape``, ``dtype`` and a settable ``data``).
    a : float, optional
        The negative slope passed to `calculate_gain` (0: the gain is sqrt 2).
    mode : {"fan_in", "fan_out"}, optional
        Which fan: ``fan_in`` keeps the forward pass's variance, ``fan_out`` the
        backward's.
    nonlinearity : str, optional
        The activation, for `calculate_gain`.
    seed : int or numpy.random.Generator, optional
        The random numbers: a seed for ``numpy.random.default_rng`` or a generator; None
        draws fresh ones.

    Returns
    -------
    Parameter
        ``p``.
    """
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    return normal_(p, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), seed)
