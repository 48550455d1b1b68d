"""The oracle: plain NumPy forward, backward, losses and optimizers.

Written for clarity, not speed, and independent of fastmlp's code. Every function
computes in the dtype of its inputs (float64 for tight checks, float32 for loose
ones). Formulas follow PyTorch (torch.nn layers and losses, torch.optim update
rules), with the weight stored as (in_features, out_features): y = x @ W + b.

Layers for mlp_forward / mlp_backward are tuples:
    ("linear", W, b)            b may be None
    ("act", kind, params)       kind in ACTIVATIONS, params a dict (may be empty)
"""
from __future__ import annotations

import math

import numpy as np

# ----------------------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------------------


def linear(x, W, b=None):
    """x @ W + b."""
    y = x @ W
    if b is not None:
        y = y + b
    return y


def linear_backward(x, W, g):
    """(dL/dx, dL/dW, dL/db) of y = x @ W + b given g = dL/dy."""
    gx = g @ W.T
    gW = x.T @ g
    gb = g.sum(axis=0)
    return gx, gW, gb


# ----------------------------------------------------------------------------------------
# Activations: forward f(x) and derivative f'(x)
# ----------------------------------------------------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    x = np.asarray(x)
    return np.asarray(_erf(x.astype(np.float64)), np.float64).astype(x.dtype)  # 0-d too


def sigmoid(x):
    x = np.asarray(x)
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):
        return one / (one + np.exp(-x))


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def act_forward(kind, x, slope=0.01, beta=1.0, threshold=20.0):
    x = np.asarray(x)
    t = x.dtype.type
    if kind == "identity":
        return x.copy()
    if kind == "relu":
        return np.where(x > 0, x, t(0))
    if kind == "leaky_relu":
        return np.where(x > 0, x, x * t(slope))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return sigmoid(x)
    if kind == "gelu":  # exact: x * Phi(x)
        return t(0.5) * x * (t(1) + erf(x * t(INV_SQRT_2)))
    if kind == "gelu_tanh":
        inner = t(SQRT_2_OVER_PI) * (x + t(0.044715) * x ** 3)
        return t(0.5) * x * (t(1) + np.tanh(inner))
    if kind == "silu":
        return x * sigmoid(x)
    if kind == "softplus":  # torch: x where beta * x > threshold, else log(1 + exp(beta x)) / beta
        bx = t(beta) * x
        with np.errstate(over="ignore"):
            soft = np.log1p(np.exp(bx)) / t(beta)
        return np.where(bx > t(threshold), x, soft)
    raise ValueError(f"unknown activation {kind!r}")


def act_derivative(kind, x, slope=0.01, beta=1.0, threshold=20.0):
    """f'(x), elementwise (the subgradient at 0 is 0 for relu, as torch)."""
    x = np.asarray(x)
    t = x.dtype.type
    if kind == "identity":
        return np.ones_like(x)
    if kind == "relu":
        return np.where(x > 0, t(1), t(0))
    if kind == "leaky_relu":
        return np.where(x > 0, t(1), t(slope))
    if kind == "tanh":
        return t(1) - np.tanh(x) ** 2
    if kind == "sigmoid":
        s = sigmoid(x)
        return s * (t(1) - s)
    if kind == "gelu":  # Phi(x) + x * phi(x)
        cdf = t(0.5) * (t(1) + erf(x * t(INV_SQRT_2)))
        pdf = np.exp(t(-0.5) * x * x) * t(INV_SQRT_2PI)
        return cdf + x * pdf
    if kind == "gelu_tanh":
        c = t(0.044715)
        inner = t(SQRT_2_OVER_PI) * (x + c * x ** 3)
        th = np.tanh(inner)
        dinner = t(SQRT_2_OVER_PI) * (t(1) + t(3) * c * x * x)
        return t(0.5) * (t(1) + th) + t(0.5) * x * (t(1) - th * th) * dinner
    if kind == "silu":
        s = sigmoid(x)
        return s * (t(1) + x * (t(1) - s))
    if kind == "softplus":
        bx = t(beta) * x
        return np.where(bx > t(threshold), t(1), sigmoid(bx))
    raise ValueError(f"unknown activation {kind!r}")


def act_backward(kind, x, g, **params):
    """dL/dx = g * f'(x)."""
    return g * act_derivative(kind, x, **params)


ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "gelu_tanh",
               "silu", "softplus")

# ----------------------------------------------------------------------------------------
# Losses: (value, dL/dpred); reduction "mean" (over every element, or every sample for
# cross entropy) or "sum". Values are Python floats computed in float64.
# ----------------------------------------------------------------------------------------


def _reduce(elementwise, grad, reduction, count):
    if reduction == "mean":
        return float(np.sum(elementwise, dtype=np.float64) / count), grad / grad.dtype.type(count)
    if reduction == "sum":
        return float(np.sum(elementwise, dtype=np.float64)), grad
    raise ValueError(reduction)


def mse(pred, y, reduction="mean"):
    d = pred - y
    return _reduce(d.astype(np.float64) ** 2, 2 * d, reduction, d.size)


def l1(pred, y, reduction="mean"):
    d = pred - y
    return _reduce(np.abs(d.astype(np.float64)), np.sign(d), reduction, d.size)


def huber(pred, y, reduction="mean", delta=1.0):
    d = pred - y
    d64 = d.astype(np.float64)
    a = np.abs(d64)
    value = np.where(a < delta, 0.5 * d64 * d64, delta * (a - 0.5 * delta))
    grad = np.where(np.abs(d) < delta, d, d.dtype.type(delta) * np.sign(d))
    return _reduce(value, grad, reduction, d.size)


def bce_with_logits(logits, y, reduction="mean"):
    z = logits.astype(np.float64)
    t = y.astype(np.float64)
    # log(1 + exp(-|z|)) form: the same number as -[t log s(z) + (1-t) log(1-s(z))]
    value = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    grad = sigmoid(logits) - y
    return _reduce(value, grad, reduction, z.size)


def poisson_nll(log_rate, y, reduction="mean"):
    """torch's PoissonNLLLoss(log_input=True, full=False)."""
    z = log_rate.astype(np.float64)
    value = np.exp(z) - y.astype(np.float64) * z
    grad = np.exp(log_rate) - y
    return _reduce(value, grad, reduction, z.size)


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def cross_entropy(logits, labels, reduction="mean"):
    """Integer labels of shape (n,); mean over samples."""
    labels = np.asarray(labels)
    assert labels.dtype.kind in "iu"
    n = logits.shape[0]
    lsm = log_softmax(logits.astype(np.float64))
    value = -lsm[np.arange(n), labels]
    onehot = np.zeros_like(logits)
    onehot[np.arange(n), labels] = 1
    grad = np.exp(lsm).astype(logits.dtype) - onehot
    return _reduce(value, grad, reduction, n)


LOSSES = {"mse": mse, "l1": l1, "huber": huber, "bce_with_logits": bce_with_logits,
          "cross_entropy": cross_entropy, "poisson_nll": poisson_nll}


def loss(name, pred, y, reduction="mean", **kw):
    return LOSSES[name](pred, y, reduction, **kw)


# ----------------------------------------------------------------------------------------
# Optimizers: torch.optim update rules, updating a list of arrays in place.
# ----------------------------------------------------------------------------------------


class SGD:
    def __init__(self, lr=1e-2, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.buf = {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g.copy()
            if self.weight_decay != 0:
                d = d + self.weight_decay * p
            if self.momentum != 0:
                if i not in self.buf:
                    self.buf[i] = d.copy()
                else:
                    self.buf[i] = self.momentum * self.buf[i] + (1 - self.dampening) * d
                if self.nesterov:
                    d = d + self.momentum * self.buf[i]
                else:
                    d = self.buf[i]
            p -= self.lr * d


class Adam:
    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.amsgrad = weight_decay, amsgrad
        self.t = 0
        self.m, self.v, self.vmax = {}, {}, {}

    def step(self, params, grads):
        self.t += 1
        t = self.t
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g.copy()
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            elif self.weight_decay != 0:
                g = g + self.weight_decay * p
            m = self.m.setdefault(i, np.zeros_like(p))
            v = self.v.setdefault(i, np.zeros_like(p))
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            bc1 = 1 - self.beta1 ** t
            bc2 = 1 - self.beta2 ** t
            if self.amsgrad:
                vmax = self.vmax.setdefault(i, np.zeros_like(p))
                vmax[...] = np.maximum(vmax, v)
                vhat = vmax
            else:
                vhat = v
            denom = np.sqrt(vhat) / math.sqrt(bc2) + self.eps
            p -= (self.lr / bc1) * m / denom


class AdamW(Adam):
    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


class RMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum, self.centered = weight_decay, momentum, centered
        self.sq, self.buf, self.gavg = {}, {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g.copy()
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            sq = self.sq.setdefault(i, np.zeros_like(p))
            sq[...] = self.alpha * sq + (1 - self.alpha) * g * g
            if self.centered:
                ga = self.gavg.setdefault(i, np.zeros_like(p))
                ga[...] = self.alpha * ga + (1 - self.alpha) * g
                avg = np.sqrt(sq - ga * ga) + self.eps
            else:
                avg = np.sqrt(sq) + self.eps
            if self.momentum > 0:
                buf = self.buf.setdefault(i, np.zeros_like(p))
                buf[...] = self.momentum * buf + g / avg
                p -= self.lr * buf
            else:
                p -= self.lr * g / avg


# ----------------------------------------------------------------------------------------
# MLP over a list of layers
# ----------------------------------------------------------------------------------------


def mlp_forward(layers, x):
    """Output and the per-layer inputs that backward needs."""
    inputs = []
    h = x
    for layer in layers:
        inputs.append(h)
        if layer[0] == "linear":
            h = linear(h, layer[1], layer[2])
        else:
            h = act_forward(layer[1], h, **layer[2])
    return h, inputs


def mlp_backward(layers, inputs, g):
    """(dL/dx, [dW0, db0, dW1, db1, ...]) in layer order (no db for a bias-free layer)."""
    grads = []
    for layer, h in zip(reversed(layers), reversed(inputs)):
        if layer[0] == "linear":
            g, gW, gb = linear_backward(h, layer[1], g)
            grads.append([gW] + ([gb] if layer[2] is not None else []))
        else:
            g = act_backward(layer[1], h, g, **layer[2])
    flat = [a for pair in reversed(grads) for a in pair]
    return g, flat


def mlp_params(layers):
    """The parameter arrays in layer order (W then b): views the optimizers update."""
    out = []
    for layer in layers:
        if layer[0] == "linear":
            out.append(layer[1])
            if layer[2] is not None:
                out.append(layer[2])
    return out


def train_step(layers, x, y, loss_name, optimizer, reduction="mean", **loss_kw):
    """Forward, loss, backward, update; returns the loss before the update."""
    out, inputs = mlp_forward(layers, x)
    value, g = loss(loss_name, out, y, reduction, **loss_kw)
    _, grads = mlp_backward(layers, inputs, g)
    optimizer.step(mlp_params(layers), grads)
    return value
