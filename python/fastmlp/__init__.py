"""fastmlp: train and run multilayer perceptrons on a CPU with the whole loop native."""
from __future__ import annotations

import os as _os

# Before the native core loads OpenMP: idle worker threads sleep instead of
# spinning. Spinning (libgomp's default) steals the core from the thread still
# working whenever the machine is shared, which made small fits many times slower.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "passive"

from . import _checks, _core, functional, init, metrics, optim, plot
from ._version import __version__
from ._core import get_num_threads
from .linear_model import LinearRegression
from .losses import (BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                     PoissonNLLLoss)
from .nn import (GELU, Dropout, Identity, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid,
                 SiLU, Softplus, Tanh)
from .optim import lr_scheduler
from .params import Parameter
from .saving import load, save
from .training import History, LbfgsResult


def set_num_threads(n: int) -> None:
    """Threads for the native kernels (default: env FASTMLP_NUM_THREADS, else all cores)."""
    _core.set_num_threads(_checks.positive_int(n, "n"))


def build_info() -> dict[str, str | bool | int | list[str]]:
    """Version, compiler, OpenMP, and the SIMD path chosen at run time."""
    info: dict[str, str | bool | int | list[str]] = {"version": __version__}
    info.update(_core.build_info())
    return info


__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "GELU", "History", "HuberLoss",
    "Identity", "L1Loss", "LbfgsResult", "LeakyReLU", "Linear", "LinearRegression", "MSELoss",
    "Module", "Parameter", "PoissonNLLLoss", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softplus", "Tanh", "build_info",
    "functional", "get_num_threads", "init", "load", "lr_scheduler", "metrics", "optim", "plot",
    "save", "set_num_threads",
]
