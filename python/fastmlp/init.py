"""Weight initialisers (torch.nn.init's formulas), seeded, in place on a Parameter.

fan_in/fan_out follow the math x @ W: a weight of shape (in, out) has fan_in = in."""
from __future__ import annotations

import math

import numpy as np

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _fans(p) -> tuple:
    shape = p.shape
    return (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def uniform_(p, low: float = 0.0, high: float = 1.0, seed=None):
    p.data = _rng(seed).uniform(low, high, p.shape).astype(p.dtype)
    return p


def normal_(p, mean: float = 0.0, std: float = 1.0, seed=None):
    p.data = _rng(seed).normal(mean, std, p.shape).astype(p.dtype)
    return p


def zeros_(p):
    p.data[...] = 0
    return p


def xavier_uniform_(p, gain: float = 1.0, seed=None):
    fan_in, fan_out = _fans(p)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(p, -bound, bound, seed)


def xavier_normal_(p, gain: float = 1.0, seed=None):
    fan_in, fan_out = _fans(p)
    return normal_(p, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)


def kaiming_uniform_(p, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     seed=None):
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(p, -bound, bound, seed)


def kaiming_normal_(p, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    seed=None):
    fan = _fans(p)[0 if mode == "fan_in" else 1]
    return normal_(p, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), seed)
