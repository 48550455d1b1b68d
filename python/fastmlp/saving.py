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


def save(model, path) -> None:
    """Writes a Sequential's architecture, dtype and weights to `path`."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"save expects a fastmlp.Sequential, got {type(model).__name__}")
    import json
    layers = [{"type": type(l).__name__, **l.config()} for l in model]
    meta = {"format": _FORMAT, "dtype": model.dtype.name, "layers": json.dumps(layers)}
    _safetensors().save_file(model.state_dict(), str(path), metadata=meta)


def load(path) -> nn.Sequential:
    """Rebuilds the Sequential saved at `path`."""
    import json
    st = _safetensors()
    from safetensors import safe_open
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a fastmlp model file (format {meta.get('format')!r})")
    layers = []
    for spec in json.loads(meta["layers"]):
        kind = spec.pop("type")
        if kind not in nn.LAYER_TYPES:
            raise ValueError(f"{path}: unknown layer type {kind!r}")
        layers.append(nn.LAYER_TYPES[kind](**spec))
    model = nn.Sequential(*layers, dtype=meta["dtype"])
    model.load_state_dict(st.load_file(str(path)))
    return model
