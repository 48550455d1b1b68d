"""Layers and the Sequential model: thin objects over the native core."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Dict, Iterator, Mapping, Protocol, Union

import numpy as np
import numpy.typing as npt

from . import _checks, _core, functional as F, init, training
from ._checks import FloatArray, XLike
from .losses import LossLike, resolve_loss
from .optim import Adam, Optimizer
from .params import Parameter

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

# A layer's constructor arguments, as fastmlp.save writes them.
Config = Dict[str, Union[bool, int, float, str]]


class OnnxGraph(Protocol):
    """What a layer writes its ONNX nodes through (fastmlp.onnx.GraphBuilder)."""

    dtype: np.dtype[Union[np.float32, np.float64]]

    def const(self, value: Union[float, npt.NDArray[np.float64], FloatArray],
              hint: str = "c") -> str: ...

    def op(self, op_type: str, inputs: list[str], **attrs: Union[int, float]) -> str: ...

    def float32_op(self, op_type: str, x: str) -> str: ...

    def log1p(self, x: str) -> str: ...

__all__ = ["GELU", "Dropout", "Identity", "LeakyReLU", "Linear", "Module", "Parameter", "ReLU",
           "Sequential", "SiLU", "Sigmoid", "Softplus", "Tanh"]


class Module:
    training = True
    # Declared for the type checker only: each layer defines its own.
    forward: Callable[[npt.ArrayLike], FloatArray]

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> Self:
        self.training = bool(mode)
        return self

    def eval(self) -> Self:
        return self.train(False)

    def __call__(self, x: npt.ArrayLike) -> FloatArray:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        """Adds this layer's ONNX nodes computing on tensor `x` to the graph builder `g`
        (fastmlp.onnx.GraphBuilder); returns the name of the output tensor."""
        raise NotImplementedError(f"{type(self).__name__} has no ONNX form")


class Linear(Module):
    """y = x @ weight + bias, weight of shape (in_features, out_features)."""

    _INITS = ("default", "kaiming_uniform", "kaiming_normal", "xavier_uniform",
              "xavier_normal", "zeros")

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: npt.DTypeLike = "float32", init: str = "default") -> None:
        """init: "default" is torch.nn.Linear's; the others set the bias to zero."""
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
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "init": self.init}


class _Activation(Module):
    _kind = "identity"

    def config(self) -> Config:
        return {}

    def _params(self) -> tuple[float, float]:
        return 0.0, 0.0

    def _spec(self) -> _core.LayerSpec:
        return _core.LayerSpec(_core.LayerKind.activation, act=F.act_spec(self._kind, *self._params()))

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        return F.activation(x, self._kind, *self._params())


class Identity(_Activation):
    _kind = "identity"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Identity", [x])


class ReLU(_Activation):
    _kind = "relu"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Relu", [x])


class Tanh(_Activation):
    _kind = "tanh"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Tanh", [x])


class Sigmoid(_Activation):
    _kind = "sigmoid"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Sigmoid", [x])


class SiLU(_Activation):
    _kind = "silu"

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return g.op("Mul", [x, g.op("Sigmoid", [x])])


class LeakyReLU(_Activation):
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
    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def _spec(self) -> _core.LayerSpec:
        return _core.LayerSpec(_core.LayerKind.dropout, p=self.p)

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        raise RuntimeError("Dropout runs inside a Sequential, which owns its random masks")

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str:
        return x  # the identity in inference

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def config(self) -> Config:
        return {"p": self.p}


class Layer(Protocol):
    """What Sequential takes: a fastmlp layer (Linear, an activation, Dropout)."""

    def _spec(self) -> _core.LayerSpec: ...

    def config(self) -> Config: ...

    def named_parameters(self) -> list[tuple[str, Parameter]]: ...

    def train(self, mode: bool = True) -> object: ...

    def onnx_nodes(self, g: OnnxGraph, x: str) -> str: ...


class Sequential(Module):
    """Layers in order over one flat parameter buffer and one flat gradient buffer."""

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
        self._flat = np.zeros(total, self.dtype)
        self._flat_grad = np.zeros(total, self.dtype)
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
        # Dropout masks come from the core's PRNG: seeded like the weights, else fresh.
        self._impl.dropout_seed = _checks.core_seed(seed)
        self._default_opt: Optimizer | None = None
        self._checked_opt: Optimizer | None = None  # the last optimizer that passed _optimizer()
        self._has_forward = False

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
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Checks every key, shape and value first; changes nothing unless all are right."""
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        new = {k: _checks.like(state[k], f"state_dict[{k!r}]", p.data, k)
               for k, p in params.items()}
        for k, p in params.items():
            p.data[...] = new[k]

    # --- compute ----------------------------------------------------------------------
    def predict(self, x: XLike) -> FloatArray:
        """Inference: same numbers, bit for bit, as forward(); caches nothing. A C-ordered
        matrix of the model's dtype is read in place; anything else is checked and
        converted once (the core calls _checks.as_input). scipy.sparse x (CSR read natively;
        CSC and other formats converted to CSR once) needs a Linear as the first layer."""
        return self._impl.predict(x)

    __call__ = predict

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """Training forward: keeps what backward() needs."""
        if _checks.is_sparse(x):
            raise TypeError("forward() takes dense x; predict, train_step, fit and fit_lbfgs "
                            "take scipy.sparse x")
        out = self._impl.forward(_checks.as_matrix(x, "x", self.dtype, self.in_features))
        self._has_forward = True
        return out

    def backward(self, grad: npt.ArrayLike) -> FloatArray:
        """Accumulates dloss/dparam into each .grad; returns dloss/dx."""
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
                   sample_weight: npt.ArrayLike | None = None, weight_l2: float = 0.0) -> float:
        """zero_grad, forward, loss, backward and optimizer step in one native call;
        returns the loss before the update.

        weight_l2: an L2 penalty on the Linear weights (not the biases), added to the
        summed loss before the mean divides it, as scikit-learn's alpha: the loss becomes
        mean + weight_l2 / 2 * sum(W**2) / (samples, or their weights, times the values
        per sample); the returned loss includes it. x may be scipy.sparse, as predict's."""
        spec, labels = resolve_loss(loss)
        xa, ya = _checks.training_data(x, y, "x", "y", self.in_features, self.out_features,
                                       self.dtype, labels, finite=False)
        w = _checks.sample_weights(sample_weight, xa.shape[0], self.dtype)
        native = self._optimizer(optimizer).native
        self._has_forward = True
        y_arg, labels_arg = (None, ya) if labels else (ya, None)
        clip = float(clip_grad_norm)
        l2 = _checks.non_negative(weight_l2, "weight_l2")
        x_arg = training.core_input(xa, "x")
        # Each core Net takes the optimizer of its own dtype, as _optimizer() checked.
        if isinstance(self._impl, _core.Net_f32):
            assert isinstance(native, _core.Optimizer_f32)
            return self._impl.train_step(x_arg, y_arg, labels_arg, w, spec, native, clip, l2)
        assert isinstance(native, _core.Optimizer_f64)
        return self._impl.train_step(x_arg, y_arg, labels_arg, w, spec, native, clip, l2)

    def fit(self, x: XLike, y: npt.ArrayLike, loss: LossLike = "mse",
            optimizer: Optimizer | None = None, epochs: int = 200, batch_size: int | None = None,
            shuffle: bool = True, seed: int | None = None, log_every: int = 0,
            callback: training.Callback | None = None,
            validation_data: training.ValidationData | None = None,
            **extras: Unpack[training.FitExtras]) -> training.History:
        """Runs the whole training loop natively with the GIL released; returns a History.
        x and validation_data's x may be scipy.sparse, as predict's.

        extras: validation_split, sample_weight, scheduler, patience, min_delta,
        restore_best_weights, metrics, clip_grad_norm, weight_l2 (as train_step's),
        progress (True: a tqdm bar, or log lines on stderr without tqdm; see
        fastmlp.training.fit)."""
        return training.fit(self, self._impl, self._optimizer(optimizer), x, y, loss, epochs,
                            batch_size, shuffle, seed, log_every, callback, validation_data,
                            **extras)

    def fit_lbfgs(self, x: XLike, y: npt.ArrayLike, loss: LossLike = "mse",
                  max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-5,
                  weight_l2: float = 0.0, sample_weight: npt.ArrayLike | None = None,
                  callback: training.LbfgsCallback | None = None) -> training.LbfgsResult:
        """Full-batch L-BFGS, natively with the GIL released (scipy's L-BFGS-B rules).

        Minimises train_step's objective (the mean loss plus the weight_l2 penalty) over
        all of (x, y). Stops after max_iter iterations, or once max_fun evaluations are
        passed, or when every gradient entry is at most tol in size, or when an iteration
        lowers the objective by at most 2.2e-9 relative. callback(iteration, objective)
        runs after each iteration; returning False stops. Returns the run's LbfgsResult.
        x may be scipy.sparse, as predict's."""
        return training.fit_lbfgs(self, self._impl, x, y, loss, max_iter, max_fun, tol,
                                  weight_l2, sample_weight, callback)


# Every layer class by name: the names (and constructor arguments) are torch.nn's, which
# saving and interop rely on.
LAYER_TYPES: Dict[str, "type[Layer]"] = {cls.__name__: cls for cls in (
    Linear, ReLU, LeakyReLU, Tanh, Sigmoid, GELU, SiLU, Softplus, Identity, Dropout)}
