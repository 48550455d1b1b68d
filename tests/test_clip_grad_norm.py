"""Gradient clipping (clip_grad_norm) in train_step and fit."""
from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params as _flat, reg_data as _reg_data, small_mlp as _small_mlp

# Against a NumPy reference (float64): Linear -> Tanh -> Linear, MSE.


def _np_grads(params, x, y):
    w1, b1, w2, b2 = params
    h = x @ w1 + b1
    a = np.tanh(h)
    p = a @ w2 + b2
    loss = np.mean((p - y) ** 2)
    gp = 2.0 * (p - y) / p.size
    gw2, gb2 = a.T @ gp, gp.sum(0)
    gh = (gp @ w2.T) * (1.0 - a ** 2)
    gw1, gb1 = x.T @ gh, gh.sum(0)
    return loss, [gw1, gb1, gw2, gb2]


def _np_clip(grads, max_norm):
    norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
    c = max_norm / (norm + 1e-6)
    return [g * c for g in grads] if c < 1.0 else grads, norm


@pytest.mark.parametrize("max_norm", [0.05, 0.5, 1e6])
def test_clip_grad_norm_train_step(max_norm):
    x, y = _reg_data(10)
    y = y * 5.0
    net = _small_mlp()
    params = [p.data.copy() for p in net.parameters()]
    loss, grads = _np_grads(params, x, y)
    clipped, norm = _np_clip(grads, max_norm)
    assert (max_norm < norm) == (max_norm != 1e6)  # the first two really clip
    lr = 0.1
    got = net.train_step(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=lr),
                         clip_grad_norm=max_norm)
    assert got == pytest.approx(loss, rel=1e-12)
    for p, w, g in zip(net.parameters(), params, clipped):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)  # clipped in place
        np.testing.assert_allclose(p.data, w - lr * g, rtol=1e-10, atol=1e-14)
    if max_norm < norm:
        total = np.sqrt(sum(float(np.sum(p.grad ** 2)) for p in net.parameters()))
        assert total == pytest.approx(max_norm, rel=1e-5)


def test_fit_clip_equals_train_step_loop():
    x, y = _reg_data(24)
    a, b = _small_mlp(), _small_mlp()
    oa, ob = fm.optim.Adam(a.parameters(), lr=1e-2), fm.optim.Adam(b.parameters(), lr=1e-2)
    hist = a.fit(x, y * 4, optimizer=oa, epochs=5, batch_size=8, shuffle=False,
                 clip_grad_norm=0.1)
    losses = []
    for _ in range(5):
        total = 0.0
        for s in range(0, 24, 8):
            total += b.train_step(x[s:s + 8], y[s:s + 8] * 4, optimizer=ob,
                                  clip_grad_norm=0.1) * 8.0
        losses.append(total / 24.0)
    np.testing.assert_array_equal(hist.loss, np.array(losses))
    np.testing.assert_array_equal(_flat(a), _flat(b))
    c = _small_mlp()
    c.fit(x, y * 4, optimizer=fm.optim.Adam(c.parameters(), lr=1e-2), epochs=5, batch_size=8,
          shuffle=False)
    assert not np.array_equal(_flat(a), _flat(c))  # clipping was active
