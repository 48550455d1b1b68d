"""fastmlp: train and run multilayer perceptrons on a CPU with the whole loop native."""
from __future__ import annotations

from . import _checks, _core, _distributed, functional, init, metrics, optim, plot
from ._version import __version__
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
    """Sets the number of threads of the native kernels, for every model.

    The default is the environment variable ``FASTMLP_NUM_THREADS`` when set, else every
    core. Results do not depend on it: work is split over rows and columns of each product,
    never over a sum. A data-parallel ``fit(comm=...)`` runs each rank on one thread unless
    a count was chosen here or by the variable.

    Parameters
    ----------
    n : int
        A positive number of threads.
    """
    _core.set_num_threads(_checks.positive_int(n, "n"))
    _distributed.threads_chosen = True  # so data-parallel ranks keep it


def get_num_threads() -> int:
    """The number of threads the native kernels use (see `set_num_threads`).

    Returns
    -------
    int
    """
    # A Python function rather than the binding itself, which carries no docstring.
    return _core.get_num_threads()


def build_info() -> dict[str, str | bool | int | list[str]]:
    """What was built and what runs here.

    Returns
    -------
    dict
        ``version``; ``compiler``; ``openmp`` (bool); ``num_threads``; ``isa``, the GEMM
        micro-kernels chosen at run time (``FASTMLP_ISA`` forces one); ``isa_built``, the
        kernel sets compiled in; ``isa_runnable``, those this CPU can run.
    """
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
