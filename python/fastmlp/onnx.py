"""ONNX export (optional extra [onnx]: the onnx package only, imported when called).

    from fastmlp.onnx import to_onnx, export
    proto = to_onnx(net)           # input "x" [N, in_features], output "y" [N, out_features]
    export(net, "model.onnx")

Standard operators only (opset 17), float32 or float64 as the model, dynamic batch; each
layer writes its own nodes (`Module.onnx_nodes` in fastmlp.nn). Dropout is left out
(inference). Where ONNX Runtime has no float64 kernel (Erf, for the exact GELU) that node
runs in float32 between two Casts."""
from __future__ import annotations

import os
import types
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np

from .nn import Sequential

if TYPE_CHECKING:
    import onnx

OPSET = 17


def _onnx() -> types.ModuleType:
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastmlp[onnx]'") from e
    return onnx


class GraphBuilder:
    """Collects nodes and initializers of one graph computing in `dtype`."""

    def __init__(self, dtype: np.dtype):
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.elem = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Union[float, np.ndarray], hint: str = "c") -> str:
        """An initializer holding value in the graph's dtype."""
        name = self._name(hint)
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], **attrs: object) -> str:
        """One node; returns the name of its output."""
        out = self._name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def float32_op(self, op_type: str, x: str) -> str:
        """A unary node ONNX Runtime implements for float32 only."""
        if self.dtype == np.float32:
            return self.op(op_type, [x])
        f = self.onnx.TensorProto.FLOAT
        y = self.op(op_type, [self.op("Cast", [x], to=f)])
        return self.op("Cast", [y], to=self.elem)

    def log1p(self, x: str) -> str:
        """log(1 + x) accurate for tiny x: log(u) * x / (u - 1) with u = 1 + x (x where u
        rounds to 1); ONNX has no Log1p."""
        one = self.const(1.0)
        u = self.op("Add", [x, one])
        ratio = self.op("Div", [x, self.op("Sub", [u, one])])
        return self.op("Where", [self.op("Equal", [u, one]), x,
                                 self.op("Mul", [self.op("Log", [u]), ratio])])


def to_onnx(model: Sequential) -> "onnx.ModelProto":
    """The model as an ONNX graph: input "x" [N, in_features], output "y" [N, out_features]."""
    if not isinstance(model, Sequential):
        raise TypeError(f"to_onnx expects a fastmlp.Sequential, got {type(model).__name__}")
    g = GraphBuilder(model.dtype)
    h = g.onnx.helper
    x = "x"
    for layer in model:
        x = layer.onnx_nodes(g, x)
    nodes = g.nodes + [h.make_node("Identity", [x], ["y"])]
    graph = h.make_graph(
        nodes, "fastmlp", [h.make_tensor_value_info("x", g.elem, ["N", model.in_features])],
        [h.make_tensor_value_info("y", g.elem, ["N", model.out_features])], g.initializers)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="fastmlp")
    proto.ir_version = 8  # what opset 17 came with: readable by older runtimes too
    g.onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: Sequential, path: Union[str, "os.PathLike[str]"]) -> None:
    """Writes to_onnx(model) to path."""
    _onnx().save(to_onnx(model), os.fspath(path))
