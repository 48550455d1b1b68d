"""Classification: numerically stable losses and softmax for huge logits, and a real-data
run on scikit-learn's bundled digits."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params as _flat



# Stable NumPy references (float64), written independently of the library.
def _log_softmax(z):
    z = np.asarray(z, np.float64)
    m = z.max(axis=1, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def _ce(z, labels):
    lp = _log_softmax(z)
    n, d = lp.shape
    loss = -lp[np.arange(n), labels].mean()
    grad = np.exp(lp)
    grad[np.arange(n), labels] -= 1.0
    return loss, grad / n


def _bce(z, y):
    z = np.asarray(z, np.float64)
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    sig = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                   np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))
    return loss.mean(), (sig - y) / z.size


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_cross_entropy_large_logits(dtype, scale):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(50, 7)) * scale).astype(dtype)
    z[0] = scale * np.array([1, -1, 0.5, 0, 0, 0, 0])  # the label's logit is the max
    z[1] = scale * np.array([1, -1, 0.5, 0, 0, 0, 0])  # the label's logit is far below
    labels = rng.integers(0, 7, 50)
    labels[0], labels[1] = 0, 1
    loss_fn = fm.CrossEntropyLoss()
    got = loss_fn(z, labels)
    g = loss_fn.backward()
    want, gwant = _ce(z, labels)
    assert np.isfinite(got) and np.all(np.isfinite(g))
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert got == pytest.approx(want, rel=rtol)
    assert g.shape == z.shape
    np.testing.assert_allclose(g, gwant, rtol=rtol, atol=rtol / z.shape[0])
    # sum reduction
    s = fm.CrossEntropyLoss(reduction="sum")
    assert s(z, labels) == pytest.approx(want * 50, rel=rtol)
    np.testing.assert_allclose(s.backward(), gwant * 50, rtol=rtol, atol=rtol)


def test_cross_entropy_huge_logits_in_training():
    """A model whose logits are ~1e4: train_step gives a finite loss equal to the reference
    and a finite update."""
    net = fm.Sequential(fm.Linear(4, 3, dtype="float64"), dtype="float64", seed=0)
    net[0].weight.data = np.array([[1e4, -1e4, 0], [0, 1e4, -1e4], [5e3, 0, 0], [0, 0, 3e3]])
    x = np.random.default_rng(1).normal(size=(16, 4))
    labels = np.random.default_rng(2).integers(0, 3, 16)
    want, gz = _ce(net.predict(x), labels)
    w0 = net[0].weight.data.copy()
    got = net.train_step(x, labels, loss="cross_entropy",
                         optimizer=fm.optim.SGD(net.parameters(), lr=1.0))
    assert got == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(net[0].weight.grad, x.T @ gz, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[0].weight.data, w0 - x.T @ gz, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_and_log_softmax_stable(dtype):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(20, 5)) * 1e4).astype(dtype)
    z[0] = [1e4, 1e4, -1e4, 0, 1e4 - 1]
    F = fm.functional
    ls = F.log_softmax(z)
    sm = F.softmax(z)
    assert np.all(np.isfinite(ls)) and np.all(np.isfinite(sm))
    ref = _log_softmax(z)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(ls, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(sm, np.exp(ref), rtol=tol, atol=tol)
    np.testing.assert_allclose(sm.sum(axis=1), 1.0, rtol=tol * 10)
    assert sm[0, 0] == pytest.approx(sm[0, 1]) and sm[0, 2] == 0
    # axis=0 is the same computation on the transpose
    np.testing.assert_allclose(F.log_softmax(z.T, axis=0), ref.T, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_stable(dtype):
    z = np.array([[1e4, -1e4, 1e4, -1e4, 0.0, 30.0, -30.0, 1e-3]], dtype).T
    y = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5]], dtype).T
    loss_fn = fm.BCEWithLogitsLoss()
    got = loss_fn(z, y)
    g = loss_fn.backward()
    want, gwant = _bce(z, y)
    assert np.isfinite(got) and np.all(np.isfinite(g))
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert got == pytest.approx(want, rel=rtol)
    np.testing.assert_allclose(g, gwant, rtol=rtol, atol=rtol / z.size)
    # the confident right answers cost nothing, the confident wrong ones cost |z|
    per = fm.BCEWithLogitsLoss(reduction="sum")
    assert per(z[:2], y[:2]) == 0.0
    assert per(z[2:4], y[2:4]) == pytest.approx(2e4, rel=1e-12)


def test_digits_mlp_accuracy():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    test, train = perm[:360], perm[360:]
    threads = fm.get_num_threads()
    fm.set_num_threads(1)
    try:
        net = fm.Sequential(fm.Linear(64, 128), fm.ReLU(), fm.Linear(128, 10), seed=0)
        opt = fm.optim.Adam(net.parameters(), lr=1e-3)
        python_calls = []  # Python functions entered during fit, whatever the machine's speed
        sys.setprofile(lambda frame, event, arg: python_calls.append(1) if event == "call"
                       else None)
        try:
            hist = net.fit(x[train], y[train], loss=fm.CrossEntropyLoss(), optimizer=opt,
                           epochs=30, batch_size=32, seed=0)
        finally:
            sys.setprofile(None)
        # the same run with validation metrics recorded during fit
        net2 = fm.Sequential(fm.Linear(64, 128), fm.ReLU(), fm.Linear(128, 10), seed=0)
        h2 = net2.fit(x[train], y[train], loss="cross_entropy",
                      optimizer=fm.optim.Adam(net2.parameters(), lr=1e-3), epochs=30,
                      batch_size=32, seed=0, validation_data=(x[test], y[test]),
                      metrics=["accuracy"])
    finally:
        fm.set_num_threads(threads)
    assert hist.loss[-1] < hist.loss[0] / 5
    acc = fm.metrics.accuracy(y[test], net.predict(x[test]))
    assert acc >= 0.95, acc
    # the 1350 steps ran in the native loop, not one Python call each
    assert opt.step_count == 30 * -(-len(train) // 32) == 1350
    assert len(python_calls) < opt.step_count / 10, len(python_calls)
    np.testing.assert_array_equal(h2.loss, hist.loss)
    np.testing.assert_array_equal(_flat(net2), _flat(net))
    assert h2.val_metrics["accuracy"][-1] == acc
    assert h2.val_metrics["accuracy"].shape == (30,)
