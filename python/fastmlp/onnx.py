"""ONNX export (optional extra [onnx]: the onnx package only, imported when called).

    from fastmlp.onnx import to_onnx, export
    proto = to_onnx(net)           # input "x" [N, in_features], output "y" [N, out_features]
    export(net, "model.onnx")
    export("model.safetensors", "model.onnx")   # a file from `fastmlp train`, preprocessing in

Standard operators only (opset 17), float32 or float64 as the model, dynamic batch; each
layer writes its own nodes (`Module.onnx_nodes` in fastmlp.nn). Dropout is left out
(inference). Where ONNX Runtime has no float64 kernel (Erf, for the exact GELU) that node
runs in float32 between two Casts."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import saving
from ._checks import FilePath, FloatArray
from .nn import Sequential
from .tabular import Preprocessing

if TYPE_CHECKING:
    import onnx

OPSET = 17


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastmlp[onnx]'") from e


class GraphBuilder:
    """Collects the nodes and initializers of one graph computing in `dtype`."""

    def __init__(self, dtype: np.dtype[Union[np.float32, np.float64]]):
        _require_onnx()
        from onnx import helper
        self.dtype = dtype
        self.elem = helper.np_dtype_to_tensor_dtype(dtype)
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Union[float, npt.NDArray[np.float64], FloatArray],
              hint: str = "c") -> str:
        """An initializer holding value in the graph's dtype."""
        from onnx import numpy_helper
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name

    def labels(self, values: List[str]) -> str:
        """An initializer holding class labels as strings."""
        from onnx import numpy_helper
        name = self._name("classes")
        self.initializers.append(numpy_helper.from_array(np.array(values, dtype=object), name))
        return name

    def op(self, op_type: str, inputs: List[str], **attrs: Union[int, float]) -> str:
        """One node; returns the name of its output."""
        from onnx import helper
        out = self._name(op_type.lower())
        node = helper.make_node(op_type, inputs, [out])
        node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
        self.nodes.append(node)
        return out

    def float32_op(self, op_type: str, x: str) -> str:
        """A unary node ONNX Runtime implements for float32 only."""
        from onnx import TensorProto
        if self.dtype == np.float32:
            return self.op(op_type, [x])
        y = self.op(op_type, [self.op("Cast", [x], to=TensorProto.FLOAT)])
        return self.op("Cast", [y], to=self.elem)

    def log1p(self, x: str) -> str:
        """log(1 + x) accurate for tiny x: log(u) * x / (u - 1) with u = 1 + x (x where u
        rounds to 1); ONNX has no Log1p."""
        one = self.const(1.0)
        u = self.op("Add", [x, one])
        ratio = self.op("Div", [x, self.op("Sub", [u, one])])
        return self.op("Where", [self.op("Equal", [u, one]), x,
                                 self.op("Mul", [self.op("Log", [u]), ratio])])


def _model(model: Union[Sequential, FilePath]) -> Tuple[Sequential, Optional[Preprocessing]]:
    """The network and, for a file written by `fastmlp train`, its preprocessing."""
    if isinstance(model, Sequential):
        return model, None
    if isinstance(model, (str, os.PathLike)):
        meta = saving.read_metadata(model)
        text = meta.get(Preprocessing.KEY)
        return saving.load(model), None if text is None else Preprocessing.from_json(text)
    raise TypeError(f"to_onnx expects a fastmlp.Sequential or a model file, "
                    f"got {type(model).__name__}")


def to_onnx(model: Union[Sequential, FilePath]) -> onnx.ModelProto:
    """The model as an ONNX graph with input "x" [N, in_features]. A Sequential gives output
    "y"; a model file written by `fastmlp train` carries its standardization, and a
    classifier's outputs are "label" (its class labels) and "probabilities"."""
    net, prep = _model(model)
    g = GraphBuilder(net.dtype)
    import onnx
    from onnx import TensorProto
    from onnx import helper as h
    x = "x"
    if prep is not None and prep.x_mean:
        x = g.op("Div", [g.op("Sub", [x, g.const(np.array(prep.x_mean), "mean")]),
                         g.const(np.array(prep.x_std), "std")])
    for layer in net:
        x = layer.onnx_nodes(g, x)
    if prep is not None and prep.task == "classification":
        k = len(prep.classes)
        g.nodes.append(h.make_node("Softmax", [x], ["probabilities"], axis=1))
        labels = g.labels(prep.classes)
        best = g.op("ArgMax", [x], axis=1, keepdims=0)
        g.nodes.append(h.make_node("Gather", [labels, best], ["label"], axis=0))
        outputs = [h.make_tensor_value_info("label", TensorProto.STRING, ["N"]),
                   h.make_tensor_value_info("probabilities", g.elem, ["N", k])]
    else:
        if prep is not None and (prep.y_std != 1.0 or prep.y_mean != 0.0):
            x = g.op("Add", [g.op("Mul", [x, g.const(prep.y_std)]), g.const(prep.y_mean)])
        g.nodes.append(h.make_node("Identity", [x], ["y"]))
        outputs = [h.make_tensor_value_info("y", g.elem, ["N", net.out_features])]
    graph = h.make_graph(g.nodes, "fastmlp",
                         [h.make_tensor_value_info("x", g.elem, ["N", net.in_features])],
                         outputs, g.initializers)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="fastmlp")
    proto.ir_version = 8  # what opset 17 came with: readable by older runtimes too
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: Union[Sequential, FilePath], path: FilePath) -> None:
    """Writes to_onnx(model) to path."""
    proto = to_onnx(model)
    import onnx
    onnx.save(proto, os.fspath(path))
