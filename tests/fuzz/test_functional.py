"""Fuzz fastmlp.functional and the loss objects: any dtype, shape and layout gives the
documented exception or numpy_ref's result."""
from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

import fastmlp as fm
import numpy_ref as ref

from .checks import as_model, close, moderate, outcome
from .strategies import (MODEL_DTYPES, REAL_DTYPES, REFUSED_DTYPES, arrays, layout, sizes,
                         values)

F = fm.functional
ANY_DTYPE = REAL_DTYPES + REFUSED_DTYPES


def compute_dtype(*vals):
    """The dtype fm.functional computes in: float32 and float64 kept, the rest float64."""
    dt = np.result_type(*vals)
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float64)


def passed_dtype(a):
    return np.asarray(a).dtype


@given(n=sizes(), k=sizes(), m=sizes(), bias=st.booleans(), k_off=st.sampled_from((0, 0, 1)),
       data=st.data())
def test_linear(n, k, m, bias, k_off, data):
    x, xv = data.draw(arrays((n, k), ANY_DTYPE))
    w, wv = data.draw(arrays((k + k_off, m)))
    b, bv = data.draw(arrays((m,))) if bias else (None, None)
    out = outcome(lambda: F.linear(x, w, b), ["x", "w", "b"])
    if xv is None:
        assert isinstance(out, TypeError)
        return
    if k_off:
        assert isinstance(out, ValueError)
        return
    assert not isinstance(out, Exception), out
    operands = [np.asarray(x), np.asarray(w)] + ([] if b is None else [np.asarray(b)])
    dt = compute_dtype(*operands)
    assert out.dtype == dt and out.shape == (n, m)
    xm, wm = as_model(xv, dt), as_model(wv, dt)
    bm = None if b is None else as_model(bv, dt)
    if moderate(xm, wm, *([] if bm is None else [bm])):
        close(out, ref.linear(xm, wm, bm), dt)


@given(n=sizes(), k=sizes(), m=sizes(), g_off=st.sampled_from((0, 0, 0, 1)), data=st.data())
def test_linear_backward(n, k, m, g_off, data):
    x, xv = data.draw(arrays((n, k), ANY_DTYPE))
    w, wv = data.draw(arrays((k, m)))
    g, gv = data.draw(arrays((n + g_off, m)))
    out = outcome(lambda: F.linear_backward(x, w, g), ["x", "w", "grad_out"])
    if xv is None:
        assert isinstance(out, TypeError)
        return
    if g_off:
        assert isinstance(out, ValueError)
        return
    assert not isinstance(out, Exception), out
    dt = compute_dtype(np.asarray(x), np.asarray(w))
    xm, wm, gm = (as_model(v, dt) for v in (xv, wv, gv))
    if moderate(xm, wm, gm):
        for got, want in zip(out, ref.linear_backward(xm, wm, gm)):
            close(got, want, dt)


ACTS = {"identity": {}, "relu": {}, "leaky_relu": {"slope": 0.2}, "tanh": {}, "sigmoid": {},
        "gelu": {}, "gelu_tanh": {}, "silu": {}, "softplus": {"beta": 2.0, "threshold": 5.0}}


def act_args(kind):
    p = ACTS[kind]
    return {"leaky_relu": (0.2, 0.0), "softplus": (2.0, 5.0)}.get(kind, (0.0, 0.0)), p


@given(kind=st.sampled_from(sorted(ACTS)), shape=st.lists(sizes(), max_size=3),
       backward=st.booleans(), data=st.data())
def test_activation(kind, shape, backward, data):
    x, xv = data.draw(arrays(tuple(shape), ANY_DTYPE))
    (a, b), params = act_args(kind)
    g, gv = data.draw(arrays(tuple(shape), REAL_DTYPES, specials=False))
    if backward:
        out = outcome(lambda: F.activation_backward(x, g, kind, a, b), ["x", "grad_out"])
    else:
        out = outcome(lambda: F.activation(x, kind, a, b), ["x"])
    if xv is None:
        assert isinstance(out, TypeError)
        return
    assert not isinstance(out, Exception), out
    dt = compute_dtype(np.asarray(x))
    assert out.shape == tuple(shape) and out.dtype == dt
    xm = as_model(xv, dt)
    gm = as_model(gv, dt)
    if moderate(xm, bound=30.0):  # where the activations' float32 rounding stays small
        with np.errstate(all="ignore"):
            want = (ref.act_backward(kind, xm, gm, **params) if backward
                    else ref.act_forward(kind, xm, **params))
        close(out, want, dt)


@given(shape=st.lists(sizes(lo=1), min_size=1, max_size=3), axis=st.integers(-3, 2),
       data=st.data())
def test_log_softmax(shape, axis, data):
    x, xv = data.draw(arrays(tuple(shape), ANY_DTYPE))
    out = outcome(lambda: F.log_softmax(x, axis), ["x", "axis"], also=(np.exceptions.AxisError,))
    if xv is None:
        assert isinstance(out, TypeError)
        return
    if not -len(shape) <= axis < len(shape):
        assert isinstance(out, (ValueError, np.exceptions.AxisError))
        return
    assert not isinstance(out, Exception), out
    dt = compute_dtype(np.asarray(x))
    xm = np.moveaxis(as_model(xv, dt), axis, -1)
    if moderate(xm):
        want = np.moveaxis(ref.log_softmax(xm.reshape(-1, xm.shape[-1])).reshape(xm.shape), -1,
                           axis)
        close(out, want, dt)


REGRESSION = {"mse": fm.MSELoss, "l1": fm.L1Loss, "huber": fm.HuberLoss,
              "bce_with_logits": fm.BCEWithLogitsLoss, "poisson_nll": fm.PoissonNLLLoss}


@given(name=st.sampled_from(sorted(REGRESSION) + ["cross_entropy"]),
       reduction=st.sampled_from(("mean", "sum")), n=sizes(), k=sizes(lo=1, hi=5),
       pred_1d=st.booleans(), mismatch=st.sampled_from((0, 0, 0, 1)), call_first=st.booleans(),
       data=st.data())
def test_loss_objects(name, reduction, n, k, pred_1d, mismatch, call_first, data):
    loss = fm.CrossEntropyLoss(reduction) if name == "cross_entropy" \
        else REGRESSION[name](reduction)
    if not call_first:
        assert isinstance(outcome(loss.backward, ["backward"]), RuntimeError)
        return
    pshape = (n,) if pred_1d else (n, k)
    pred, pv = data.draw(arrays(pshape, ANY_DTYPE))
    if name == "cross_entropy":
        kk = 1 if pred_1d else k
        t = np.array(data.draw(st.lists(st.integers(0, kk - 1), min_size=n + mismatch,
                                        max_size=n + mismatch)), np.int64)
        tv = t
    else:
        t, tv = data.draw(arrays((n + mismatch,) + pshape[1:], REAL_DTYPES, specials=False))
    out = outcome(lambda: loss(pred, t), ["pred", "target"])
    if pv is None:
        assert isinstance(out, TypeError)
        return
    if mismatch or 0 in pshape:
        assert isinstance(out, ValueError)
        return
    assert not isinstance(out, Exception), out
    dt = compute_dtype(np.asarray(pred))
    pm = as_model(pv, dt).reshape(n, -1)
    tm = tv if name == "cross_entropy" else as_model(tv, dt).reshape(n, -1)
    if moderate(pm, bound=10.0):
        value, grad = ref.loss(name, pm, tm, reduction)
        close(out, value, dt)
        close(loss.backward(), grad.reshape(pshape), dt)


@given(dtype=st.sampled_from(MODEL_DTYPES + ("float16", "int64")),
       kind=st.sampled_from(("C", "F", "strided", "reversed", "readonly", "list")),
       shape=st.lists(sizes(), min_size=1, max_size=2), adam=st.booleans(), data=st.data())
def test_inplace_updates(dtype, kind, shape, adam, data):
    base = data.draw(values(tuple(shape), specials=False))
    w = layout(base.astype(dtype), kind)
    g = data.draw(values(tuple(shape), specials=False))
    before = np.array(w, dtype=np.float64, copy=True)
    if adam:
        m, v = np.zeros(shape, dtype), np.zeros(shape, dtype)
        out = outcome(lambda: F.adam_update_(w, g, m, v, step=1, lr=0.1), ["w", "m", "v"])
    else:
        out = outcome(lambda: F.sgd_update_(w, g, lr=0.1), ["w"])
    ok = isinstance(w, np.ndarray) and w.dtype == dtype and dtype in MODEL_DTYPES \
        and w.flags.writeable and w.flags.c_contiguous
    if not ok:
        assert isinstance(out, (TypeError, ValueError)), out
        np.testing.assert_array_equal(np.asarray(w, dtype=np.float64), before)  # untouched
        return
    assert out is None
    gm = as_model(g, dtype)
    if adam:
        p = [before.copy()]
        ref.Adam(lr=0.1).step(p, [gm])
        close(w, p[0], dtype)
    else:
        close(w, before - 0.1 * gm, dtype)
