"""Saving and loading models as safetensors files (no pickle: loading runs no code).

The weights are the state_dict's tensors; the architecture is JSON in the header."""
from __future__ import annotations

from . import nn
from ._checks import FilePath

_FORMAT = "fastmlp.Sequential/1"
_LAYERS: dict[str, type[nn.Layer]] = {cls.__name__: cls for cls in (
    nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Softplus,
    nn.Identity, nn.Dropout)}


def _require_safetensors() -> None:
    try:
        import safetensors.numpy  # noqa: F401
    except ImportError as e:
        raise ImportError("saving models needs safetensors: pip install 'fastmlp[io]'") from e


def save(model: nn.Sequential, path: FilePath) -> None:
    """Writes a Sequential's architecture, dtype and weights to `path`."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"save expects a fastmlp.Sequential, got {type(model).__name__}")
    import json
    layers = [{"type": type(l).__name__, **l.config()} for l in model]
    meta = {"format": _FORMAT, "dtype": model.dtype.name, "layers": json.dumps(layers)}
    _require_safetensors()
    from safetensors.numpy import save_file
    save_file(model.state_dict(), str(path), metadata=meta)


def load(path: FilePath) -> nn.Sequential:
    """Rebuilds the Sequential saved at `path`."""
    import json
    _require_safetensors()
    from safetensors import safe_open
    from safetensors.numpy import load_file
    with safe_open(str(path), framework="np") as f:
        meta: dict[str, str] = f.metadata() or {}
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a fastmlp model file (format {meta.get('format')!r})")
    layers = []
    for spec in json.loads(meta["layers"]):
        kind = spec.pop("type")
        if kind not in _LAYERS:
            raise ValueError(f"{path}: unknown layer type {kind!r}")
        layers.append(_LAYERS[kind](**spec))
    model = nn.Sequential(*layers, dtype=meta["dtype"])
    model.load_state_dict(load_file(str(path)))
    return model
