"""fastmlp: train and run multilayer perceptrons on a CPU with the whole loop native."""
from importlib.metadata import PackageNotFoundError, version as _version

from . import functional, metrics, optim
from ._core import get_num_threads, set_num_threads
from .linear_model import LinearRegression
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss
from .nn import (GELU, Dropout, History, Identity, LeakyReLU, Linear, Module, Parameter, ReLU,
                 Sequential, Sigmoid, SiLU, Softplus, Tanh)

try:
    __version__ = _version("fastmlp")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"


def build_info() -> dict:
    """Version, compiler, OpenMP, and the SIMD path chosen at run time."""
    from . import _core
    info = {"version": __version__}
    info.update(_core.build_info())
    return info


__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "GELU", "History", "HuberLoss",
    "Identity", "L1Loss", "LeakyReLU", "Linear", "LinearRegression", "MSELoss", "Module",
    "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softplus", "Tanh", "build_info",
    "functional", "get_num_threads", "metrics", "optim", "set_num_threads",
]
