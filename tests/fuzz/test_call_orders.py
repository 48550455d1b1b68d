"""Fuzz the order of calls on one model: forward, backward, train_step, predict, fit,
zero_grad, train/eval and load_state_dict in any order give the documented exception or
numpy_ref's result, and the gradients accumulate as documented."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import fastmlp as fm
import numpy_ref as ref
from helpers import flat_grad, ref_layers

from .checks import close, outcome
from .strategies import MODEL_DTYPES, nets

batches = st.integers(1, 6)


class OneModel(RuleBasedStateMachine):
    """A model and what numpy_ref says its gradient and last forward are."""

    @initialize(net=st.sampled_from(MODEL_DTYPES).flatmap(lambda dt: nets(dtype=dt)),
                seed=st.integers(0, 2**16))
    def build(self, net, seed):
        self.net, self.rng = net, np.random.default_rng(seed)
        self.opt = fm.optim.SGD(net.parameters(), lr=1e-3)
        self.grad = np.zeros(net.flat_parameters().size)  # what .grad must hold
        self.cached = None  # (x, weights) of the last forward
        self.batch = None  # the batch size backward expects, when known
        self.forwarded = False

    def x(self, n):
        return self.rng.normal(size=(n, self.net.in_features))

    def ref_grad(self, x, g):
        """(dL/dx, flat dL/dparams) of the net's current weights by numpy_ref."""
        layers = ref_layers(self.net)
        _, inputs = ref.mlp_forward(layers, x)
        gx, grads = ref.mlp_backward(layers, inputs, g)
        return gx, np.concatenate([a.ravel() for a in grads])

    @rule(n=batches)
    def forward(self, n):
        x = self.x(n)
        out = self.net.forward(x)
        close(out, ref.mlp_forward(ref_layers(self.net), x.astype(self.net.dtype))[0],
              self.net.dtype)
        self.cached = (x.astype(self.net.dtype), self.net.flat_parameters().copy())
        self.batch, self.forwarded = n, True

    @rule(wrong=st.sampled_from((0, 0, 1, -1)), flat=st.booleans())
    def backward(self, wrong, flat):
        n = (self.batch or 2) + wrong
        shape = (n,) if flat and self.net.out_features == 1 else (n, self.net.out_features)
        g = self.rng.normal(size=shape)
        out = outcome(lambda: self.net.backward(g), ["grad", "backward", "forward"])
        if not self.forwarded:
            assert isinstance(out, RuntimeError)
            return
        if wrong:
            assert isinstance(out, ValueError)
            return
        assert not isinstance(out, Exception), out
        assert out.shape == (n, self.net.in_features)
        if self.cached is not None and np.array_equal(self.cached[1], self.net.flat_parameters()):
            gx, gp = self.ref_grad(self.cached[0].astype(np.float64),
                                   g.reshape(n, -1).astype(self.net.dtype))
            close(out, gx, self.net.dtype)
            self.grad = self.grad + gp
            close(flat_grad(self.net), self.grad, self.net.dtype)
        else:  # the weights changed since the forward pass: no claim about the values
            self.grad = flat_grad(self.net).astype(np.float64)

    @rule()
    def zero_grad(self):
        self.net.zero_grad()
        self.grad[...] = 0

    @rule(n=batches)
    def train_step(self, n):
        x, y = self.x(n), self.rng.normal(size=(n, self.net.out_features))
        self.net.train_step(x, y, optimizer=self.opt)
        self.grad = flat_grad(self.net).astype(np.float64)
        # Its forward read x, which need not outlive the call: backward needs a new one.
        self.cached, self.batch, self.forwarded = None, None, False

    @rule(n=st.integers(0, 6))
    def predict(self, n):
        x = self.x(n)
        close(self.net.predict(x),
              ref.mlp_forward(ref_layers(self.net), x.astype(self.net.dtype))[0], self.net.dtype)

    @rule(n=batches, epochs=st.integers(1, 2), batch=st.one_of(st.none(), st.integers(1, 4)))
    def fit(self, n, epochs, batch):
        x, y = self.x(n), self.rng.normal(size=(n, self.net.out_features))
        hist = self.net.fit(x, y, optimizer=self.opt, epochs=epochs, batch_size=batch, seed=1)
        assert hist.loss.shape == (epochs,) and np.isfinite(hist.loss).all()
        self.grad = flat_grad(self.net).astype(np.float64)
        self.cached, self.batch, self.forwarded = None, None, False

    @rule(mode=st.booleans())
    def mode(self, mode):
        self.net.train(mode)
        assert self.net.training is mode

    @rule(scale=st.sampled_from((0.0, 0.5, 2.0)), drop=st.booleans())
    def load_state_dict(self, scale, drop):
        state = {k: v * scale for k, v in self.net.state_dict().items()}
        if drop:
            state.pop(next(iter(state)))
            assert isinstance(outcome(lambda: self.net.load_state_dict(state), ["state_dict"],
                                      also=(KeyError,)), KeyError)
            return
        self.net.load_state_dict(state)

    @invariant()
    def weights_finite(self):
        if hasattr(self, "net"):
            assert np.isfinite(self.net.flat_parameters()).all()


test_call_orders = OneModel.TestCase
