"""Weight initialisers (torch.nn.init's formulas), seeded, in place on a Parameter.

fan_in/fan_out follow the math x @ W: a weight of shape (in, out) has fan_in = in."""
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
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def uniform_(p: _W, low: float = 0.0, high: float = 1.0, seed: _Seed = None) -> _W:
    p.data = _rng(seed).uniform(low, high, p.shape).astype(p.dtype)
    return p


def normal_(p: _W, mean: float = 0.0, std: float = 1.0, seed: _Seed = None) -> _W:
    p.data = _rng(seed).normal(mean, std, p.shape).astype(p.dtype)
    return p


def zeros_(p: _W) -> _W:
    p.data[...] = 0
    return p


def xavier_uniform_(p: _W, gain: float = 1.0, seed: _Seed = None) -> _W:
    fan_in, fan_out = _fans(p)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(p, -bound, bound, seed)


def xavier_normal_(p: _W, gain: float = 1.0, seed: _Seed = None) -> _W:
    fan_in, fan_out = _fans(p)
    return normal_(p, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)


def kaiming_uniform_(p: _W, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     seed: _Seed = None) -> _W:
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(p, -bound, bound, seed)


def kaiming_normal_(p: _W, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    seed: _Seed = None) -> _W:
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    return normal_(p, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), seed)
