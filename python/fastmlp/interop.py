"""PyTorch interop: `to_torch(net)` and `from_torch(module)` between a fastmlp Sequential and
a `torch.nn.Sequential` of the same layers (torch is imported only when called).

fastmlp's layers carry torch.nn's class names and constructor arguments, so each layer maps
by name; Linear weights are transposed (fastmlp computes x @ W with W of shape (in, out),
torch stores (out, in)). The dtype (float32 or float64) and the train/eval mode are kept."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Iterator

import numpy as np

from . import _checks
from .nn import LAYER_TYPES, Layer, Linear, Sequential

if TYPE_CHECKING:
    import torch

_NEEDS_TORCH = "fastmlp.interop needs PyTorch: pip install torch"


def to_torch(net: Sequential) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` of the same layers, computing what ``net`` computes.

    The weights are copies (Linear weights transposed to torch's ``(out, in)``), in the
    model's dtype, and the module is in the model's train or eval mode.

    Parameters
    ----------
    net : Sequential
        The fastmlp model.

    Returns
    -------
    torch.nn.Sequential
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"to_torch expects a fastmlp.Sequential, got {type(net).__name__}")
    _checks.require_module("torch", _NEEDS_TORCH)
    import torch
    dtype = getattr(torch, net.dtype.name)
    modules = []
    for layer in net:
        if isinstance(layer, Linear):
            m = torch.nn.Linear(layer.in_features, layer.out_features,
                                bias=layer.bias is not None, dtype=dtype)
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight.data.T)))
                if layer.bias is not None:
                    m.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        else:
            m = getattr(torch.nn, type(layer).__name__)(**layer.config())
        modules.append(m)
    out = torch.nn.Sequential(*modules)
    out.train(net.training)
    return out


def _leaves(module: torch.nn.Sequential) -> Iterator[torch.nn.Module]:
    """The layers of a torch Sequential, nested Sequentials flattened."""
    import torch
    for m in module:
        if isinstance(m, torch.nn.Sequential):
            yield from _leaves(m)
        else:
            yield m


def _layer_from(m: torch.nn.Module, dtype: str) -> Layer:
    name = type(m).__name__
    cls = LAYER_TYPES.get(name)
    if cls is None:
        raise TypeError(f"from_torch: no fastmlp layer for torch.nn.{name}; supported: "
                        f"{sorted(LAYER_TYPES)}")
    if cls is Linear:
        import torch
        assert isinstance(m, torch.nn.Linear)  # the names matched
        return Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=dtype)
    # The constructor arguments are attributes of the torch module of the same name.
    args = [p for p in inspect.signature(cls).parameters]
    return cls(**{a: getattr(m, a) for a in args})


def from_torch(module: torch.nn.Sequential) -> Sequential:
    """A fastmlp Sequential with copies of a ``torch.nn.Sequential``'s layers and weights.

    Nested Sequentials are flattened. Every layer must be one fastmlp has (``Linear``,
    ``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, ``GELU``, ``SiLU``, ``Softplus``,
    ``Identity``, ``Dropout``), else TypeError names it.

    Parameters
    ----------
    module : torch.nn.Sequential
        Parameters all float32 or all float64; the model gets that dtype and the module's
        train or eval mode.

    Returns
    -------
    Sequential
    """
    _checks.require_module("torch", _NEEDS_TORCH)
    import torch
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"from_torch expects a torch.nn.Sequential, got {type(module).__name__}")
    dtypes = {p.dtype for p in module.parameters()}
    names = {torch.float32: "float32", torch.float64: "float64"}
    if len(dtypes) != 1 or not dtypes <= set(names):
        raise TypeError(f"from_torch needs parameters all float32 or all float64, got "
                        f"{sorted(map(str, dtypes))}")
    dtype = names[dtypes.pop()]
    leaves = list(_leaves(module))
    net = Sequential(*(_layer_from(m, dtype) for m in leaves), dtype=dtype)
    state = {}
    for i, m in enumerate(leaves):
        if isinstance(m, torch.nn.Linear):
            state[f"{i}.weight"] = m.weight.detach().cpu().numpy().T
            if m.bias is not None:
                state[f"{i}.bias"] = m.bias.detach().cpu().numpy()
    net.load_state_dict(state)
    net.train(module.training)
    return net
