"""Saving and loading models as safetensors files (no pickle: loading runs no code).

The weights are the state_dict's tensors; the architecture is JSON in the header, beside
the optimizer when saved with it and any extra string entries the caller adds (the CLI
keeps its preprocessing there). The layout is `fastmlp._modelfile`'s."""
from __future__ import annotations

import json
from typing import Literal, Mapping, Optional, Union, overload

from . import _modelfile, nn
from ._checks import FilePath
from .optim import Optimizer


def save(model: nn.Sequential, path: FilePath,
         metadata: Optional[Mapping[str, str]] = None,
         optimizer: Optional[Optimizer] = None) -> None:
    """Writes a Sequential's layers, dtype and weights to a safetensors file, and its
    optimizer's state when given.

    Needs the optional extra ``[io]`` (the safetensors package). The weights and the
    optimizer's buffers are stored losslessly. The file is written beside ``path`` and
    renamed over it once complete, so an existing file is never left half-written: a
    crash leaves the old one or the new one.

    Parameters
    ----------
    model : Sequential
        The model.
    path : str or os.PathLike
        The file to write, conventionally ``*.safetensors``.
    metadata : mapping of str to str, optional
        Extra entries for the file's header, read back by `read_metadata`; the keys
        ``"format"``, ``"dtype"``, ``"layers"``, ``"optimizer"`` and ``"checkpoint"`` are
        fastmlp's own.
    optimizer : Optimizer, optional
        An optimizer over the model's parameters: its kind, settings, learning rate, step
        count and state buffers (momentum, Adam's moments) are saved too, so that
        ``load(path, with_optimizer=True)`` continues training where it stopped.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"save expects a fastmlp.Sequential, got {type(model).__name__}")
    extra = dict(metadata or {})
    for k, v in extra.items():
        if k in _modelfile.RESERVED or not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"metadata must map str to str and not use {_modelfile.RESERVED}; "
                             f"got {k!r}")
    tensors, meta = _modelfile.model_entries(model)
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastmlp.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        mine = {id(p) for p in model.parameters()}
        if len(optimizer.params) != len(mine) or any(id(p) not in mine for p in optimizer.params):
            raise ValueError("optimizer must optimize exactly this model's parameters")
        opt_tensors, opt_meta = _modelfile.optimizer_entries(optimizer)
        tensors.update(opt_tensors)
        meta.update(opt_meta)
    _modelfile.write(path, tensors, {**meta, **extra})


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
    return {k: v for k, v in _modelfile.header(path).items() if k not in _modelfile.RESERVED}


@overload
def load(path: FilePath, with_optimizer: Literal[False] = ...) -> nn.Sequential: ...


@overload
def load(path: FilePath, with_optimizer: Literal[True]) -> tuple[nn.Sequential, Optimizer]: ...


@overload
def load(path: FilePath, with_optimizer: bool) -> Union[
    nn.Sequential, tuple[nn.Sequential, Optimizer]]: ...


def load(path: FilePath, with_optimizer: bool = False) -> Union[
        nn.Sequential, tuple[nn.Sequential, Optimizer]]:
    """Rebuilds the Sequential saved by `save`, in its dtype, with its weights, and its
    optimizer when asked.

    Loading runs no code from the file (no pickle), so a file of unknown origin is safe to
    read; a file of another format raises ValueError. A checkpoint written by
    ``fit(checkpoint=...)`` is a model file too: it loads as the model (and optimizer) at
    its last checkpointed epoch.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    with_optimizer : bool, optional
        Also rebuild the optimizer saved with ``save(..., optimizer=...)``, over the new
        model's parameters, with its settings, learning rate, step count and state.

    Returns
    -------
    Sequential or (Sequential, Optimizer)
        The model, in training mode as a new model is; with ``with_optimizer=True`` the
        pair ``(model, optimizer)``.

    Raises
    ------
    ValueError
        The file is not a fastmlp model file, or with ``with_optimizer=True`` holds no
        optimizer.
    """
    meta, tensors = _modelfile.read(path)
    model = _rebuild(path, meta, _modelfile.weights(tensors))
    if not with_optimizer:
        return model
    return model, _modelfile.new_optimizer(path, meta, tensors, model.parameters())


def _rebuild(path: FilePath, meta: _modelfile.Header,
             weights: _modelfile.Tensors) -> nn.Sequential:
    """The model that a file's header and weights describe. A damaged or edited file raises
    ValueError naming it, and a Linear's sizes are checked against its stored weight
    before the layer allocates them (a header may ask for any size)."""
    try:
        layers = []
        for i, spec in enumerate(json.loads(meta["layers"])):
            kind = spec.pop("type")
            if kind not in nn.LAYER_TYPES:
                raise ValueError(f"unknown layer type {kind!r}")
            if kind == "Linear":
                shape = (spec.get("in_features"), spec.get("out_features"))
                weight = weights.get(f"{i}.weight")
                if weight is None or weight.shape != shape:
                    raise ValueError(f"layer {i} is a Linear of shape {shape}, its weight "
                                     f"{'is missing' if weight is None else weight.shape}")
            layers.append(nn.LAYER_TYPES[kind](**spec))
        model = nn.Sequential(*layers, dtype=meta["dtype"])
        model.load_state_dict(weights)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid fastmlp model file: {e}") from None
    return model
