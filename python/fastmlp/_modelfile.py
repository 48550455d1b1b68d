"""The model file: a safetensors file (no pickle: reading it runs no code) of a Sequential's
weights, its architecture as JSON in the header, and optionally its optimizer and a fit
checkpoint. `saving` (save, load) and `checkpoint` (fit's checkpoints) write and read it.

Tensors: the weights by parameter name (``"0.weight"``), the optimizer's state buffers as
``"optimizer.state.<i>"``, a checkpoint's arrays as ``"checkpoint.<name>"``. Header: the
entries of `RESERVED` (JSON where structured) and any extra strings of the caller's."""
from __future__ import annotations

import json
import os
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Union, cast

import numpy as np
import numpy.typing as npt

from . import _checks
from ._checks import FilePath, FloatArray, FloatDType
from .optim.optimizers import OPTIMIZER_TYPES, Optimizer, OptimizerState
from .params import Parameter

FORMAT = "fastmlp.Sequential/1"
RESERVED = ("format", "dtype", "layers", "optimizer", "checkpoint")
NEEDS_SAFETENSORS = "saving models needs safetensors: pip install 'fastmlp[io]'"
_OPT_STATE = "optimizer.state."
_PREFIXES = ("optimizer.", "checkpoint.")

Tensors = dict[str, npt.NDArray[np.generic]]
Header = dict[str, str]
Config = Mapping[str, Union[bool, int, float, str]]


class _Layer(Protocol):
    def config(self) -> Config: ...


class Model(Protocol):
    """What the file reads of a Sequential (which this module may not import)."""
    dtype: FloatDType

    def __iter__(self) -> Iterator[_Layer]: ...

    def state_dict(self) -> dict[str, FloatArray]: ...


def model_entries(model: Model) -> tuple[Tensors, Header]:
    """The model's weights and its header entries (`model_header`)."""
    tensors: Tensors = dict(model.state_dict())
    return tensors, model_header(model)


def model_header(model: Model) -> Header:
    """The header entries that describe the model: format, dtype and layers."""
    layers = [{"type": type(l).__name__, **l.config()} for l in model]
    return {"format": FORMAT, "dtype": model.dtype.name, "layers": json.dumps(layers)}


def optimizer_entries(opt: Optimizer) -> tuple[Tensors, Header]:
    """The optimizer's state buffers, and its kind, settings and step count as JSON."""
    state = opt.state_dict()
    tensors: Tensors = {f"{_OPT_STATE}{i}": s for i, s in enumerate(state["state"])}
    desc = {"type": type(opt).__name__, "config": opt.config(),
            "step_count": state["step_count"], "lr": state["lr"]}
    return tensors, {"optimizer": json.dumps(desc)}


def write(path: FilePath, tensors: Tensors, header: Header) -> None:
    """Writes the file atomically (see `write_atomically`)."""
    _checks.require_module("safetensors.numpy", NEEDS_SAFETENSORS)
    from safetensors.numpy import save_file
    write_atomically(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def write_atomically(path: FilePath, write: Callable[[str], None]) -> None:
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


def header(path: FilePath) -> Header:
    """The file's header, after checking that it is a fastmlp model file."""
    _checks.require_module("safetensors.numpy", NEEDS_SAFETENSORS)
    from safetensors import safe_open
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="np") as f:
            meta: Header = f.metadata() or {}
    except Exception as e:  # safetensors has its own error types for a file that is not one
        raise ValueError(f"{path} is not a fastmlp model file ({e})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastmlp model file (format {meta.get('format')!r})")
    return meta


def read(path: FilePath) -> tuple[Header, Tensors]:
    """The header and every tensor of a fastmlp model file."""
    meta = header(path)
    from safetensors.numpy import load_file
    try:
        return meta, load_file(str(path))
    except Exception as e:  # safetensors' own error types, as in header()
        raise ValueError(f"{path} is not a fastmlp model file ({e})") from None


def weights(tensors: Tensors) -> Tensors:
    """The model's weights among a file's tensors."""
    return {k: v for k, v in tensors.items() if not k.startswith(_PREFIXES)}


def entry(path: FilePath, meta: Header, key: str) -> dict[str, object]:
    """A JSON entry of the header, as a dict."""
    try:
        value = json.loads(meta[key])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: no valid {key!r} entry in the header ({e})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the {key!r} entry is not a JSON object")
    return value


def check_optimizer(path: FilePath, meta: Header, opt: Optimizer) -> None:
    """Raises ValueError unless the file's optimizer has opt's kind and settings (its
    learning rate, which schedules change, aside)."""
    if "optimizer" not in meta:
        raise ValueError(f"{path} holds no optimizer state (it was saved without optimizer=)")
    desc = entry(path, meta, "optimizer")
    config = {k: v for k, v in opt.config().items() if k != "lr"}
    saved = desc.get("config")
    saved = {k: v for k, v in saved.items() if k != "lr"} if isinstance(saved, dict) else saved
    if desc.get("type") != type(opt).__name__ or saved != config:
        raise ValueError(f"{path} holds the state of {desc.get('type')}({saved}), not of the "
                         f"optimizer given, {type(opt).__name__}({config})")


def optimizer_state(path: FilePath, meta: Header, tensors: Tensors,
                    opt: Optimizer) -> OptimizerState:
    """The file's optimizer state for opt (after `check_optimizer`), every buffer checked
    against opt's, for ``opt.load_state_dict``."""
    check_optimizer(path, meta, opt)
    desc = entry(path, meta, "optimizer")
    step_count, lr = desc.get("step_count"), desc.get("lr")
    if not isinstance(step_count, int) or not isinstance(lr, (int, float)):
        raise ValueError(f"{path}: bad optimizer step_count {step_count!r} or lr {lr!r}")
    buffers = []
    for i, s in enumerate(opt.state):
        b = tensors.get(f"{_OPT_STATE}{i}")
        if b is None or b.dtype != s.dtype or b.shape != s.shape:
            got = "missing" if b is None else f"{b.dtype} of shape {b.shape}"
            raise ValueError(f"{path}: optimizer state {i} is {got}, the optimizer's is "
                             f"{s.dtype} of shape {s.shape}")
        buffers.append(cast(FloatArray, b))
    return {"state": buffers, "step_count": step_count, "lr": float(lr)}


def new_optimizer(path: FilePath, meta: Header, tensors: Tensors,
                  params: Iterable[Parameter]) -> Optimizer:
    """The file's optimizer, rebuilt over params with its state."""
    if "optimizer" not in meta:
        raise ValueError(f"{path} holds no optimizer state (it was saved without optimizer=); "
                         "load it with with_optimizer=False")
    desc = entry(path, meta, "optimizer")
    kind, config = desc.get("type"), desc.get("config")
    if not isinstance(kind, str) or kind not in OPTIMIZER_TYPES or not isinstance(config, dict):
        raise ValueError(f"{path}: unknown optimizer {kind!r}; expected one of "
                         f"{sorted(OPTIMIZER_TYPES)}")
    try:
        opt = OPTIMIZER_TYPES[kind](params, **config)
    except TypeError as e:
        raise ValueError(f"{path}: bad settings for {kind}: {e}") from None
    opt.load_state_dict(optimizer_state(path, meta, tensors, opt))
    return opt
