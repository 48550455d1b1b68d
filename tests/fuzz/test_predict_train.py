"""Fuzz predict, train_step and fit of Sequential: any dtype, shape, layout and values give
the documented exception or the numpy_ref result."""
from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

import fastmlp as fm
import numpy_ref as ref
from helpers import ref_layers

from .checks import as_model, close, moderate, outcome
from .strategies import REAL_DTYPES, REFUSED_DTYPES, arrays, nets, sizes

ANY_DTYPE = REAL_DTYPES + REFUSED_DTYPES


def linear_only(net):
    return all(isinstance(l, fm.Linear) for l in net)


@given(net=nets(), n=sizes(), cols_off=st.sampled_from((0, 0, 0, 1, -1)),
       ndim=st.sampled_from((2, 2, 2, 1, 3)), data=st.data())
def test_predict(net, n, cols_off, ndim, data):
    cols = max(0, net.in_features + cols_off)
    shape = {1: (cols,), 2: (n, cols), 3: (n, cols, 1)}[ndim]
    x, xv = data.draw(arrays(shape, ANY_DTYPE))
    out = outcome(lambda: net.predict(x), ["x"])
    if xv is None:
        assert isinstance(out, TypeError)
        return
    if ndim != 2 or cols != net.in_features:
        assert isinstance(out, ValueError)
        return
    assert not isinstance(out, Exception), out
    assert out.shape == (n, net.out_features) and out.dtype == net.dtype
    xm = as_model(xv, net.dtype)  # what the model reads
    with np.errstate(all="ignore"):  # the reference meets Inf and NaN too
        expected, _ = ref.mlp_forward(ref_layers(net), xm)
    rows = np.array([moderate(r) for r in xm], bool).reshape(n)
    close(out[rows], expected[rows], net.dtype)
    if linear_only(net):  # NaN propagates as in NumPy's x @ W + b
        nan_rows = np.isnan(xm).any(axis=1)
        assert np.isnan(out[nan_rows]).all()


LOSSES = ("mse", "l1", "huber", "bce_with_logits", "cross_entropy", "poisson_nll")


def bound(loss):
    """How large inputs may be for the loss and its gradient to stay finite in float32:
    poisson_nll takes exp of the output."""
    return 10.0 if loss == "poisson_nll" else 1e3


@st.composite
def training_batch(draw, net, loss, any_dtype=True):
    """(x, y as passed, x and y values or None when refused) for a net and loss; shapes
    mostly right, sometimes not."""
    n = draw(sizes())
    x, xv = draw(arrays((n, net.in_features), ANY_DTYPE if any_dtype else REAL_DTYPES))
    n_y = n if draw(st.integers(0, 9)) else draw(sizes())
    if loss == "cross_entropy":
        labels = draw(st.lists(st.integers(-1 if draw(st.booleans()) else 0,
                                           net.out_features - (0 if draw(st.booleans()) else 1)),
                               min_size=n_y, max_size=n_y))
        dtype = draw(st.sampled_from(("int64", "int32", "uint8", "float64")))
        y = (np.abs(labels) if dtype == "uint8" else np.array(labels)).astype(dtype)
        return x, y, xv, y
    shape = (n_y, net.out_features) if draw(st.integers(0, 5)) else (n_y,)
    y, yv = draw(arrays(shape, REAL_DTYPES))
    if loss in ("bce_with_logits", "poisson_nll") and yv is not None:
        y, yv = np.abs(np.tanh(yv)), np.abs(np.tanh(yv))  # targets in [0, 1], rates >= 0
    return x, y, xv, yv


def expected_errors(net, loss, xv, yv):
    """The exception classes the API documents for what is wrong with this input (any one
    may come first); empty when it is valid."""
    if xv is None:
        return (TypeError,)
    n, errors = xv.shape[0], set()
    if n == 0:
        errors.add(ValueError)
    if yv.ndim == 0 or yv.shape[0] != n:
        errors.add(ValueError)
    if loss == "cross_entropy":
        if yv.dtype.kind not in "iu":
            errors.add(TypeError)
        elif yv.shape != (n,) or (yv.size and (yv.min() < 0 or yv.max() >= net.out_features)):
            errors.add(ValueError)
    elif yv.shape != (n, net.out_features) and not (yv.shape == (n,) and net.out_features == 1):
        errors.add(ValueError)
    if not np.all(np.isfinite(as_model(xv, net.dtype))):
        errors.add(ValueError)
    if loss != "cross_entropy" and not np.all(np.isfinite(as_model(yv, net.dtype))):
        errors.add(ValueError)
    return tuple(errors)


def ref_step(net, loss, x, y, lr):
    """The loss and weights after one SGD step, by numpy_ref, in float64."""
    layers = ref_layers(net)
    yr = y.astype(np.int64) if loss == "cross_entropy" else y.reshape(x.shape[0], -1)
    value = ref.train_step(layers, x, yr, loss, ref.SGD(lr=lr))
    return value, np.concatenate([a.ravel() for a in ref.mlp_params(layers)])


@given(net=nets(), loss=st.sampled_from(LOSSES), lr=st.sampled_from((0.0, 1e-3, 0.1)),
       data=st.data())
def test_train_step(net, loss, lr, data):
    x, y, xv, yv = data.draw(training_batch(net, loss))
    before = net.flat_parameters().copy()
    opt = fm.optim.SGD(net.parameters(), lr=lr)
    out = outcome(lambda: net.train_step(x, y, loss=loss, optimizer=opt), ["x", "y", "loss"],
                  also=(FloatingPointError,))
    want = expected_errors(net, loss, xv, yv)
    if want:
        assert isinstance(out, want), (want, out)
        np.testing.assert_array_equal(net.flat_parameters(), before)  # nothing half-done
        return
    if isinstance(out, FloatingPointError):  # overflow in the model's dtype: documented
        assert not moderate(xv, yv, bound=bound(loss))
        return
    assert not isinstance(out, Exception), out
    xm = as_model(xv, net.dtype)
    ym = yv if loss == "cross_entropy" else as_model(yv, net.dtype)
    if moderate(xm, ym, bound=bound(loss)):
        net.flat_parameters()[...] = before
        value, weights = ref_step(net, loss, xm, ym, lr)
        close(out, value, net.dtype)
        net.train_step(x, y, loss=loss, optimizer=opt)
        close(net.flat_parameters(), weights, net.dtype)


@given(net=nets(), loss=st.sampled_from(LOSSES), epochs=st.integers(1, 3),
       batch=st.one_of(st.none(), st.integers(1, 12)), shuffle=st.booleans(), data=st.data())
def test_fit(net, loss, epochs, batch, shuffle, data):
    x, y, xv, yv = data.draw(training_batch(net, loss))
    before = net.flat_parameters().copy()
    opt = fm.optim.SGD(net.parameters(), lr=1e-3)
    out = outcome(lambda: net.fit(x, y, loss=loss, optimizer=opt, epochs=epochs,
                                  batch_size=batch, shuffle=shuffle, seed=0),
                  ["x", "y", "loss"], also=(FloatingPointError,))
    want = expected_errors(net, loss, xv, yv)
    if want:
        assert isinstance(out, want), (want, out)
        np.testing.assert_array_equal(net.flat_parameters(), before)
        return
    if isinstance(out, FloatingPointError):  # training diverged: documented
        assert np.isfinite(net.flat_parameters()).all()  # the last finite weights
        return
    assert not isinstance(out, Exception), out
    assert out.loss.shape == (epochs,)
    xm = as_model(xv, net.dtype)
    ym = yv if loss == "cross_entropy" else as_model(yv, net.dtype)
    if shuffle or not moderate(xm, ym, bound=10.0):  # where SGD stays well-conditioned
        return
    # Without shuffling, fit is train_step over consecutive batches: replay it in numpy_ref.
    after = net.flat_parameters().copy()
    net.flat_parameters()[...] = before
    layers = ref_layers(net)
    yr = ym.astype(np.int64) if loss == "cross_entropy" else ym.reshape(len(xm), -1)
    bs = len(xm) if batch is None else batch
    sgd = ref.SGD(lr=1e-3)
    for e in range(epochs):
        total = 0.0
        for s in range(0, len(xm), bs):
            total += ref.train_step(layers, xm[s:s + bs], yr[s:s + bs], loss, sgd) \
                * len(xm[s:s + bs])
        close(out.loss[e], total / len(xm), net.dtype, err_msg=f"epoch {e + 1}")
    close(after, np.concatenate([a.ravel() for a in ref.mlp_params(layers)]), net.dtype)
