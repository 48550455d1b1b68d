"""fit's and train_step's sample_weight."""
from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm
from helpers import (flat_grad as _flat_grad, flat_params as _flat, reg_data as _reg_data,
                     small_mlp as _small_mlp)


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_integer_weights_equal_duplicated_rows_fit(loss):
    x, y = _reg_data()
    w = np.array([1, 2, 0, 3, 1, 1, 4, 2, 1, 0, 1, 2])
    xd, yd = np.repeat(x, w, axis=0), np.repeat(y, w, axis=0)
    a, b = _small_mlp(), _small_mlp()
    ha = a.fit(x, y, loss=loss, optimizer=fm.optim.SGD(a.parameters(), lr=0.1), epochs=20,
               sample_weight=w, shuffle=False)
    hb = b.fit(xd, yd, loss=loss, optimizer=fm.optim.SGD(b.parameters(), lr=0.1), epochs=20,
               shuffle=False)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-6)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-6, atol=1e-12)


def test_integer_weights_equal_duplicated_rows_cross_entropy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(15, 3))
    labels = rng.integers(0, 4, 15)
    w = rng.integers(0, 4, 15)
    w[0] = 1
    a, b = _small_mlp(out=4), _small_mlp(out=4)
    ha = a.fit(x, labels, loss="cross_entropy", optimizer=fm.optim.SGD(a.parameters(), lr=0.2),
               epochs=15, sample_weight=w)
    hb = b.fit(np.repeat(x, w, axis=0), np.repeat(labels, w), loss="cross_entropy",
               optimizer=fm.optim.SGD(b.parameters(), lr=0.2), epochs=15)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-6)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-6, atol=1e-12)


def test_integer_weights_equal_duplicated_rows_train_step():
    x, y = _reg_data()
    w = np.array([3, 1, 1, 2, 0, 1, 1, 1, 5, 1, 1, 2], dtype=np.float64)
    a, b = _small_mlp(), _small_mlp()
    oa, ob = fm.optim.SGD(a.parameters(), lr=0.05), fm.optim.SGD(b.parameters(), lr=0.05)
    xd, yd = np.repeat(x, w.astype(int), axis=0), np.repeat(y, w.astype(int), axis=0)
    for _ in range(5):
        la = a.train_step(x, y, optimizer=oa, sample_weight=w)
        lb = b.train_step(xd, yd, optimizer=ob)
        assert la == pytest.approx(lb, rel=1e-6)
        np.testing.assert_allclose(_flat_grad(a), _flat_grad(b), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-6, atol=1e-12)


def test_weights_are_scale_invariant():
    x, y = _reg_data()
    w = np.random.default_rng(5).uniform(0.1, 2.0, 12)
    a, b = _small_mlp(), _small_mlp()
    la = a.train_step(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1), sample_weight=w)
    lb = b.train_step(x, y, optimizer=fm.optim.SGD(b.parameters(), lr=0.1),
                      sample_weight=w * 8.0)
    assert la == pytest.approx(lb, rel=1e-12)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=1e-15)


def test_zero_weight_ignores_a_sample():
    x, y = _reg_data()
    y[4] = 1e3  # an outlier that would dominate the fit
    w = np.ones(12)
    w[4] = 0.0
    keep = np.arange(12) != 4
    a, b = _small_mlp(), _small_mlp()
    ha = a.fit(x, y, optimizer=fm.optim.Adam(a.parameters(), lr=1e-2), epochs=10,
               sample_weight=w, shuffle=False)
    hb = b.fit(x[keep], y[keep], optimizer=fm.optim.Adam(b.parameters(), lr=1e-2), epochs=10,
               shuffle=False)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-6)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-6, atol=1e-9)


def test_minibatch_of_only_zero_weights_is_harmless():
    """A minibatch whose samples all have weight 0 contributes nothing; it must not be a 0/0
    that aborts training with FloatingPointError."""
    x, y = _reg_data(8)
    w = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.float64)
    a, b = _small_mlp(), _small_mlp()
    a.fit(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1), epochs=3, batch_size=4,
          shuffle=False, sample_weight=w)
    # plain SGD: a batch with zero gradient is a no-op, so this equals training on the rest
    b.fit(x[4:], y[4:], optimizer=fm.optim.SGD(b.parameters(), lr=0.1), epochs=3,
          shuffle=False)
    np.testing.assert_allclose(_flat(a), _flat(b), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad", [
    "negative", "nan", "inf", "short", "long", "column", "all_zero", "matrix"])
def test_bad_weights_raise(bad):
    x, y = _reg_data()
    w = {"negative": np.r_[np.ones(11), -1.0],
         "nan": np.r_[np.ones(11), np.nan],
         "inf": np.r_[np.ones(11), np.inf],
         "short": np.ones(11),
         "long": np.ones(13),
         "column": np.ones((12, 1)),
         "all_zero": np.zeros(12),
         "matrix": np.ones((12, 2))}[bad]
    net = _small_mlp()
    before = _flat(net)
    with pytest.raises(ValueError):
        net.fit(x, y, epochs=1, sample_weight=w)
    with pytest.raises(ValueError):
        net.train_step(x, y, sample_weight=w)
    np.testing.assert_array_equal(_flat(net), before)
