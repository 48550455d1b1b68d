"""fit's early stopping: patience, min_delta and restore_best_weights."""
from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params as _flat

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
