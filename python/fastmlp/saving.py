"""Saving and loading models as safetensors files (no pickle: loading runs no code).

The weights are the state_dict's tensors; the architecture is JSON in the header, beside
any extra string entries the caller adds (the CLI keeps its preprocessing there)."""
from __future__ import annotations

import os
from typing import Callable, Mapping, Optional

import numpy as np
import numpy.typing as npt

from . import _checks, nn
from ._checks import FilePath

_FORMAT = "fastmlp.Sequential/1"
_RESERVED = ("format", "dtype", "layers")
_NEEDS_SAFETENSORS = "saving models needs safetensors: pip install 'fastmlp[io]'"


def save(model: nn.Sequential, path: FilePath,
         metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes a Sequential's layers, dtype and weights to a safetensors file.

    Needs the optional extra ``[io]`` (the safetensors package). The weights are stored
    losslessly; the optimizer's state is not saved (see ``Optimizer.state_dict``). The
    file is written beside ``path`` and renamed over it once complete, so an existing file
    is never left half-written: a crash leaves the old one or the new one.

    Parameters
    ----------
    model : Sequential
        The model.
    path : str or os.PathLike
        The file to write, conventionally ``*.safetensors``.
    metadata : mapping of str to str, optional
        Extra entries for the file's header, read back by `read_metadata`; the keys
        ``"format"``, ``"dtype"`` and ``"layers"`` are fastmlp's own.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"save expects a fastmlp.Sequential, got {type(model).__name__}")
    extra = dict(metadata or {})
    for k, v in extra.items():
        if k in _RESERVED or not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"metadata must map str to str and not use {_RESERVED}; got {k!r}")
    import json
    layers = [{"type": type(l).__name__, **l.config()} for l in model]
    meta = {"format": _FORMAT, "dtype": model.dtype.name, "layers": json.dumps(layers), **extra}
    _checks.require_module("safetensors.numpy", _NEEDS_SAFETENSORS)
    from safetensors.numpy import save_file
    _write_atomically(path, lambda tmp: save_file(model.state_dict(), tmp, metadata=meta))


def _write_atomically(path: FilePath, write: Callable[[str], None]) -> None:
    """write(tmp) into a temporary file beside path, flushed to disk, then renamed over
    path: a crash at any point leaves either the old file or the new one, never half."""
    import tempfile
    target = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)),
                               prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _header(path: FilePath) -> dict[str, str]:
    _checks.require_module("safetensors.numpy", _NEEDS_SAFETENSORS)
    from safetensors import safe_open
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="np") as f:
            meta: dict[str, str] = f.metadata() or {}
    except Exception as e:  # safetensors has its own error types for a file that is not one
        raise ValueError(f"{path} is not a fastmlp model file ({e})") from None
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a fastmlp model file (format {meta.get('format')!r})")
    return meta


def read_metadata(path: FilePath) -> dict[str, str]:
    """The extra entries that ``save(..., metadata=...)`` wrote into a model file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by `save`.

    Returns
    -------
    dict of str to str
    """
    return {k: v for k, v in _header(path).items() if k not in _RESERVED}


def load(path: FilePath) -> nn.Sequential:
    """Rebuilds the Sequential saved by `save`, in its dtype, with its weights.

    Loading runs no code from the file (no pickle), so a file of unknown origin is safe to
    read; a file of another format raises ValueError.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    Sequential
        In training mode, as a new model is.
    """
    meta = _header(path)
    from safetensors.numpy import load_file
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors' own error types, as in _header
        raise ValueError(f"{path} is not a fastmlp model file ({e})") from None
    return _rebuild(path, meta, tensors)


def _rebuild(path: FilePath, meta: Mapping[str, str],
             tensors: Mapping[str, npt.NDArray[np.generic]]) -> nn.Sequential:
    """The model that a file's header and tensors describe. A damaged or edited file raises
    ValueError naming it, and a Linear's sizes are checked against its stored weight
    before the layer allocates them (a header may ask for any size)."""
    import json
    try:
        layers = []
        for i, spec in enumerate(json.loads(meta["layers"])):
            kind = spec.pop("type")
            if kind not in nn.LAYER_TYPES:
                raise ValueError(f"unknown layer type {kind!r}")
            if kind == "Linear":
                shape = (spec.get("in_features"), spec.get("out_features"))
                weight = tensors.get(f"{i}.weight")
                if weight is None or weight.shape != shape:
                    raise ValueError(f"layer {i} is a Linear of shape {shape}, its weight "
                                     f"{'is missing' if weight is None else weight.shape}")
            layers.append(nn.LAYER_TYPES[kind](**spec))
        model = nn.Sequential(*layers, dtype=meta["dtype"])
        model.load_state_dict(tensors)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid fastmlp model file: {e}") from None
    return model
