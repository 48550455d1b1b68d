"""Layers and the Sequential model: thin objects over the native core."""
from __future__ import annotations

import contextlib
import math
import threading
from typing import TYPE_CHECKING, Callable, Dict, Iterator, Mapping, Protocol, Union

import numpy as np
import numpy.typing as npt

from . import _checks, _core, _distributed, functional as F, init, training
from ._checks import FloatArray, XLike
from .losses import NAMED_SPECS, LossLike, resolve_loss
from .optim import Adam, Optimizer
from .params import Parameter, zeros_aligned

if TYPE_CHECKING:
    from mpi4py import MPI
    from typing_extensions import Self, Unpack

# One reusable no-op context for the per-step path (creating one per call costs).
_NO_CONTEXT = contextlib.nullcontext()

# A layer's constructor arguments, as fastmlp.save writes them.
Config = Dict[str, Union[bool, int, float, str]]


class OnnxGraph(Protocol):
    """What a layer writes its ONNX nodes through: `fastmlp.onnx.GraphBuilder`.

    Declared here because ``nn`` sits below ``onnx`` and may not import it. ``dtype`` is
    the graph's float dtype. Every method returns the name of the tensor it made.
    """

    dtype: np.dtype[Union[np.float32, np.float64]]

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
        ...

    def op(self, op_type: str, inputs: list[str], **attrs: Union[int, float]) -> str:
        """One node of an ONNX operator.

        Parameters
        ----------
        op_type : str
            The operator, such as ``"Gemm"`` or ``"Relu"``.
        inputs : list of str
            The names of its input tensors.
        **attrs : int or float
            The node's attributes.
        """
        ...

    def float32_op(self, op_type: str, x: str) -> str:
        """A unary node that ONNX Runtime runs in float32 only (such as ``Erf``): in a float64
        graph, between two Casts.

        Parameters
        ----------
        op_type : str
            The operator.
        x : str
            The name of its input tensor.
        """
        ...

    def log1p(self, x: str) -> str:
        """Nodes computing log(1 + x), accurate for tiny x (ONNX has no Log1p).

        Parameters
        ----------
        x : str
            The name of the input tensor.
        """
        ...

__all__ = ["GELU", "Dropout", "Identity", "LeakyReLU", "Linear", "Module", "Parameter", "ReLU",
           "Sequential", "SiLU", "Sigmoid", "Softplus", "Tanh"]


class Module:
    """The base of every layer and of `Sequential`.

    A module is called on an array, ``m(x)``, which runs its ``forward``. It knows its
    parameters and its mode: ``training`` is True after ``train()`` (the default) and False
    after ``eval()``; only `Dropout` behaves differently in the two.
    """

    training = True
    # Declared for the type checker only: each layer defines its own.
    forward: Callable[[npt.ArrayLike], FloatArray]

    def parameters(self) -> list[Parameter]:
        """The parameters, in layer order (weight before bias).

        Returns
        -------
        list of Parameter
        """
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """The parameters with their names: a Linear's are ``"weight"`` and ``"bias"``; in a
        `Sequential` each is prefixed by its layer's index, as ``"0.weight"``.

        Returns
        -------
        list of (str, Parameter)
        """
        return []

    def zero_grad(self) -> None:
        """Sets every parameter's gradient to zero (``backward`` accumulates into them)."""
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> Self:
        """Sets the training mode (Dropout drops only in it).

        Parameters
        ----------
        mode : bool, optional
            True for training, False for evaluation.

        Returns
        -------
        Module
            This module.
        """
        self.training = bool(mode)
        return self

    def eval(self) -> Self:
        """The evaluation mode: ``train(False)``.

        Returns
        -------
        Module
            This module.
        """
        return self.train(False)

    def __call__(self, x: npt.ArrayLike) -> FloatArray:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        """What ``repr`` shows between the parentheses: the constructor's arguments."""
        return ""

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        """Adds the nodes that compute this layer in ONNX (`fastmlp.onnx` calls it).

        Parameters
        ----------
        g : OnnxGraph
            The graph being built.
        x : str
            The name of the layer's input tensor.

        Returns
        -------
        str
            The name of the layer's output tensor.
        """
        raise NotImplementedError(f"{type(self).__name__} has no ONNX form")


class Linear(Module):
    """A fully connected layer: ``y = x @ weight + bias``.

    ``weight`` has shape ``(in_features, out_features)``, the transpose of what
    ``torch.nn.Linear`` stores, and ``bias`` shape ``(out_features,)`` (None without a
    bias); both are `Parameter` objects.

    Parameters
    ----------
    in_features : int
        Inputs per sample.
    out_features : int
        Outputs per sample.
    bias : bool, optional
        Whether the layer adds a bias.
    dtype : {"float32", "float64"}, optional
        The parameters' dtype. Inside a `Sequential` the model's dtype is used.
    init : str, optional
        How the weights are drawn. ``"default"`` is ``torch.nn.Linear``'s: weight and bias
        uniform in ``(-1/sqrt(in_features), 1/sqrt(in_features))``. ``"kaiming_uniform"``,
        ``"kaiming_normal"``, ``"xavier_uniform"`` and ``"xavier_normal"`` use the function of
        that name in `fastmlp.init` with its defaults, and ``"zeros"`` zeros; these set the
        bias to zero. The draw is fresh each time unless the layer goes into a `Sequential`
        with a ``seed``, which redraws it reproducibly.
    """

    _INITS = ("default", "kaiming_uniform", "kaiming_normal", "xavier_uniform",
              "xavier_normal", "zeros")

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: npt.DTypeLike = "float32", init: str = "default") -> None:
        self.in_features = _checks.positive_int(in_features, "in_features")
        self.out_features = _checks.positive_int(out_features, "out_features")
        if init not in self._INITS:
            raise ValueError(f"init must be one of {self._INITS}, got {init!r}")
        self.init = init
        dt = _checks.model_dtype(dtype)
        self._owner: Sequential | None = None
        w = np.empty((self.in_features, self.out_features), dt)
        self.weight = Parameter(w, np.zeros_like(w), "weight")
        self.bias: Parameter | None = None
        if bias:
            b = np.empty(self.out_features, dt)
            self.bias = Parameter(b, np.zeros_like(b), "bias")
        self.reset_parameters(np.random.default_rng())

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Draws the weights (and bias) again as ``init`` says.

        Parameters
        ----------
        rng : numpy.random.Generator
            Where the random numbers come from.
        """
        if self.init == "default":
            # torch.nn.Linear: kaiming_uniform(a=sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)), as the bias.
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.weight, -bound, bound, rng)
            if self.bias is not None:
                init.uniform_(self.bias, -bound, bound, rng)
            return
        if self.init == "zeros":
            init.zeros_(self.weight)
        else:
            getattr(init, self.init + "_")(self.weight, seed=rng)
        if self.bias is not None:
            init.zeros_(self.bias)

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        ps = [("weight", self.weight)]
        if self.bias is not None:
            ps.append(("bias", self.bias))
        return ps

    def _spec(self) -> _core.LayerSpec:
        return _core.LayerSpec(_core.LayerKind.linear, self.in_features, self.out_features,
                               self.bias is not None)

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """``x @ weight + bias`` on its own (`fastmlp.functional.linear`); in a model,
        `Sequential` runs the layer itself.

        Parameters
        ----------
        x : array_like, shape (n, in_features)
            The input rows.

        Returns
        -------
        ndarray, shape (n, out_features)
        """
        return F.linear(x, self.weight.data, None if self.bias is None else self.bias.data)

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        w = g.const(self.weight.data, "weight")
        if self.bias is None:
            return g.op("MatMul", [x, w])
        return g.op("Gemm", [x, w, g.const(self.bias.data, "bias")])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"

    def config(self) -> Config:
        """The constructor's arguments, by name, as `fastmlp.save` writes them.

        Returns
        -------
        dict
        """
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "init": self.init}


class _Activation(Module):
    _kind = "identity"

    def config(self) -> Config:
        """The constructor's arguments, by name, as `fastmlp.save` writes them.

        Returns
        -------
        dict
        """
        return {}

    def _params(self) -> tuple[float, float]:
        return 0.0, 0.0

    def _spec(self) -> _core.LayerSpec:
        return _core.LayerSpec(_core.LayerKind.activation, act=F.act_spec(self._kind, *self._params()))

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """The activation of every element of ``x``, in one native call.

        Parameters
        ----------
        x : array_like
            Any shape. float32 and float64 stay as they are; other real dtypes become
            float64.

        Returns
        -------
        ndarray
            Of x's shape.
        """
        return F.activation(x, self._kind, *self._params())


class Identity(_Activation):
    """``y = x``: a placeholder layer."""

    _kind = "identity"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Identity", [x])


class ReLU(_Activation):
    """``y = max(x, 0)``, the seed's activation."""

    _kind = "relu"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Relu", [x])


class Tanh(_Activation):
    """``y = tanh(x)``."""

    _kind = "tanh"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Tanh", [x])


class Sigmoid(_Activation):
    """``y = 1 / (1 + exp(-x))``."""

    _kind = "sigmoid"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Sigmoid", [x])


class SiLU(_Activation):
    """``y = x * sigmoid(x)`` (also called swish)."""

    _kind = "silu"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Mul", [x, g.op("Sigmoid", [x])])


class LeakyReLU(_Activation):
    """``y = x`` where x > 0, else ``negative_slope * x``.

    Parameters
    ----------
    negative_slope : float, optional
        The slope for negative inputs.
    """

    _kind = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def _params(self) -> tuple[float, float]:
        return self.negative_slope, 0.0

    def config(self) -> Config:
        return {"negative_slope": self.negative_slope}

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        if g.dtype == np.float32:
            return g.op("LeakyRelu", [x], alpha=self.negative_slope)
        # ONNX attributes are float32: a float64 slope needs a tensor.
        negative = g.op("Mul", [x, g.const(self.negative_slope)])
        return g.op("Where", [g.op("Greater", [x, g.const(0.0)]), x, negative])

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(_Activation):
    """``y = x * Phi(x)``, Phi the standard normal distribution function.

    Parameters
    ----------
    approximate : {"none", "tanh"}, optional
        ``"none"`` computes Phi with erf; ``"tanh"`` uses the approximation
        ``0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``, as ``torch.nn.GELU``.
    """

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._kind = "gelu" if approximate == "none" else "gelu_tanh"

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def config(self) -> Config:
        return {"approximate": self.approximate}

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        # 0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2/pi) (x + 0.044715 x^3)).
        if self.approximate == "none":
            inner = g.float32_op("Erf", g.op("Mul", [x, g.const(0.5 ** 0.5)]))
        else:
            cube = g.op("Mul", [g.op("Mul", [x, x]), x])
            z = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715)])])
            inner = g.op("Tanh", [g.op("Mul", [z, g.const((2.0 / math.pi) ** 0.5)])])
        half_x = g.op("Mul", [x, g.const(0.5)])
        return g.op("Mul", [half_x, g.op("Add", [inner, g.const(1.0)])])


class Softplus(_Activation):
    """``y = log(1 + exp(beta * x)) / beta``, and ``y = x`` where ``beta * x > threshold``.

    Parameters
    ----------
    beta : float, optional
        A positive sharpness.
    threshold : float, optional
        Above this value of ``beta * x`` the layer is linear (for numerical stability).
    """

    _kind = "softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        if beta <= 0:
            raise ValueError(f"beta must be positive, got {beta}")
        self.beta, self.threshold = float(beta), float(threshold)

    def _params(self) -> tuple[float, float]:
        return self.beta, self.threshold

    def config(self) -> Config:
        return {"beta": self.beta, "threshold": self.threshold}

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        # x where beta x > threshold, else log1p(exp(beta x)) / beta (torch's formula).
        bx = g.op("Mul", [x, g.const(self.beta)])
        smooth = g.op("Div", [g.log1p(g.op("Exp", [bx])), g.const(self.beta)])
        return g.op("Where", [g.op("Greater", [bx, g.const(self.threshold)]), x, smooth])

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the others by
    ``1 / (1 - p)``; the identity in evaluation mode (``net.eval()``), in ``predict`` and
    in an ONNX export.

    The masks come from the model's own counter-based generator, seeded by the
    `Sequential`'s ``seed``: the same seed gives the same masks for any number of threads.
    A Dropout layer runs only inside a `Sequential`.

    Parameters
    ----------
    p : float, optional
        The probability of dropping an element, in [0, 1].
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def _spec(self) -> _core.LayerSpec:
        return _core.LayerSpec(_core.LayerKind.dropout, p=self.p)

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """Raises RuntimeError: the masks belong to the `Sequential` that holds the layer.

        Parameters
        ----------
        x : array_like
            Not used.
        """
        raise RuntimeError("Dropout runs inside a Sequential, which owns its random masks")

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return x  # the identity in inference

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def config(self) -> Config:
        """The constructor's arguments, by name, as `fastmlp.save` writes them.

        Returns
        -------
        dict
        """
        return {"p": self.p}


class Layer(Protocol):
    """What `Sequential` takes: a fastmlp layer (`Linear`, an activation or `Dropout`).

    Each layer describes itself to the native core, which runs it; a class from elsewhere
    cannot be a layer.
    """

    def _spec(self) -> _core.LayerSpec: ...

    def config(self) -> Config:
        """The constructor's arguments, by name."""
        ...

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """The layer's parameters with their names."""
        ...

    def train(self, mode: bool = True) -> object:
        """Sets the training mode.

        Parameters
        ----------
        mode : bool, optional
            True for training, False for evaluation.
        """
        ...

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        """Adds the layer's ONNX nodes to ``g``; returns the output tensor's name.

        Parameters
        ----------
        g : OnnxGraph
            The graph being built.
        x : str
            The name of the layer's input tensor.
        """
        ...


class _Exclusive:
    """The context of Sequential._exclusive (a class, not a generator: it runs per step)."""
    __slots__ = ("model", "method")

    def __init__(self, model: Sequential, method: str) -> None:
        self.model, self.method = model, method

    def __enter__(self) -> None:
        m = self.model
        if not m._trainer.acquire(blocking=False):
            raise RuntimeError(
                f"Sequential at {id(m):#x} is busy: {self.method}() was called while "
                f"{m._training_in}() runs in another thread (or from its callback); a "
                "model trains in one thread at a time, predict() may run alongside")
        m._training_in = self.method

    def __exit__(self, *exc: object) -> None:
        self.model._trainer.release()


class Sequential(Module):
    """Layers applied in order: the model that predicts, trains, saves and exports.

    All parameters live in one flat buffer and all gradients in another; each layer's
    ``Parameter.data`` and ``.grad`` are views into them, so nothing is copied per step.
    The layers are compiled once into a plan that the native core runs.

    ``net(x)`` is ``net.predict(x)``; ``net[i]``, ``len(net)`` and ``iter(net)`` give the
    layers. ``in_features`` and ``out_features`` are the widths of the first and last
    Linear layer, ``dtype`` the model's dtype.

    Parameters
    ----------
    *layers : Layer
        At least one `Linear`, with activations and `Dropout` in between. A Linear layer
        belongs to one model only.
    dtype : {"float32", "float64"}, optional
        The dtype of every parameter and of the computation; inputs of another real dtype
        are converted once.
    seed : int, optional
        Draws the Linear layers' weights, in layer order, and seeds the Dropout masks: the
        same seed gives bitwise the same model. None keeps the layers' own draws and gives
        fresh masks.
    """

    def __init__(self, *layers: Layer, dtype: npt.DTypeLike = "float32",
                 seed: int | None = None) -> None:
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not hasattr(layer, "_spec"):
                raise TypeError(f"layer {i} is not a fastmlp layer: {layer!r}")
        linears = [l for l in layers if isinstance(l, Linear)]
        if not linears:
            raise ValueError("Sequential needs at least one Linear layer")
        for l in linears:
            if l._owner is not None:
                raise ValueError("a Linear layer can belong to only one Sequential")
        self.dtype = _checks.model_dtype(dtype)
        self._layers = list(layers)
        self.in_features = linears[0].in_features
        specs = [l._spec() for l in layers]
        layout = _core.param_layout(specs)  # from the core, which also checks the specs
        total = _core.param_count(specs)
        self._flat = zeros_aligned(total, self.dtype)
        # The gradients, then the extras that a data-parallel step sums with them in one
        # collective (fastmlp._distributed).
        self._grad_buffer = zeros_aligned(total + _core.SYNC_SLOTS, self.dtype)
        self._flat_grad = self._grad_buffer[:total]
        for info in layout:
            p = dict(self._layers[info.layer].named_parameters())[info.name]
            p.name = f"{info.layer}.{info.name}"
            end = info.offset + math.prod(info.shape)
            p.move_to(self._flat[info.offset:end].reshape(info.shape),
                      self._flat_grad[info.offset:end].reshape(info.shape))
        rng = None if seed is None else np.random.default_rng(seed)
        for l in linears:
            l._owner = self
            if rng is not None:
                l.reset_parameters(rng)
        core_net = _core.Net_f32 if self.dtype == np.float32 else _core.Net_f64
        dt, n_in = self.dtype, self.in_features
        self._impl = core_net(
            specs, self.in_features, self._flat, self._flat_grad,
            lambda x: training.core_input(_checks.as_input(x, "x", dt, n_in), "x"))
        self.out_features = linears[-1].out_features  # activations keep the width
        # net.predict is the native method itself: the Python frame of the documented one
        # below was 70 of a one-sample call's 380 ns (Zen 5). Not where a subclass
        # overrides predict.
        if type(self).predict is Sequential.predict:
            self.predict = self._impl.predict  # type: ignore[method-assign]
        # Dropout masks come from the core's PRNG: seeded like the weights, else fresh.
        self._impl.dropout_seed = _checks.core_seed(seed)
        self._default_opt: Optimizer | None = None
        self._checked_opt: Optimizer | None = None  # the last optimizer that passed _optimizer()
        self._has_forward = False
        self._trainer = threading.Lock()  # held by the one thread training the model
        self._training_in = ""

    def _exclusive(self, method: str) -> _Exclusive:
        """Holds the model for one training call: a second thread calling any training
        method meanwhile gets RuntimeError instead of interleaving its updates."""
        return _Exclusive(self, method)

    # --- containers -------------------------------------------------------------------
    def __getitem__(self, i: int) -> Layer:
        return self._layers[i]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(f"{i}.{name}", p) for i, l in enumerate(self._layers)
                if isinstance(l, Linear) for name, p in l.named_parameters()]

    def zero_grad(self) -> None:
        self._flat_grad[...] = 0

    def flat_parameters(self) -> FloatArray:
        """The one flat buffer every Parameter.data is a view of (writable, in layer order)."""
        return self._flat

    def flat_gradients(self) -> FloatArray:
        """The one flat buffer every Parameter.grad is a view of."""
        return self._flat_grad

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        self._impl.training = self.training
        for l in self._layers:
            l.train(mode)
        return self

    def extra_repr(self) -> str:
        inner = ",\n  ".join(repr(l) for l in self._layers)
        return f"\n  {inner},\n  dtype={self.dtype.name}\n"

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of the weights by name (the names of ``named_parameters``).

        Returns
        -------
        dict of str to ndarray
        """
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Copies weights in by name; checks every key and shape first and changes nothing
        unless all are right.

        Parameters
        ----------
        state : mapping of str to array_like
            One array for each name of ``named_parameters``, of that parameter's shape
            (converted to the model's dtype), and no other key.

        Raises
        ------
        KeyError
            A name is missing or unexpected.
        ValueError
            An array has the wrong shape.
        """
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        new = {k: _checks.like(state[k], f"state_dict[{k!r}]", p.data, k)
               for k, p in params.items()}
        for k, p in params.items():
            p.data[...] = new[k]

    # --- pickling (multiprocessing, copy.deepcopy) -------------------------------------
    def __reduce__(self) -> tuple[Callable[..., Sequential], tuple[object, ...]]:
        """Pickles as what rebuilds the model: its layers, dtype, weights, training mode
        and dropout position (the native objects are made anew). An optimizer is not part
        of the model: ``fm.save(net, path, optimizer=opt)`` keeps both."""
        layers = [(type(l).__name__, dict(l.config())) for l in self._layers]
        return (_unpickle, (layers, self.dtype.name, self.state_dict(), self.training,
                            self._impl.dropout_seed, self._impl.dropout_draws))

    # --- compute ----------------------------------------------------------------------
    def predict(self, x: XLike) -> FloatArray:
        """Inference: the model's output for each row of ``x``. Also ``net(x)``.

        It caches nothing and never drops (Dropout is the identity here), and gives the same
        numbers, bit for bit, as ``forward`` in evaluation mode. NaN in ``x`` propagates.
        It may run while another thread trains the model, and then sees the weights of some
        recent step.

        Parameters
        ----------
        x : array_like or scipy.sparse matrix, shape (n, in_features)
            A C-ordered matrix of the model's dtype is read in place; anything else is
            checked and converted once. Sparse x (CSR read natively; CSC and other
            formats converted to CSR once) needs a Linear as the first layer.

        Returns
        -------
        ndarray, shape (n, out_features)
        """
        return self._impl.predict(x)

    __call__ = predict

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """The training forward pass: the output, keeping what ``backward`` needs.

        Parameters
        ----------
        x : array_like, shape (n, in_features)
            The input rows.

        Returns
        -------
        ndarray, shape (n, out_features)
        """
        with self._exclusive("forward"):
            if _checks.is_sparse(x):
                raise TypeError("forward() takes dense x; predict, train_step, fit and fit_lbfgs "
                                "take scipy.sparse x")
            xa = _checks.as_matrix(x, "x", self.dtype, self.in_features)
            _checks.check_nonempty(xa, "x")
            out = self._impl.forward(xa)
            self._has_forward = True
            return out

    def backward(self, grad: npt.ArrayLike) -> FloatArray:
        """Backpropagates through the last ``forward``: adds dloss/dparameter to each
        parameter's ``.grad`` (call ``zero_grad`` between steps) and returns dloss/dx.

        Parameters
        ----------
        grad : array_like, shape (n, out_features)
            dloss/doutput for the batch of the last ``forward``, such as a loss object's
            ``backward()``; ``(n,)`` for one output.

        Returns
        -------
        ndarray, shape (n, in_features)

        Raises
        ------
        RuntimeError
            If no ``forward`` came first, or a ``train_step``, ``fit`` or ``fit_lbfgs``
            came after it (their inputs need not outlive them).
        """
        with self._exclusive("backward"):
            if not self._has_forward:
                raise RuntimeError("backward() called before forward()")
            n = self._impl.batch
            g = _checks.as_targets(grad, "grad", n, self.out_features, self.dtype, labels=False)
            return self._impl.backward(g)

    def _optimizer(self, optimizer: Optimizer | None) -> Optimizer:
        """The given optimizer, checked; None: the model's own Adam(lr=1e-3), created once
        and shared by train_step and fit so that repeated calls continue its state."""
        if optimizer is not None and optimizer is self._checked_opt:
            return optimizer
        if optimizer is None:
            if self._default_opt is None:
                self._default_opt = Adam(self.parameters(), lr=1e-3)
            return self._default_opt
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastmlp.optim optimizer, got {type(optimizer).__name__}")
        if optimizer.dtype != self.dtype:
            raise TypeError(f"optimizer dtype {optimizer.dtype} differs from the model's {self.dtype}")
        self._checked_opt = optimizer
        return optimizer

    def train_step(self, x: XLike, y: npt.ArrayLike, loss: LossLike = "mse",
                   optimizer: Optimizer | None = None, clip_grad_norm: float = 0.0,
                   sample_weight: npt.ArrayLike | None = None, weight_l2: float = 0.0,
                   comm: MPI.Intracomm | None = None) -> float:
        """One training step in one native call: zero_grad, forward, loss, backward and
        the optimizer's update.

        Parameters
        ----------
        x : array_like or scipy.sparse matrix, shape (n, in_features)
            The batch (sparse as `predict`'s).
        y : array_like
            The targets: shape ``(n, out_features)`` (or ``(n,)`` for one output), or
            integer class labels of shape ``(n,)`` for ``"cross_entropy"``.
        loss : str or loss object, optional
            A name (``"mse"``, ``"l1"``, ``"huber"``, ``"bce_with_logits"``,
            ``"cross_entropy"``, ``"poisson_nll"``) or a `fastmlp.losses` object.
        optimizer : Optimizer, optional
            A `fastmlp.optim` optimizer over this model's parameters. None uses the model's
            own ``Adam(lr=1e-3)``, created on first use and shared with ``fit``, so that
            repeated calls continue its state.
        clip_grad_norm : float, optional
            When positive, the gradients are scaled down so that their global norm is at
            most this before the update.
        sample_weight : array_like, shape (n,), optional
            Non-negative weights of the samples in the loss (the mean divides by their sum).
        weight_l2 : float, optional
            An L2 penalty on the Linear weights (not the biases), added to the summed loss
            before the mean divides it, as scikit-learn's alpha: the loss becomes the mean
            plus ``weight_l2 / 2 * sum(W**2)`` divided by the samples (or their weights)
            times the values per sample. The returned loss includes it.
        comm : mpi4py.MPI.Intracomm, optional
            Data-parallel: every rank calls train_step with its part of the batch (at least
            one row), and the step is that of the whole batch,
            the ranks' parts side by side; the gradients are averaged with one Allreduce and
            every rank applies the same update. The ranks' weights must already be equal
            (``fit(comm=...)`` leaves them so; equal seeds do too). A failure on one rank
            raises on every rank.

        Returns
        -------
        float
            The loss of the whole batch, measured before the update.

        Raises
        ------
        ValueError
            NaN or Inf in ``x`` or ``y``, empty data, or mismatched shapes.
        FloatingPointError
            The loss, a gradient or a weight became NaN or Inf.
        """
        opt = self._default_opt if optimizer is None else optimizer
        named = NAMED_SPECS.get(loss) if type(loss) is str else None
        if (named is not None and opt is not None and comm is None and sample_weight is None
                and (opt is self._checked_opt or opt is self._default_opt)
                and (clip_grad_norm == 0.0) is True and (weight_l2 == 0.0) is True
                and self._trainer.acquire(blocking=False)):
            # The per-step path of a training loop: one native call, which takes x and y
            # only as they already are (else None: the full path below checks and converts).
            try:
                self._training_in = "train_step"
                self._has_forward = False
                # opt.native has the net's dtype: checked when opt became _checked_opt.
                r = self._impl.train_step_exact(x, y, named[0], named[1],
                                                opt.native)  # type: ignore[arg-type]
            finally:
                self._trainer.release()
            if r is not None:
                return r
        with self._exclusive("train_step"):
            sync = None if comm is None else \
                _distributed.StepSum(_distributed.communicator(comm), self._grad_buffer)
            try:
                spec, labels = resolve_loss(loss)
                xa, ya = _checks.training_data(x, y, "x", "y", self.in_features,
                                               self.out_features, self.dtype, labels,
                                               finite=False)
                w = _checks.sample_weights(sample_weight, xa.shape[0], self.dtype)
                native = self._optimizer(optimizer).native
                clip = float(clip_grad_norm)
                l2 = _checks.non_negative(weight_l2, "weight_l2")
            except Exception as e:
                if sync is None:
                    raise
                sync.fail(e)  # the other ranks wait in the step's collective: raise there
            self._has_forward = False  # backward needs a forward of its own afterwards
            y_arg, labels_arg = (None, ya) if labels else (ya, None)
            x_arg = training.core_input(xa, "x")
            extras = None if sync is None else sync.extras
            with _NO_CONTEXT if sync is None else _distributed.rank_threads():
                # Each core Net takes the optimizer of its own dtype, as _optimizer() checked.
                if isinstance(self._impl, _core.Net_f32):
                    assert isinstance(native, _core.Optimizer_f32)
                    return self._impl.train_step(x_arg, y_arg, labels_arg, w, spec, native,
                                                 clip, l2, sync, extras)
                assert isinstance(native, _core.Optimizer_f64)
                return self._impl.train_step(x_arg, y_arg, labels_arg, w, spec, native, clip,
                                             l2, sync, extras)

    def fit(self, x: XLike, y: npt.ArrayLike, loss: LossLike = "mse",
            optimizer: Optimizer | None = None, epochs: int = 200, batch_size: int | None = None,
            shuffle: bool = True, seed: int | None = None, log_every: int = 0,
            callback: training.Callback | None = None,
            validation_data: training.ValidationData | None = None,
            **extras: Unpack[training.FitExtras]) -> training.History:
        """Trains the model: the whole loop (shuffling, batches, forward, backward, update)
        runs natively, with the GIL released.

        Ctrl-C stops it within a step with KeyboardInterrupt, leaving the weights of the
        last completed step (with restore_best_weights, those of the best epoch: they are
        put back however training ends).

        Parameters
        ----------
        x : array_like or scipy.sparse matrix, shape (n, in_features)
            The training samples (sparse as `predict`'s; so may validation_data's be). A
            C-ordered array of the model's dtype, an ``np.memmap`` of one included, is read
            where it lies, never copied: fit then costs the parameters, the optimizer's
            state and a few batches. Anything else (another dtype, Fortran order, strides,
            nested lists) is converted once, a copy the size of the data.
        y : array_like
            The targets: shape ``(n, out_features)`` (or ``(n,)`` for one output), or
            integer class labels of shape ``(n,)`` for ``"cross_entropy"``. Read as is or
            converted once, as x.
        loss : str or loss object, optional
            A name (``"mse"``, ``"l1"``, ``"huber"``, ``"bce_with_logits"``,
            ``"cross_entropy"``, ``"poisson_nll"``) or a `fastmlp.losses` object.
        optimizer : Optimizer, optional
            A `fastmlp.optim` optimizer over this model's parameters. None uses the model's
            own ``Adam(lr=1e-3)``, shared with ``train_step`` and kept between calls.
        epochs : int, optional
            Passes over the data.
        batch_size : int, optional
            Samples per step; a smaller last batch is included. None: the full batch.
        shuffle : bool, optional
            Reshuffle the samples before every epoch.
        seed : int, optional
            Seeds the shuffling; None shuffles differently on every call.
        log_every : int, optional
            When positive, every that many epochs prints a line such as
            ``Epoch: 10   Loss: 1.234567`` (with the validation loss when there is one) or,
            when ``callback`` is given, calls it instead.
        callback : callable, optional
            ``callback(epoch, loss)``, every ``log_every`` epochs (never when
            ``log_every`` is 0).
        validation_data : (array_like, array_like), optional
            ``(x_val, y_val)``, scored with the loss after every epoch (in inference: no
            dropout); its loss is then what early stopping and ``ReduceLROnPlateau``
            watch.
        **extras
            The keyword arguments below.

        Other Parameters
        ----------------
        validation_split : float, optional
            Instead of ``validation_data``: the last fraction of the samples (taken before
            any shuffling) is held out for validation.
        sample_weight : array_like, shape (n,), optional
            Non-negative weights of the samples in the loss (each batch's mean divides by
            the sum of its weights).
        scheduler : LRScheduler or ReduceLROnPlateau, optional
            A `fastmlp.optim.lr_scheduler` schedule of the ``optimizer`` passed here,
            stepped after every epoch; ``ReduceLROnPlateau`` gets the watched loss.
        patience : int, optional
            Stop after this many epochs in a row without improving the watched loss by
            more than ``min_delta`` (Keras' early stopping). None: no early stop.
        min_delta : float, optional
            The improvement that counts, for ``patience``.
        restore_best_weights : bool, optional
            At the end, put back the weights of the epoch with the best watched loss.
        metrics : iterable of str, optional
            Any of ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"``, measured on the
            validation data after every epoch into ``History.val_metrics``.
        clip_grad_norm : float, optional
            When positive, the gradients are scaled down so that their global norm is at
            most this before each update.
        weight_l2 : float, optional
            An L2 penalty on the Linear weights, as `train_step`'s; ``History.loss``
            includes it and ``History.penalty`` holds it apart.
        on_epoch : callable, optional
            ``on_epoch(epoch, logs)`` after every epoch; ``logs`` is a dict of ``"loss"``,
            ``"penalty"``, ``"lr"`` and, with validation data, ``"val_loss"`` and the
            metrics. It may set the optimizer's ``lr``; returning False stops training.
        progress : bool, optional
            Show a progress bar (tqdm's, when installed), else log lines on stderr.
        checkpoint : str or os.PathLike, optional
            A file to save the run's state to after every ``checkpoint_every``-th epoch
            and after the last: the weights, the optimizer, the scheduler's state, early
            stopping's state and best weights, the shuffling and dropout positions, the
            settings and the history so far. Each write replaces the file atomically, so a
            crash or kill leaves the previous checkpoint whole. The file is a model file:
            `fastmlp.saving.load` reads it (``with_optimizer=True`` for the optimizer too).
        checkpoint_every : int, optional
            Epochs between checkpoints; needs ``checkpoint``. None: every epoch.
        resume : str or os.PathLike, optional
            A checkpoint to continue: its state is loaded into this model (of the same
            layers and dtype), the optimizer and the scheduler, and training goes on from
            the epoch after it, bit for bit as if it had never stopped. ``epochs`` stays
            the total, and the History returned covers the whole run. The data and
            settings must be those of the run that wrote it (the number of samples,
            batch size, shuffle, validation, metrics, schedule, early stopping, clipping
            and weight_l2 are checked; ``seed`` must be None or the same). A run that
            early stopping ended has nothing left to train.
        comm : mpi4py.MPI.Intracomm, optional
            Data-parallel training: every rank calls fit with its own shard (x, y,
            sample_weight and validation_data) and the same settings. The ranks start from
            rank 0's weights; every step averages the gradients of the ranks' batches,
            weighted by their samples (or sample weights), with one Allreduce, so all ranks
            keep the same weights; with full batches the run equals one process training on
            all the data, to rounding. Each rank shuffles its own shard (with seed + rank);
            the ranks take as many steps per epoch as the largest shard has batches (a rank
            out of batches adds none). The loss, validation loss and metrics
            (``"accuracy"``, ``"mse"``, ``"mae"``) are averaged over all ranks, so schedules
            and early stopping decide the same everywhere; on_epoch returning False on any
            rank stops all. Log lines and the progress bar come from rank 0, callbacks run
            on every rank. Rank 0 alone writes checkpoints (with every rank's shuffle
            state); resume needs the same number of ranks. Bad input, divergence or an
            exception on one rank raises on every rank. Each rank runs one native thread
            unless a count was chosen (`fastmlp.set_num_threads`, ``FASTMLP_NUM_THREADS``).

        Returns
        -------
        History
            The loss of each epoch (the per-sample mean of each batch's loss before its
            update), and the validation loss, learning rate and metrics when recorded.

        Raises
        ------
        ValueError
            NaN or Inf in the data, empty data, mismatched shapes or bad settings;
            ``checkpoint_every`` without ``checkpoint``; a ``resume`` file of another model,
            optimizer or run, or ``epochs`` fewer than it has done.
        FloatingPointError
            The loss, a gradient or a weight became NaN or Inf (the message names the
            epoch and step); the weights are the last finite ones, while the optimizer's
            moment buffers are not rolled back.
        KeyboardInterrupt
            On Ctrl-C.
        """
        with self._exclusive("fit"):
            self._has_forward = False  # its steps' inputs are gone afterwards
            return training.fit(self, self._impl, self._optimizer(optimizer), x, y, loss, epochs,
                                batch_size, shuffle, seed, log_every, callback, validation_data,
                                **extras)

    def fit_lbfgs(self, x: XLike, y: npt.ArrayLike, loss: LossLike = "mse",
                  max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-5,
                  weight_l2: float = 0.0, sample_weight: npt.ArrayLike | None = None,
                  callback: training.LbfgsCallback | None = None) -> training.LbfgsResult:
        """Full-batch L-BFGS, natively with the GIL released: the unconstrained case of
        scipy's L-BFGS-B (what scikit-learn's solver="lbfgs" runs), with its line search
        and stopping rules.

        Parameters
        ----------
        x : array_like or scipy.sparse matrix, shape (n, in_features)
            The training samples, all in every evaluation (sparse as `predict`'s).
        y : array_like
            The targets, as `fit`'s.
        loss : str or loss object, optional
            As `fit`'s.
        max_iter : int, optional
            Stop after this many iterations.
        max_fun : int, optional
            Stop after the iteration during which the evaluations pass this many.
        tol : float, optional
            Converged when no gradient entry is larger than this in size. It has also
            converged when an iteration lowers the objective by at most 2.2e-9 relative.
        weight_l2 : float, optional
            An L2 penalty on the Linear weights, as `train_step`'s.
        sample_weight : array_like, shape (n,), optional
            Non-negative weights of the samples in the loss.
        callback : callable, optional
            ``callback(iteration, objective)`` after each iteration; returning False stops.

        Returns
        -------
        LbfgsResult
            The final objective, iterations, evaluations, status and message.
        """
        with self._exclusive("fit_lbfgs"):
            self._has_forward = False
            return training.fit_lbfgs(self, self._impl, x, y, loss, max_iter, max_fun, tol,
                                      weight_l2, sample_weight, callback)


def _unpickle(layers: list[tuple[str, Config]], dtype: str, weights: Mapping[str, FloatArray],
              training: bool, dropout_seed: int, dropout_draws: int) -> Sequential:
    """The model that Sequential.__reduce__ describes."""
    net = Sequential(*(LAYER_TYPES[kind](**config) for kind, config in layers), dtype=dtype)
    net.load_state_dict(weights)
    net.train(training)
    net._impl.dropout_seed = dropout_seed  # resets the draws: set them after
    net._impl.dropout_draws = dropout_draws
    return net


# Every layer class by name: the names (and constructor arguments) are torch.nn's, which
# saving and interop rely on.
LAYER_TYPES: Dict[str, "type[Layer]"] = {cls.__name__: cls for cls in (
    Linear, ReLU, LeakyReLU, Tanh, Sigmoid, GELU, SiLU, Softplus, Identity, Dropout)}
