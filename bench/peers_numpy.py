"""NumPy contenders: the seed's from-scratch math, with Adam, written as a
careful user would (in-place updates, float32 throughout)."""
import math

import numpy as np

from timing import Contender
from workloads import LR

NAME = "numpy"
VERSION = np.__version__
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def configure(threads):
    pass  # BLAS threads are limited with threadpoolctl by the worker


class _MLP:
    """ReLU MLP with hand-written backward and PyTorch's Adam update."""

    def __init__(self, params, loss, lr=LR):
        self.p = [a.copy() for pair in params for a in pair]  # W1, b1, W2, ...
        self.m = [np.zeros_like(a) for a in self.p]
        self.v = [np.zeros_like(a) for a in self.p]
        self.t = 0
        self.loss = loss
        self.lr = lr

    def _loss_grad(self, out, y):
        if self.loss == "mse":
            return (out - y) * np.float32(2.0 / out.size)
        prob = np.exp(out - out.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        prob[np.arange(len(y)), y] -= 1.0
        return prob * np.float32(1.0 / len(y))

    def step(self, x, y):
        layers = len(self.p) // 2
        inputs, pre = [], []
        h = x
        for i in range(layers):
            inputs.append(h)
            z = h @ self.p[2 * i]
            z += self.p[2 * i + 1]
            if i < layers - 1:
                pre.append(z)
                h = np.maximum(z, 0)
        g = self._loss_grad(z, y)
        grads = [None] * len(self.p)
        for i in reversed(range(layers)):
            grads[2 * i] = inputs[i].T @ g
            grads[2 * i + 1] = g.sum(axis=0)
            if i:
                g = g @ self.p[2 * i].T
                g *= pre[i - 1] > 0
        self._adam(grads)

    def _adam(self, grads):
        self.t += 1
        step_size = self.lr / (1 - BETA1 ** self.t)
        root_bc2 = math.sqrt(1 - BETA2 ** self.t)
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m *= BETA1
            m += (1 - BETA1) * g
            v *= BETA2
            v += (1 - BETA2) * g * g
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += EPS
            p -= step_size * m / denom


def train(x, y, params, loss, flops, lr=LR):
    mlp = _MLP(params, loss, lr)

    def steps(n):
        for _ in range(n):
            mlp.step(x, y)

    return [Contender("NumPy hand-written Adam", steps, flops)]


def predict(x1, params, flops):
    (w1, b1), (w2, b2) = params  # the seed's two-layer expression, verbatim

    def run(n):
        for _ in range(n):
            np.maximum(x1 @ w1 + b1, 0) @ w2 + b2

    return [Contender("NumPy expression", run, flops)]


def gemm(a, b, transpose, flops):
    a_op = a.T if transpose == "a" else a
    b_op = b.T if transpose == "b" else b

    def run(n):
        for _ in range(n):
            a_op @ b_op

    return [Contender("NumPy", run, flops)]
