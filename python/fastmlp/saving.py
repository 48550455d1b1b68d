"""Saving and loading models as safetensors files (no pickle: loading runs no code).

The weights are the state_dict's tensors; the architecture is JSON in the header."""
from __future__ import annotations

from . import nn

_FORMAT = "fastmlp.Sequential/1"


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError("saving models needs safetensors: pip install 'fastmlp[io]'") from e
    return safetensors.numpy


_RESERVED = ("format", "dtype", "layers")


def save(model, path, metadata=None) -> None:
    """Writes a Sequential's architecture, dtype and weights to `path`, with optional extra
    string entries (`metadata`, read back by read_metadata) in the file's header."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"save expects a fastmlp.Sequential, got {type(model).__name__}")
    extra = dict(metadata or {})
    for k, v in extra.items():
        if k in _RESERVED or not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"metadata must map str to str and not use {_RESERVED}; got {k!r}")
    import json
    layers = [{"type": type(l).__name__, **l.config()} for l in model]
    meta = {"format": _FORMAT, "dtype": model.dtype.name, "layers": json.dumps(layers), **extra}
    _safetensors().save_file(model.state_dict(), str(path), metadata=meta)


def _header(path) -> dict:
    _safetensors()
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
    except FileNotFoundError:
        raise
    except Exception as e:  # safetensors raises its own error types for a bad header
        raise ValueError(f"{path} is not a fastmlp model file ({e})") from None
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a fastmlp model file (format {meta.get('format')!r})")
    return meta


def read_metadata(path) -> dict:
    """The extra entries save(..., metadata=...) wrote into the file at `path`."""
    return {k: v for k, v in _header(path).items() if k not in _RESERVED}


def load(path) -> nn.Sequential:
    """Rebuilds the Sequential saved at `path`."""
    import json
    meta = _header(path)
    layers = []
    for spec in json.loads(meta["layers"]):
        kind = spec.pop("type")
        if kind not in nn.LAYER_TYPES:
            raise ValueError(f"{path}: unknown layer type {kind!r}")
        layers.append(nn.LAYER_TYPES[kind](**spec))
    model = nn.Sequential(*layers, dtype=meta["dtype"])
    model.load_state_dict(_safetensors().load_file(str(path)))
    return model
