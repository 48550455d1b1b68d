"""fit's validation_split and validation metrics."""
from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params as _flat, reg_data as _reg_data, small_mlp as _small_mlp


def test_validation_split_uses_the_last_fraction():
    x, y = _reg_data(40)
    a, b = _small_mlp(), _small_mlp()
    ha = a.fit(x, y, optimizer=fm.optim.Adam(a.parameters(), lr=1e-2), epochs=6, batch_size=8,
               seed=4, validation_split=0.25)
    hb = b.fit(x[:30], y[:30], optimizer=fm.optim.Adam(b.parameters(), lr=1e-2), epochs=6,
               batch_size=8, seed=4, validation_data=(x[30:], y[30:]))
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(ha.val_loss, hb.val_loss)
    np.testing.assert_array_equal(_flat(a), _flat(b))
    # the last val_loss is the loss of the final model on the held-out rows
    pred = a.predict(x[30:])
    assert ha.val_loss[-1] == pytest.approx(np.mean((pred - y[30:]) ** 2), rel=1e-12)


def test_validation_split_with_sample_weight():
    x, y = _reg_data(20)
    w = np.random.default_rng(9).integers(1, 4, 20).astype(float)
    a, b = _small_mlp(), _small_mlp()
    ha = a.fit(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1), epochs=4,
               validation_split=0.2, sample_weight=w, shuffle=False)
    hb = b.fit(x[:16], y[:16], optimizer=fm.optim.SGD(b.parameters(), lr=0.1), epochs=4,
               validation_data=(x[16:], y[16:]), sample_weight=w[:16], shuffle=False)
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(ha.val_loss, hb.val_loss)


@pytest.mark.parametrize("split", [0.0, 1.0, -0.1, 1.5])
def test_validation_split_out_of_range(split):
    x, y = _reg_data()
    with pytest.raises(ValueError):
        _small_mlp().fit(x, y, epochs=1, validation_split=split)


def test_validation_split_with_validation_data_rejected():
    x, y = _reg_data()
    with pytest.raises(ValueError):
        _small_mlp().fit(x, y, epochs=1, validation_split=0.2, validation_data=(x, y))


def test_validation_split_leaving_an_empty_set_rejected():
    x, y = _reg_data(3)
    with pytest.raises(ValueError):
        _small_mlp().fit(x, y, epochs=1, validation_split=0.1)


# ---------------------------------------------------------------------------------------
# validation metrics

def _blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    return centres[labels] + rng.normal(size=(n, 3)), labels


def test_accuracy_per_epoch_matches_metrics_accuracy():
    x, labels = _blobs()
    xt, lt, xv, lv = x[:60], labels[:60], x[60:], labels[60:]
    epochs = 8
    a, b = _small_mlp(out=3), _small_mlp(out=3)
    oa, ob = fm.optim.SGD(a.parameters(), lr=0.05), fm.optim.SGD(b.parameters(), lr=0.05)
    hist = a.fit(xt, lt, loss="cross_entropy", optimizer=oa, epochs=epochs, shuffle=False,
                 validation_data=(xv, lv), metrics=["accuracy"])
    acc = hist.val_metrics["accuracy"]
    assert acc.shape == (epochs,)
    # the same training one epoch at a time (full batch, no shuffle, SGD: no hidden state)
    want, val = [], []
    for _ in range(epochs):
        h = b.fit(xt, lt, loss="cross_entropy", optimizer=ob, epochs=1, shuffle=False,
                  validation_data=(xv, lv))
        val.append(h.val_loss[0])
        want.append(fm.metrics.accuracy(lv, b.predict(xv)))
    np.testing.assert_array_equal(acc, np.array(want))
    np.testing.assert_array_equal(hist.val_loss, np.array(val))
    assert acc[-1] == fm.metrics.accuracy(lv, a.predict(xv).argmax(1))
    assert acc[-1] > 0.6


def test_mae_metric_matches_metrics_mae():
    x, y = _reg_data(30)
    net = _small_mlp()
    hist = net.fit(x, y, epochs=3, validation_split=0.3, metrics=["mae", "mse"])
    xv, yv = x[21:], y[21:]
    assert hist.val_metrics["mae"][-1] == pytest.approx(fm.metrics.mae(yv, net.predict(xv)),
                                                        rel=1e-12)
    assert hist.val_metrics["mse"][-1] == pytest.approx(hist.val_loss[-1], rel=1e-12)


def test_metrics_need_validation_data():
    x, y = _reg_data()
    with pytest.raises(ValueError):
        _small_mlp().fit(x, y, epochs=1, metrics=["mae"])
    with pytest.raises(ValueError):
        _small_mlp().fit(x, y, epochs=1, validation_split=0.25, metrics=["f1_score"])
