"""Sequential.fit / train_step / History against independent oracles.

Oracles used here:
- a Python loop of net.train_step over the same batches (fit must equal it bit for bit);
- a private float64 NumPy MLP with PyTorch's MSE / SGD(momentum) / Adam rules;
- NumPy arithmetic on net.predict outputs for losses.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp as fm
from helpers import train_step_loop

# --------------------------------------------------------------------------------------
# Private NumPy reference (float64), independent of fastmlp's code.
# Layers: ("linear", W, b) with y = x @ W + b; ("tanh",) ; ("relu",)


def _ref_forward(params, kinds, x):
    """params: list of (W, b) per Linear; kinds: layer kinds in order. Returns cache."""
    acts = [x]
    pre = []
    li = 0
    h = x
    for k in kinds:
        if k == "linear":
            W, b = params[li]
            li += 1
            h = h @ W + b
        elif k == "tanh":
            pre.append(h)
            h = np.tanh(h)
        elif k == "relu":
            pre.append(h)
            h = np.maximum(h, 0.0)
        acts.append(h)
    return acts


def _ref_mse(pred, y):
    return float(np.mean((pred - y) ** 2))


def _ref_grads(params, kinds, x, y):
    """Loss and gradients of mean-reduced MSE w.r.t. every (W, b)."""
    acts = _ref_forward(params, kinds, x)
    pred = acts[-1]
    loss = _ref_mse(pred, y)
    g = 2.0 * (pred - y) / pred.size
    grads = [None] * len(params)
    li = len(params) - 1
    for i in range(len(kinds) - 1, -1, -1):
        k = kinds[i]
        inp, out = acts[i], acts[i + 1]
        if k == "linear":
            W, _ = params[li]
            grads[li] = (inp.T @ g, g.sum(axis=0))
            g = g @ W.T
            li -= 1
        elif k == "tanh":
            g = g * (1.0 - out ** 2)
        elif k == "relu":
            g = g * (inp > 0)
    return loss, grads


class _RefSGD:
    def __init__(self, lr, momentum=0.0):
        self.lr, self.mom, self.buf = lr, momentum, None

    def step(self, params, grads):
        flat_g = [g for pair in grads for g in pair]
        if self.mom:
            if self.buf is None:
                self.buf = [g.copy() for g in flat_g]
            else:
                self.buf = [self.mom * b + g for b, g in zip(self.buf, flat_g)]
            d = self.buf
        else:
            d = flat_g
        flat_p = [p for pair in params for p in pair]
        new = [p - self.lr * di for p, di in zip(flat_p, d)]
        return [(new[2 * i], new[2 * i + 1]) for i in range(len(params))]


class _RefAdam:
    def __init__(self, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = self.v = None
        self.t = 0

    def step(self, params, grads):
        flat_g = [g for pair in grads for g in pair]
        flat_p = [p for pair in params for p in pair]
        if self.m is None:
            self.m = [np.zeros_like(g) for g in flat_g]
            self.v = [np.zeros_like(g) for g in flat_g]
        self.t += 1
        bc1 = 1 - self.b1 ** self.t
        bc2 = 1 - self.b2 ** self.t
        new = []
        for i, (p, g) in enumerate(zip(flat_p, flat_g)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            denom = np.sqrt(self.v[i]) / np.sqrt(bc2) + self.eps
            new.append(p - (self.lr / bc1) * self.m[i] / denom)
        return [(new[2 * i], new[2 * i + 1]) for i in range(len(params))]


def _ref_params(net):
    ps = [p.data.astype(np.float64) for p in net.parameters()]
    return [(ps[2 * i], ps[2 * i + 1]) for i in range(len(ps) // 2)]


def _ref_train(params, kinds, x, y, opt, epochs, batch_size=None):
    """Unshuffled minibatch training; returns (params, per-epoch weighted losses)."""
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    hist = []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, n, bs):
            xb, yb = x[s:s + bs], y[s:s + bs]
            loss, grads = _ref_grads(params, kinds, xb, yb)
            total += loss * xb.shape[0]
            params = opt.step(params, grads)
        hist.append(total / n)
    return params, np.array(hist)


# --------------------------------------------------------------------------------------
# Helpers

KINDS = ["linear", "tanh", "linear", "relu", "linear"]


def make_net(dtype="float32", seed=0, n_in=3, h1=16, h2=8, n_out=1):
    return fm.Sequential(fm.Linear(n_in, h1), fm.Tanh(), fm.Linear(h1, h2), fm.ReLU(),
                         fm.Linear(h2, n_out), dtype=dtype, seed=seed)


def make_data(n=100, n_in=3, n_out=1, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_in))
    w = rng.standard_normal((n_in, n_out))
    y = np.sin(x @ w) + 0.1 * rng.standard_normal((n, n_out))
    return x.astype(dtype), y.astype(dtype)


def weights(net):
    return [p.data.copy() for p in net.parameters()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        assert wa.dtype == wb.dtype
        np.testing.assert_array_equal(wa, wb)


# --------------------------------------------------------------------------------------
# fit == loop of train_step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [None, 32, 100, 1000])
@pytest.mark.parametrize("opt_name", ["adam", "sgd_momentum"])
def test_fit_equals_train_step_loop(dtype, batch_size, opt_name):
    x, y = make_data(100, dtype=dtype)

    def make_opt(net):
        if opt_name == "adam":
            return fm.optim.Adam(net.parameters(), lr=1e-2)
        return fm.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    a, b = make_net(dtype), make_net(dtype)
    assert_same_weights(weights(a), weights(b))
    hist = a.fit(x, y, loss="mse", optimizer=make_opt(a), epochs=7, batch_size=batch_size,
                 shuffle=False)
    ref_hist, steps = train_step_loop(b, make_opt(b), x, y, 7, batch_size)
    assert_same_weights(weights(a), weights(b))
    assert isinstance(hist.loss, np.ndarray) and hist.loss.shape == (7,)
    assert hist.val_loss is None
    assert hist.epochs == 7
    # per-sample mean over the epoch, each batch weighted by its size (ragged last included)
    np.testing.assert_allclose(hist.loss, ref_hist, rtol=1e-13, atol=0)
    if batch_size in (None, 100, 1000):  # full batch: the epoch loss is the step's loss
        np.testing.assert_allclose(hist.loss, steps, rtol=1e-14, atol=0)
    # the unweighted mean of batch losses would be a different number (ragged 4-sample batch)
    if batch_size == 32:
        unweighted = np.array(steps).reshape(7, 4).mean(axis=1)
        assert not np.allclose(hist.loss, unweighted, rtol=1e-9, atol=0)


def test_fit_layout_and_dtype_of_inputs_do_not_matter():
    """Fortran order, strided views, other dtypes and 1-D targets give the same training."""
    x, y = make_data(48, dtype=np.float64, seed=6)
    xf32, yf32 = x.astype(np.float32), y.astype(np.float32)
    variants = [
        (xf32, yf32),
        (np.asfortranarray(xf32), yf32[:, 0]),
        (np.repeat(xf32, 2, axis=0)[::2], np.repeat(yf32, 3, axis=1)[:, 1]),
        (x, y),  # float64 data converted once to the float32 model dtype
        (xf32.tolist(), yf32.tolist()),
    ]
    results = []
    for xv, yv in variants:
        net = make_net()
        h = net.fit(xv, yv, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=4,
                    batch_size=10, shuffle=True, seed=2)
        results.append((weights(net), h.loss))
    for w, l in results[1:]:
        assert_same_weights(results[0][0], w)
        np.testing.assert_array_equal(results[0][1], l)


def test_fit_default_optimizer_is_adam_1e3():
    x, y = make_data(50, dtype=np.float32)
    a, b = make_net(), make_net()
    a.fit(x, y, epochs=5, shuffle=False)
    opt = fm.optim.Adam(b.parameters(), lr=1e-3)
    train_step_loop(b, opt, x, y, 5)
    assert_same_weights(weights(a), weights(b))


def test_fit_continues_from_current_weights_and_optimizer_state():
    """Two fits of 3 epochs with one optimizer == one fit of 6 epochs."""
    x, y = make_data(60, dtype=np.float64)
    a, b = make_net("float64"), make_net("float64")
    oa, ob = fm.optim.Adam(a.parameters(), lr=1e-2), fm.optim.Adam(b.parameters(), lr=1e-2)
    h1 = a.fit(x, y, optimizer=oa, epochs=3, batch_size=16, shuffle=False)
    h2 = a.fit(x, y, optimizer=oa, epochs=3, batch_size=16, shuffle=False)
    h = b.fit(x, y, optimizer=ob, epochs=6, batch_size=16, shuffle=False)
    assert_same_weights(weights(a), weights(b))
    np.testing.assert_array_equal(np.concatenate([h1.loss, h2.loss]), h.loss)
    assert oa.step_count == ob.step_count == 6 * 4


# --------------------------------------------------------------------------------------
# NumPy reference trajectories (float64)


@pytest.mark.parametrize("case", ["adam_full", "sgd_momentum_full", "sgd_momentum_minibatch"])
def test_fit_follows_numpy_reference(case):
    x, y = make_data(80, n_in=3, n_out=2, dtype=np.float64, seed=3)
    net = make_net("float64", seed=5, n_out=2)
    params0 = _ref_params(net)
    if case == "adam_full":
        opt, ref_opt, bs = fm.optim.Adam(net.parameters(), lr=1e-2), _RefAdam(lr=1e-2), None
    elif case == "sgd_momentum_full":
        opt = fm.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        ref_opt, bs = _RefSGD(0.05, 0.9), None
    else:
        opt = fm.optim.SGD(net.parameters(), lr=0.02, momentum=0.8)
        ref_opt, bs = _RefSGD(0.02, 0.8), 24  # 24, 24, 24, 8
    hist = net.fit(x, y, optimizer=opt, epochs=50, batch_size=bs, shuffle=False)
    ref_params, ref_hist = _ref_train(params0, KINDS, x, y, ref_opt, 50, bs)
    np.testing.assert_allclose(hist.loss, ref_hist, rtol=1e-10, atol=0)
    assert ref_hist[-1] < 0.5 * ref_hist[0]  # it really trained
    got = weights(net)
    want = [p for pair in ref_params for p in pair]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_fit_float32_tracks_float64_reference():
    x, y = make_data(64, dtype=np.float64, seed=4)
    net = make_net("float32", seed=2)
    params0 = _ref_params(net)
    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=30,
                   shuffle=False)
    ref_params, ref_hist = _ref_train(params0, KINDS, x.astype(np.float32).astype(np.float64),
                                      y.astype(np.float32).astype(np.float64), _RefAdam(1e-2), 30)
    np.testing.assert_allclose(hist.loss, ref_hist, rtol=2e-4)
    for g, w in zip(weights(net), [p for pair in ref_params for p in pair]):
        np.testing.assert_allclose(g, w, rtol=2e-3, atol=2e-4)


# --------------------------------------------------------------------------------------
# shuffling


def _fit_shuffled(seed, dtype="float32", batch_size=10, epochs=5, net_seed=0, shuffle=True):
    x, y = make_data(100, dtype=dtype)
    net = make_net(dtype, seed=net_seed)
    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=epochs,
                   batch_size=batch_size, shuffle=shuffle, seed=seed)
    return weights(net), hist.loss


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shuffle_same_seed_is_bitwise_reproducible(dtype):
    w1, l1 = _fit_shuffled(123, dtype)
    w2, l2 = _fit_shuffled(123, dtype)
    assert_same_weights(w1, w2)
    np.testing.assert_array_equal(l1, l2)


def test_shuffle_different_seeds_differ():
    w1, l1 = _fit_shuffled(123)
    w2, l2 = _fit_shuffled(124)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert not np.array_equal(l1, l2)
    # and shuffling actually changes the order relative to shuffle=False
    w3, _ = _fit_shuffled(123, shuffle=False)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_shuffle_with_full_batch_matches_no_shuffle_up_to_rounding():
    for dtype, rtol in (("float64", 1e-9), ("float32", 2e-3)):
        ws, ls = _fit_shuffled(7, dtype, batch_size=None, epochs=20)
        wn, ln = _fit_shuffled(7, dtype, batch_size=None, epochs=20, shuffle=False)
        np.testing.assert_allclose(ls, ln, rtol=rtol)
        for a, b in zip(ws, wn):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("n,bs", [(10, 3), (100, 7), (100, 32), (5, 1)])
def test_shuffle_visits_every_sample_once_per_epoch(n, bs):
    """With lr=0 the weights never move, so each epoch's loss is the full-data mean
    exactly when every sample is used once (no duplicate, none dropped)."""
    x, y = make_data(n, dtype=np.float64, seed=9)
    # make samples very different so a duplicated/dropped one would show
    y = y + np.arange(n, dtype=np.float64)[:, None] ** 1.5
    net = make_net("float64", seed=1)
    w0 = weights(net)
    hist = net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.0), epochs=6,
                   batch_size=bs, shuffle=True, seed=3)
    assert_same_weights(w0, weights(net))
    full = _ref_mse(_ref_forward(_ref_params(net), KINDS, x)[-1], y)
    np.testing.assert_allclose(hist.loss, np.full(6, full), rtol=1e-12)


def test_shuffle_each_epoch_is_a_fresh_permutation():
    """batch_size=1 plain SGD depends on the order of samples. Snapshot the weights after
    every epoch and find, by train_step replay over all 4! orders, the order each epoch
    used: exactly one order must reproduce it bit for bit, and epochs must not all reuse
    one order."""
    import itertools
    x, y = make_data(4, dtype=np.float64, seed=2)
    y = y * 3 + np.arange(4.0)[:, None]
    perms = list(itertools.permutations(range(4)))
    used = []
    for seed in (11, 12):
        net = make_net("float64", seed=4)
        snaps = [net.state_dict()]
        net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.05), epochs=3,
                batch_size=1, shuffle=True, seed=seed, log_every=1,
                callback=lambda e, l: snaps.append(net.state_dict()))
        assert len(snaps) == 4
        ref = make_net("float64", seed=4)
        opt = fm.optim.SGD(ref.parameters(), lr=0.05)
        for e in range(3):
            matches = []
            for p in perms:
                ref.load_state_dict(snaps[e])
                for i in p:
                    ref.train_step(x[i:i + 1], y[i:i + 1], optimizer=opt)
                got = ref.state_dict()
                if all(np.array_equal(got[k], snaps[e + 1][k]) for k in got):
                    matches.append(p)
            assert len(matches) == 1, f"epoch {e + 1}: orders reproducing it: {matches}"
            used.append(matches[0])
    assert len(set(used)) > 1, used


def _ref_cross_entropy(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("n,bs,shuffle", [(10, 3, True), (50, 8, True), (50, 8, False)])
def test_cross_entropy_labels_batched_every_sample_once(n, bs, shuffle):
    """Integer labels go through the same batching/shuffling as float targets."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, 3))
    labels = rng.integers(0, 4, n)
    net = make_net("float64", seed=3, n_out=4)
    hist = net.fit(x, labels, loss="cross_entropy",
                   optimizer=fm.optim.SGD(net.parameters(), lr=0.0), epochs=3,
                   batch_size=bs, shuffle=shuffle, seed=1)
    full = _ref_cross_entropy(net.predict(x), labels)
    np.testing.assert_allclose(hist.loss, np.full(3, full), rtol=1e-12)


def test_cross_entropy_fit_equals_train_step_loop_and_validation():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    xv = rng.standard_normal((15, 3)).astype(np.float32)
    lv = rng.integers(0, 3, 15)
    a, b = make_net(n_out=3), make_net(n_out=3)
    oa, ob = fm.optim.Adam(a.parameters(), lr=1e-2), fm.optim.Adam(b.parameters(), lr=1e-2)
    hist = a.fit(x, labels, loss="cross_entropy", optimizer=oa, epochs=3, batch_size=16,
                 shuffle=False, validation_data=(xv, lv))
    want = []
    for _ in range(3):
        tot = 0.0
        for s in range(0, 40, 16):
            tot += b.train_step(x[s:s + 16], labels[s:s + 16], loss="cross_entropy",
                                optimizer=ob) * len(x[s:s + 16])
        want.append(tot / 40)
    assert_same_weights(weights(a), weights(b))
    np.testing.assert_allclose(hist.loss, want, rtol=1e-13)
    np.testing.assert_allclose(hist.val_loss[-1],
                               _ref_cross_entropy(a.predict(xv).astype(np.float64), lv),
                               rtol=1e-5)


# --------------------------------------------------------------------------------------
# ragged last batch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ragged_last_batch(dtype):
    x, y = make_data(10, dtype=dtype, seed=5)
    a, b = make_net(dtype, seed=3), make_net(dtype, seed=3)
    oa = fm.optim.SGD(a.parameters(), lr=0.1, momentum=0.5)
    ob = fm.optim.SGD(b.parameters(), lr=0.1, momentum=0.5)
    hist = a.fit(x, y, optimizer=oa, epochs=4, batch_size=3, shuffle=False)
    # batches 3, 3, 3, 1: 4 steps per epoch
    assert oa.step_count == 16
    ref_hist, steps = train_step_loop(b, ob, x, y, 4, 3)
    assert len(steps) == 16
    assert_same_weights(weights(a), weights(b))
    np.testing.assert_allclose(hist.loss, ref_hist, rtol=1e-13)
    if dtype == "float64":
        net = make_net("float64", seed=3)
        ref_params, ref_h = _ref_train(_ref_params(net), KINDS, x, y, _RefSGD(0.1, 0.5), 4, 3)
        np.testing.assert_allclose(hist.loss, ref_h, rtol=1e-11)
        for g, w in zip(weights(a), [p for pair in ref_params for p in pair]):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13)


def test_ragged_last_batch_shuffled_counts_steps():
    x, y = make_data(10, dtype=np.float32, seed=5)
    net = make_net()
    opt = fm.optim.Adam(net.parameters(), lr=1e-3)
    hist = net.fit(x, y, optimizer=opt, epochs=3, batch_size=3, shuffle=True, seed=0)
    assert opt.step_count == 12
    assert hist.loss.shape == (3,) and np.isfinite(hist.loss).all()


# --------------------------------------------------------------------------------------
# validation data


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_validation_loss_is_loss_of_predict_after_each_epoch(dtype):
    x, y = make_data(64, dtype=dtype, seed=1)
    xv, yv = make_data(30, dtype=dtype, seed=2)
    net = make_net(dtype, seed=1)
    snaps = []

    def cb(epoch, loss):
        snaps.append((epoch, [p.data.astype(np.float64) for p in net.parameters()]))

    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=8,
                   batch_size=16, shuffle=True, seed=5, log_every=1, callback=cb,
                   validation_data=(xv, yv))
    assert isinstance(hist.val_loss, np.ndarray) and hist.val_loss.shape == (8,)
    assert [e for e, _ in snaps] == list(range(1, 9))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    # every epoch: NumPy forward of the weights at the end of that epoch
    for (e, ps), vl in zip(snaps, hist.val_loss):
        params = [(ps[2 * i], ps[2 * i + 1]) for i in range(len(ps) // 2)]
        ref = _ref_mse(_ref_forward(params, KINDS, xv.astype(np.float64))[-1], yv)
        np.testing.assert_allclose(vl, ref, rtol=rtol)
    # last epoch against the model's own predict with the final weights
    pv = net.predict(xv).astype(np.float64)
    np.testing.assert_allclose(hist.val_loss[-1], np.mean((pv - yv) ** 2),
                               rtol=1e-6 if dtype == "float32" else 1e-14)
    assert not np.allclose(hist.val_loss, hist.val_loss[0])  # it changes as we train


def test_validation_data_does_not_change_training():
    x, y = make_data(64, dtype=np.float32, seed=1)
    xv, yv = make_data(30, dtype=np.float32, seed=2)
    a, b = make_net(), make_net()
    ha = a.fit(x, y, optimizer=fm.optim.Adam(a.parameters(), lr=1e-2), epochs=5,
               batch_size=16, seed=3, validation_data=(xv, yv))
    hb = b.fit(x, y, optimizer=fm.optim.Adam(b.parameters(), lr=1e-2), epochs=5,
               batch_size=16, seed=3)
    assert_same_weights(weights(a), weights(b))
    np.testing.assert_array_equal(ha.loss, hb.loss)
    assert hb.val_loss is None


def test_validation_1d_target():
    x, y = make_data(40, dtype=np.float64, seed=1)
    xv, yv = make_data(20, dtype=np.float64, seed=2)
    net = make_net("float64")
    hist = net.fit(x, y[:, 0], optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=3,
                   validation_data=(xv, yv[:, 0]))
    pv = net.predict(xv)
    np.testing.assert_allclose(hist.val_loss[-1], np.mean((pv - yv) ** 2), rtol=1e-13)


# --------------------------------------------------------------------------------------
# callback cadence and log printing


@pytest.mark.parametrize("epochs,log_every", [(25, 5), (23, 5), (4, 1), (3, 7)])
def test_callback_cadence(epochs, log_every):
    x, y = make_data(50, dtype=np.float32)
    net = make_net()
    calls = []
    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=epochs,
                   batch_size=20, log_every=log_every,
                   callback=lambda e, l: calls.append((e, l)))
    expected_epochs = list(range(log_every, epochs + 1, log_every))
    assert [e for e, _ in calls] == expected_epochs
    for e, l in calls:
        assert isinstance(e, int)
        assert l == hist.loss[e - 1]


def test_log_every_prints_epoch_lines(capsys):
    x, y = make_data(50, dtype=np.float32)
    net = make_net()
    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=30,
                   log_every=10)
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    for line, e in zip(lines, (10, 20, 30)):
        m = re.fullmatch(r"Epoch: (\d+)   Loss: ([-+0-9.eE]+)", line)
        assert m, line
        assert int(m.group(1)) == e
        np.testing.assert_allclose(float(m.group(2)), hist.loss[e - 1], rtol=1e-4, atol=1e-6)


def test_log_every_prints_validation_loss_too(capsys):
    x, y = make_data(50, dtype=np.float64)
    xv, yv = make_data(20, dtype=np.float64, seed=7)
    net = make_net("float64")
    hist = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=4,
                   log_every=2, validation_data=(xv, yv))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, e in zip(lines, (2, 4)):
        m = re.match(r"Epoch: (\d+)   Loss: ([-+0-9.eE]+)", line)
        assert m and int(m.group(1)) == e, line
        np.testing.assert_allclose(float(m.group(2)), hist.loss[e - 1], rtol=1e-4, atol=1e-6)
        nums = re.findall(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?", line)
        assert any(np.isclose(float(v), hist.val_loss[e - 1], rtol=1e-4, atol=1e-6)
                   for v in nums[1:]), line


def test_silent_by_default(capsys):
    x, y = make_data(20, dtype=np.float32)
    make_net().fit(x, y, epochs=3)
    assert capsys.readouterr().out == ""


class _Stop(Exception):
    pass


@pytest.mark.parametrize("shuffle", [False, True])
def test_callback_exception_stops_fit_and_propagates(shuffle):
    x, y = make_data(50, dtype=np.float32)
    net = make_net()
    opt = fm.optim.Adam(net.parameters(), lr=1e-2)
    calls = []

    def cb(epoch, loss):
        calls.append(epoch)
        if epoch == 6:
            raise _Stop("stop at 6")

    with pytest.raises(_Stop, match="stop at 6"):
        net.fit(x, y, optimizer=opt, epochs=1000, batch_size=16, shuffle=shuffle, seed=4,
                log_every=3, callback=cb)
    assert calls == [3, 6]
    assert opt.step_count == 6 * 4  # 16, 16, 16, 2
    for p in net.parameters():
        assert np.isfinite(p.data).all()
    ref = make_net()
    ref.fit(x, y, optimizer=fm.optim.Adam(ref.parameters(), lr=1e-2), epochs=6,
            batch_size=16, shuffle=shuffle, seed=4)
    assert_same_weights(weights(net), weights(ref))
    # the model is still usable afterwards
    more = net.fit(x, y, optimizer=opt, epochs=2, batch_size=16, shuffle=False)
    assert np.isfinite(more.loss).all()


# --------------------------------------------------------------------------------------
# divergence


def _global_step(msg, steps_per_epoch):
    m_e = re.search(r"epoch\D{0,3}(\d+)", msg, re.IGNORECASE)
    m_s = re.search(r"step\D{0,3}(\d+)", msg, re.IGNORECASE)
    assert m_e and m_s, f"message does not name epoch and step: {msg!r}"
    return (int(m_e.group(1)) - 1) * steps_per_epoch + int(m_s.group(1))


@pytest.mark.parametrize("dtype,lr,scale,act", [
    ("float32", 1e10, 1e3, "tanh"),
    ("float64", 1e10, 1e3, "tanh"),
    ("float64", 1e30, 1.0, "relu"),
    ("float32", 1e10, 1.0, "relu"),
])
def test_divergence_raises_floating_point_error_and_keeps_finite_weights(dtype, lr, scale, act):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 4)) * scale).astype(dtype)
    y = (rng.standard_normal((64, 1)) * scale).astype(dtype)
    Act = fm.Tanh if act == "tanh" else fm.ReLU

    def new():
        return fm.Sequential(fm.Linear(4, 16), Act(), fm.Linear(16, 1), dtype=dtype, seed=0)

    net = new()
    opt = fm.optim.SGD(net.parameters(), lr=lr)
    with pytest.raises(FloatingPointError) as info:
        net.fit(x, y, optimizer=opt, epochs=1000, batch_size=16, shuffle=False)
    failed = _global_step(str(info.value), steps_per_epoch=4)
    assert failed >= 1
    for name, p in net.named_parameters():
        assert np.isfinite(p.data).all(), f"{name} is not finite after FloatingPointError"
    # "keeping the last finite weights": the state after the steps before the failing one
    ref = new()
    ref_opt = fm.optim.SGD(ref.parameters(), lr=lr)
    for k in range(failed - 1):
        s = (k % 4) * 16
        ref.train_step(x[s:s + 16], y[s:s + 16], optimizer=ref_opt)
    assert_same_weights(weights(net), weights(ref))


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("good_steps", [1, 2, 3])
def test_fit_update_that_overflows_keeps_the_weights_of_the_step_before(kind, good_steps):
    """fit alternates the weights between two arrays (no backup per step); after an odd
    or even number of good steps, the overflowing one leaves those steps' weights in the
    net's own arrays."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    y = (rng.standard_normal((32, 64)) * 1e3).astype(np.float32)

    def new():
        net = fm.Sequential(fm.Linear(64, 600), fm.ReLU(), fm.Linear(600, 64), seed=0)
        return net, getattr(fm.optim, kind)(net.parameters(), lr=1e-3)

    net, opt = new()

    def overflow_next(epoch, logs):
        if epoch == good_steps:
            opt.lr = 3.4e38  # finite, but the update is not
        return True

    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        net.fit(x, y, optimizer=opt, epochs=10, shuffle=False, on_epoch=overflow_next)
    ref, ref_opt = new()
    for _ in range(good_steps):
        ref.train_step(x, y, optimizer=ref_opt)
    assert_same_weights(weights(net), weights(ref))


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("frozen", [False, True], ids=["all_trained", "first_layer_frozen"])
def test_fit_callbacks_see_the_current_weights_and_training_goes_on_from_their_changes(
        batch_size, frozen):
    """Between epochs the net's arrays hold the weights of the steps so far, and what a
    callback writes into them is what the next step starts from, after odd and even step
    counts (1 or 3 steps per epoch); with the first layer frozen the optimizer's spans
    leave part of the weights out and the updates run in place, from a backup."""
    x, y = make_data(40, dtype=np.float32)

    def new():
        net = make_net()
        return net, fm.optim.Adam(net.parameters()[2:] if frozen else net.parameters(),
                                  lr=1e-2)

    def edit(net, epoch):
        bias = net.parameters()[-1].data
        bias[...] = bias * 0.5 + epoch

    net, opt = new()
    seen = []

    def on_epoch(epoch, logs):
        seen.append(weights(net))
        edit(net, epoch)
        return True

    net.fit(x, y, optimizer=opt, epochs=5, batch_size=batch_size, shuffle=False,
            on_epoch=on_epoch)
    ref, ref_opt = new()
    for epoch in range(1, 6):
        train_step_loop(ref, ref_opt, x, y, 1, batch_size)
        assert_same_weights(seen[epoch - 1], weights(ref))
        edit(ref, epoch)
    assert_same_weights(weights(net), weights(ref))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_train_step_divergence_raises_and_keeps_weights_of_before_the_call(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(dtype)
    y = rng.standard_normal((32, 1)).astype(dtype)
    net = fm.Sequential(fm.Linear(4, 16), fm.ReLU(), fm.Linear(16, 1), dtype=dtype, seed=0)
    opt = fm.optim.SGD(net.parameters(), lr=1e10 if dtype == "float32" else 1e30)
    for _ in range(50):
        before = weights(net)
        try:
            net.train_step(x, y, optimizer=opt)
        except FloatingPointError:
            break
    else:
        pytest.fail("no FloatingPointError although training diverged")
    assert_same_weights(before, weights(net))


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("subset", [False, True], ids=["all", "last_layer"])
def test_an_update_that_overflows_restores_the_weights_of_before_the_step(kind, subset):
    """An update that overflows puts the pre-step weights back, also when the optimizer
    covers only some of the parameters and the update runs in more than one chunk (77k
    weights)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    y = (rng.standard_normal((32, 64)) * 1e3).astype(np.float32)  # large gradients
    net = fm.Sequential(fm.Linear(64, 600), fm.ReLU(), fm.Linear(600, 64), seed=0)
    params = net.parameters()[2:] if subset else net.parameters()
    opt = getattr(fm.optim, kind)(params, lr=1e-3)
    for _ in range(3):  # state buffers away from zero
        net.train_step(x, y, optimizer=opt)
    before = weights(net)
    opt.lr = 3.4e38  # finite, but the update is not
    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        net.train_step(x, y, optimizer=opt)
    assert_same_weights(before, weights(net))


def test_fit_rejects_nonfinite_data():
    x, y = make_data(20, dtype=np.float32)
    x[3, 1] = np.nan
    net = make_net()
    w0 = weights(net)
    with pytest.raises(ValueError):
        net.fit(x, y, epochs=2)
    assert_same_weights(w0, weights(net))


# --------------------------------------------------------------------------------------
# GIL released during fit


GIL_CHILD = textwrap.dedent(r"""
    import os, signal, threading, time
    import numpy as np
    import fastmlp as fm
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 32)).astype(np.float32)
    y = rng.standard_normal((256, 1)).astype(np.float32)
    net = fm.Sequential(fm.Linear(32, 128), fm.ReLU(), fm.Linear(128, 1), seed=0)
    opt = fm.optim.SGD(net.parameters(), lr=1e-4)

    def stop_the_fit():
        time.sleep(0.3)  # without the GIL; running the next line needs it back
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=stop_the_fit).start()
    try:
        net.fit(x, y, optimizer=opt, epochs=10**7)  # hours; no callback into Python
    except KeyboardInterrupt:
        print("STOPPED", opt.step_count, flush=True)
""")


def test_other_python_thread_runs_during_fit():
    """fit holds the GIL only to poll for signals: another Python thread, which needs the
    GIL to run at all, is what stops this endless fit. With the GIL held throughout, the
    fit would never end (and the child would time out)."""
    run = subprocess.run([sys.executable, "-c", GIL_CHILD], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    tag, steps = run.stdout.split()
    assert tag == "STOPPED"
    assert int(steps) > 0  # stopped inside the native loop, not before it


# --------------------------------------------------------------------------------------
# train_step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_train_step_returns_loss_before_update(dtype, opt_name):
    x, y = make_data(40, dtype=dtype, seed=8)
    net = make_net(dtype, seed=6)
    opt = (fm.optim.SGD(net.parameters(), lr=0.1) if opt_name == "sgd"
           else fm.optim.Adam(net.parameters(), lr=1e-2))
    rtol = 1e-5 if dtype == "float32" else 1e-13
    for _ in range(3):
        before = net.predict(x).astype(np.float64)
        w_before = weights(net)
        params = _ref_params(net)
        ref_loss, ref_grads = _ref_grads(params, KINDS, x.astype(np.float64),
                                         y.astype(np.float64))
        loss = net.train_step(x, y, loss="mse", optimizer=opt)
        assert isinstance(loss, float)
        np.testing.assert_allclose(loss, np.mean((before - y) ** 2), rtol=rtol)
        np.testing.assert_allclose(loss, ref_loss, rtol=rtol)
        after = np.mean((net.predict(x).astype(np.float64) - y) ** 2)
        assert after != loss  # the weights moved
        assert not all(np.array_equal(a, b) for a, b in zip(w_before, weights(net)))
        if opt_name == "sgd":
            # the update itself: w - lr * grad
            want = [p - 0.1 * g for pp, gg in zip(params, ref_grads) for p, g in zip(pp, gg)]
            for g, w in zip(weights(net), want):
                np.testing.assert_allclose(g, w, rtol=10 * rtol, atol=10 * rtol)


def test_train_step_ragged_and_1d_targets():
    x, y = make_data(7, dtype=np.float64, seed=8)
    a, b = make_net("float64"), make_net("float64")
    la = a.train_step(x, y[:, 0], optimizer=fm.optim.SGD(a.parameters(), lr=0.1))
    lb = b.train_step(x, y, optimizer=fm.optim.SGD(b.parameters(), lr=0.1))
    assert la == lb
    assert_same_weights(weights(a), weights(b))


def test_on_epoch_sees_each_epoch_and_can_stop_and_set_the_lr(rng):
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    net = fm.Sequential(fm.Linear(3, 1), dtype="float64", seed=0)
    opt = fm.optim.SGD(net.parameters(), lr=0.1)
    seen = []

    def on_epoch(epoch, logs):
        seen.append((epoch, dict(logs)))
        opt.lr = 0.1 / (epoch + 1)
        return epoch < 4

    hist = net.fit(x, y, optimizer=opt, epochs=10, batch_size=16, weight_l2=0.2,
                   validation_data=(x[:8], y[:8]), metrics=("r2",), on_epoch=on_epoch)
    assert [e for e, _ in seen] == [1, 2, 3, 4] and hist.epochs == 4
    for e, logs in seen:
        assert set(logs) == {"loss", "penalty", "lr", "val_loss", "r2"}
        assert logs["loss"] == hist.loss[e - 1] and logs["penalty"] == hist.penalty[e - 1]
        assert logs["lr"] == pytest.approx(0.1 / e) == hist.lr[e - 1]
        assert logs["val_loss"] == hist.val_loss[e - 1]
    assert 0 < hist.penalty[0] < hist.loss[0]
