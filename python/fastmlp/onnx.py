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
from typing import TYPE_CHECKING, List, Optional, Protocol, Union

import numpy as np
import numpy.typing as npt

from . import _checks, saving
from ._checks import FilePath, FloatArray
from .nn import Sequential
from .tabular import Preprocessing

if TYPE_CHECKING:
    import onnx

OPSET = 17


class GraphBuilder:
    """Collects the nodes, initializers and outputs of one ONNX graph that computes in
    ``dtype``; each layer adds its nodes through it (``Module.onnx_nodes``). Every method
    that makes a tensor returns its name.

    Parameters
    ----------
    dtype : numpy.dtype
        float32 or float64: the graph's input, weights and computation.
    """

    def __init__(self, dtype: np.dtype[Union[np.float32, np.float64]]):
        _checks.require_module(
            "onnx", "ONNX export needs the onnx package: pip install 'fastmlp[onnx]'")
        from onnx import helper
        self.dtype = dtype
        self.elem = helper.np_dtype_to_tensor_dtype(dtype)
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []
        self.outputs: List[onnx.ValueInfoProto] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Union[float, npt.NDArray[np.float64], FloatArray],
              hint: str = "c") -> str:
        """An initializer holding ``value`` in the graph's dtype.

        Parameters
        ----------
        value : float or ndarray
            The constant.
        hint : str, optional
            The start of its tensor name.
        """
        from onnx import numpy_helper
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name

    def tensor(self, array: npt.NDArray[np.generic], hint: str) -> str:
        """An initializer holding ``array`` in its own dtype (strings become ONNX strings):
        class labels, shapes.

        Parameters
        ----------
        array : ndarray
            The constant.
        hint : str
            The start of its tensor name.
        """
        from onnx import numpy_helper
        name = self._name(hint)
        if array.dtype.kind in "USO":
            array = array.astype(object)  # ONNX strings
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def output(self, name: str, x: str, shape: List[Union[str, int]],
               elem: Optional[int] = None) -> None:
        """Makes a tensor an output of the graph.

        Parameters
        ----------
        name : str
            The output's name, such as ``"y"``.
        x : str
            The tensor.
        shape : list of str or int
            Its shape; a string names a dynamic axis (``"N"``, the batch).
        elem : int, optional
            Its ONNX element type (``onnx.TensorProto.*``); None: the graph's dtype.
        """
        from onnx import helper
        self.nodes.append(helper.make_node("Identity", [x], [name]))
        self.outputs.append(helper.make_tensor_value_info(
            name, self.elem if elem is None else elem, shape))

    def classifier_outputs(self, logits: str, classes: npt.NDArray[np.generic]) -> None:
        """A classifier's outputs: ``"label"``, the class of the largest logit, and
        ``"probabilities"``, the softmax of the logits.

        Parameters
        ----------
        logits : str
            The tensor of logits, shape [N, n_classes].
        classes : ndarray
            The label of each column, of any dtype (strings included).
        """
        from onnx import helper
        best = self.op("ArgMax", [logits], axis=1, keepdims=0)
        label = self.op("Gather", [self.tensor(classes, "classes"), best], axis=0)
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(object) if classes.dtype.kind in "USO"
                                               else classes.dtype)
        self.output("label", label, ["N"], elem)
        self.output("probabilities", self.op("Softmax", [logits], axis=1),
                    ["N", len(classes)])

    def op(self, op_type: str, inputs: List[str], **attrs: Union[int, float]) -> str:
        """One node of an ONNX operator.

        Parameters
        ----------
        op_type : str
            The operator, such as ``"Gemm"``.
        inputs : list of str
            The names of its input tensors.
        **attrs : int or float
            The node's attributes.
        """
        from onnx import helper
        out = self._name(op_type.lower())
        node = helper.make_node(op_type, inputs, [out])
        node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
        self.nodes.append(node)
        return out

    def float32_op(self, op_type: str, x: str) -> str:
        """A unary node that ONNX Runtime implements for float32 only (``Erf``): in a
        float64 graph it runs between two Casts.

        Parameters
        ----------
        op_type : str
            The operator.
        x : str
            Its input tensor.
        """
        from onnx import TensorProto
        if self.dtype == np.float32:
            return self.op(op_type, [x])
        y = self.op(op_type, [self.op("Cast", [x], to=TensorProto.FLOAT)])
        return self.op("Cast", [y], to=self.elem)

    def log1p(self, x: str) -> str:
        """log(1 + x), accurate for tiny x (ONNX has no Log1p): ``log(u) * x / (u - 1)``
        with ``u = 1 + x``, and x where u rounds to 1.

        Parameters
        ----------
        x : str
            The input tensor.
        """
        one = self.const(1.0)
        u = self.op("Add", [x, one])
        ratio = self.op("Div", [x, self.op("Sub", [u, one])])
        return self.op("Where", [self.op("Equal", [u, one]), x,
                                 self.op("Mul", [self.op("Log", [u]), ratio])])


class Exportable(Protocol):
    """A model with a network and its own outputs: the fastmlp scikit-learn estimators."""

    def onnx_network(self) -> Sequential:
        """The network whose layers make the graph."""
        ...

    def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
        """Adds the model's outputs, computed from the network's output.

        Parameters
        ----------
        g : GraphBuilder
            The graph being built.
        x : str
            The network's output tensor.
        """
        ...


ModelLike = Union[Sequential, FilePath, Exportable]


def _preprocessed(prep: Preprocessing, net: Sequential) -> Exportable:
    """A model file written by `fastmlp train`: its standardization and labels in the graph."""
    class FromFile:
        def onnx_network(self) -> Sequential:
            return net

        def onnx_outputs(self, g: GraphBuilder, x: str) -> None:
            if prep.task == "classification":
                g.classifier_outputs(x, np.array(prep.classes))
                return
            if prep.y_std != 1.0 or prep.y_mean != 0.0:
                x = g.op("Add", [g.op("Mul", [x, g.const(prep.y_std)]), g.const(prep.y_mean)])
            g.output("y", x, ["N", net.out_features])
    return FromFile()


def to_onnx(model: ModelLike) -> onnx.ModelProto:
    """The model as an ONNX graph, checked by ``onnx.checker``.

    The input is ``"x"`` of shape [N, in_features] in the model's dtype (N dynamic).
    A Sequential gives output ``"y"`` of shape [N, out_features]. A fastmlp scikit-learn
    regressor gives ``"y"`` shaped as its ``predict``; a classifier, or a model file
    written by ``fastmlp train`` for classification, gives ``"label"`` (the original
    class labels, strings included) and ``"probabilities"``. A model file's
    standardization is part of the graph.

    Parameters
    ----------
    model : Sequential, fastmlp estimator, str or os.PathLike
        The network, a fitted `fastmlp.sklearn` estimator, or the path of a model file
        (from ``fastmlp train`` or `fastmlp.save`).

    Returns
    -------
    onnx.ModelProto
        Opset 17, standard operators only.
    """
    prep: Optional[Preprocessing] = None
    if isinstance(model, (str, os.PathLike)):
        text = saving.read_metadata(model).get(Preprocessing.KEY)
        net = saving.load(model)
        prep = None if text is None else Preprocessing.from_json(text)
        head: Optional[Exportable] = None if prep is None else _preprocessed(prep, net)
    elif isinstance(model, Sequential):
        net, head = model, None
    elif hasattr(model, "onnx_network") and hasattr(model, "onnx_outputs"):
        net, head = model.onnx_network(), model
    else:
        raise TypeError(f"to_onnx expects a fastmlp.Sequential, a fastmlp scikit-learn "
                        f"estimator or a model file, got {type(model).__name__}")
    g = GraphBuilder(net.dtype)
    import onnx
    from onnx import helper as h
    x = "x"
    if prep is not None and prep.x_mean:
        x = g.op("Div", [g.op("Sub", [x, g.const(np.array(prep.x_mean), "mean")]),
                         g.const(np.array(prep.x_std), "std")])
    for layer in net:
        x = layer.onnx_nodes(g, x)
    if head is None:
        g.output("y", x, ["N", net.out_features])
    else:
        head.onnx_outputs(g, x)
    graph = h.make_graph(g.nodes, "fastmlp",
                         [h.make_tensor_value_info("x", g.elem, ["N", net.in_features])],
                         g.outputs, g.initializers)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="fastmlp")
    proto.ir_version = 8  # what opset 17 came with: readable by older runtimes too
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: ModelLike, path: FilePath) -> None:
    """Writes ``to_onnx(model)`` to a file.

    Parameters
    ----------
    model : Sequential, fastmlp estimator, str or os.PathLike
        As for `to_onnx`.
    path : str or os.PathLike
        The file to write, conventionally ``*.onnx``.
    """
    proto = to_onnx(model)
    import onnx
    onnx.save(proto, os.fspath(path))
