"""fit extras: early stopping (patience, min_delta, restore_best_weights), sample_weight,
validation_split, validation metrics and gradient clipping."""
from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm


def _flat(net):
    """All parameters of a model, concatenated (a copy)."""
    return np.concatenate([p.data.ravel() for p in net.parameters()])


def _flat_grad(net):
    return np.concatenate([p.grad.ravel() for p in net.parameters()])

F64 = "float64"


# ---------------------------------------------------------------------------------------
# A problem whose validation loss is U-shaped: a linear model starting at exactly zero
# output learns g(x) by full-batch SGD, while the validation targets are 0.5 * g(x). The
# validation loss falls while the fit approaches 0.5 g, then rises as it goes on to g.

def _u_problem(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, 1))
    return x, x @ w, x, 0.5 * (x @ w)


def _linear_net():
    return fm.Sequential(fm.Linear(5, 1, dtype=F64, init="zeros"), dtype=F64, seed=0)


def _fit_u(net, epochs, **kw):
    x, y, xv, yv = _u_problem()
    opt = fm.optim.SGD(net.parameters(), lr=0.02)
    return net.fit(x, y, optimizer=opt, epochs=epochs, shuffle=False,
                   validation_data=(xv, yv), **kw)


def _keras_rule(values, patience, min_delta=0.0):
    """Independent statement of the early-stopping rule: an epoch improves when its value
    is below best - min_delta; training stops after `patience` epochs without improvement.
    Returns (best_epoch (1-based), number of epochs run)."""
    best, best_epoch, wait = np.inf, None, 0
    for e, v in enumerate(values, start=1):
        if v < best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if patience is not None and wait >= patience:
                return best_epoch, e
    return best_epoch, len(values)


def test_u_problem_is_u_shaped():
    hist = _fit_u(_linear_net(), 80)
    v = hist.val_loss
    k = int(np.argmin(v))
    assert 3 < k < 60
    assert np.all(np.diff(v[:k + 1]) < 0) and np.all(np.diff(v[k:]) > 0)


@pytest.mark.parametrize("patience", [1, 3, 7])
def test_patience_stops_at_the_right_epoch(patience):
    full = _fit_u(_linear_net(), 80).val_loss
    best = int(np.argmin(full)) + 1
    hist = _fit_u(_linear_net(), 80, patience=patience)
    assert hist.best_epoch == best
    assert len(hist.loss) == best + patience
    assert len(hist.val_loss) == best + patience and len(hist.lr) == best + patience
    # the epochs that ran are the same epochs as in the full run
    np.testing.assert_array_equal(hist.val_loss, full[:best + patience])


@pytest.mark.parametrize("min_delta", [1e-3, 1e-2, 0.05])
def test_min_delta(min_delta):
    full = _fit_u(_linear_net(), 80).val_loss
    best_epoch, ran = _keras_rule(full, patience=2, min_delta=min_delta)
    hist = _fit_u(_linear_net(), 80, patience=2, min_delta=min_delta)
    assert hist.best_epoch == best_epoch
    assert len(hist.loss) == ran
    # min_delta makes training stop no later than without it
    assert ran <= _keras_rule(full, patience=2)[1]


def test_early_stopping_monitors_training_loss_without_validation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 5))
    y = x @ rng.normal(size=(5, 1))
    # lr 0: the training loss never improves after the first epoch
    net = _linear_net()
    hist = net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.0), epochs=50,
                   shuffle=False, patience=3)
    assert hist.best_epoch == 1 and len(hist.loss) == 4
    # a slowly decreasing training loss with a min_delta it cannot beat for long
    net = _linear_net()
    full = net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.01), epochs=200,
                   shuffle=False).loss
    best_epoch, ran = _keras_rule(full, patience=2, min_delta=0.05)
    net = _linear_net()
    hist = net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.01), epochs=200,
                   shuffle=False, patience=2, min_delta=0.05)
    assert 2 < ran < 200
    assert hist.best_epoch == best_epoch and len(hist.loss) == ran
    assert np.all(np.diff(hist.loss) < 0)  # it stopped while the loss was still falling


def _weights(net):
    return _flat(net)


def test_restore_best_weights_when_stopped_early():
    a = _linear_net()
    hist = _fit_u(a, 80, patience=4, restore_best_weights=True)
    assert len(hist.loss) == hist.best_epoch + 4
    b = _linear_net()
    _fit_u(b, hist.best_epoch)
    np.testing.assert_array_equal(_weights(a), _weights(b))


def test_restore_best_weights_when_epochs_run_out():
    a = _linear_net()
    hist = _fit_u(a, 60, restore_best_weights=True)
    assert len(hist.loss) == 60 and hist.best_epoch < 60
    assert hist.best_epoch == int(np.argmin(hist.val_loss)) + 1
    b = _linear_net()
    _fit_u(b, hist.best_epoch)
    np.testing.assert_array_equal(_weights(a), _weights(b))


def test_restore_best_weights_false_keeps_last():
    a = _linear_net()
    hist = _fit_u(a, 40, patience=3)
    b = _linear_net()
    _fit_u(b, len(hist.loss))
    np.testing.assert_array_equal(_weights(a), _weights(b))
    assert len(hist.loss) > hist.best_epoch


class _Boom(Exception):
    pass


def test_restore_best_weights_when_a_callback_raises():
    full = _fit_u(_linear_net(), 80).val_loss
    best = int(np.argmin(full)) + 1
    stop_at = best + 5

    def callback(epoch, loss):
        if epoch == stop_at:
            raise _Boom()

    a = _linear_net()
    with pytest.raises(_Boom):
        _fit_u(a, 80, restore_best_weights=True, log_every=1, callback=callback)
    b = _linear_net()
    _fit_u(b, best)
    np.testing.assert_array_equal(_weights(a), _weights(b))


def test_restore_best_weights_when_training_diverges():
    """A FloatingPointError ends training too: the best weights are still restored."""
    full = _fit_u(_linear_net(), 80).val_loss
    best = int(np.argmin(full)) + 1
    x, y, xv, yv = _u_problem()
    a = _linear_net()
    opt = fm.optim.SGD(a.parameters(), lr=0.02)

    def callback(epoch, loss):
        if epoch == best + 3:
            opt.lr = 1e300  # the next update overflows

    with pytest.raises(FloatingPointError):
        a.fit(x, y, optimizer=opt, epochs=80, shuffle=False, validation_data=(xv, yv),
              restore_best_weights=True, log_every=1, callback=callback)
    b = _linear_net()
    _fit_u(b, best)
    np.testing.assert_array_equal(_weights(a), _weights(b))


def test_restore_best_weights_with_minibatches_and_shuffle():
    x, y, xv, yv = _u_problem()
    kw = dict(epochs=40, batch_size=16, seed=7, validation_data=(xv, yv), loss="mse")
    a, b = _linear_net(), _linear_net()
    hist = a.fit(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.005),
                 restore_best_weights=True, patience=3, **kw)
    assert hist.best_epoch < len(hist.loss)
    kw["epochs"] = hist.best_epoch
    b.fit(x, y, optimizer=fm.optim.SGD(b.parameters(), lr=0.005), **kw)
    np.testing.assert_array_equal(_weights(a), _weights(b))


def test_patience_must_be_positive():
    with pytest.raises((ValueError, TypeError)):
        _fit_u(_linear_net(), 5, patience=0)


# ---------------------------------------------------------------------------------------
# sample_weight

def _small_mlp(seed=2, out=2):
    return fm.Sequential(fm.Linear(3, 8, dtype=F64), fm.Tanh(), fm.Linear(8, out, dtype=F64),
                         dtype=F64, seed=seed)


def _reg_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


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


# ---------------------------------------------------------------------------------------
# validation_split

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


# ---------------------------------------------------------------------------------------
# clip_grad_norm against a NumPy reference (float64): Linear -> Tanh -> Linear, MSE

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
