"""Learning-rate schedules: lr sequences against torch's documented formulas (hand-coded
here, no torch), History.lr inside fit, and fit trajectories equal to a Python loop of
train_step with manual lr changes, bit for bit."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params as _flat



def _param_opt(lr=1.0, cls=None):
    net = fm.Sequential(fm.Linear(2, 1, dtype="float64"), dtype="float64", seed=0)
    cls = cls or fm.optim.SGD
    return cls(net.parameters(), lr=lr)


def _steps(sched, n, metrics=None):
    out = []
    for i in range(n):
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        out.append(sched.optimizer.lr)
        assert sched.get_last_lr() == [sched.optimizer.lr]
    return np.array(out)


def test_exposed_under_optim():
    assert fm.optim.StepLR is fm.lr_scheduler.StepLR
    assert fm.optim.ExponentialLR is fm.lr_scheduler.ExponentialLR
    assert fm.optim.CosineAnnealingLR is fm.lr_scheduler.CosineAnnealingLR
    assert fm.optim.ReduceLROnPlateau is fm.lr_scheduler.ReduceLROnPlateau


@pytest.mark.parametrize("step_size,gamma", [(1, 0.5), (3, 0.1), (4, 0.9)])
def test_steplr_sequence(step_size, gamma):
    base = 0.2
    opt = _param_opt(base)
    s = fm.optim.StepLR(opt, step_size=step_size, gamma=gamma)
    assert opt.lr == base  # constructing a scheduler does not change the lr
    got = _steps(s, 20)
    want = np.array([base * gamma ** (e // step_size) for e in range(1, 21)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_exponentiallr_sequence():
    base, gamma = 0.05, 0.93
    opt = _param_opt(base)
    s = fm.optim.ExponentialLR(opt, gamma=gamma)
    got = _steps(s, 30)
    want = np.array([base * gamma ** e for e in range(1, 31)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (4, 0.1), (7, 0.01)])
def test_cosine_sequence(T_max, eta_min):
    base = 1.0
    opt = _param_opt(base)
    s = fm.optim.CosineAnnealingLR(opt, T_max=T_max, eta_min=eta_min)
    n = 2 * T_max + 3  # past T_max the cosine goes on (torch's periodic curve)
    got = _steps(s, n)
    want = np.array([eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2
                     for t in range(1, n + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert abs(got[T_max - 1] - eta_min) < 1e-15


def test_scheduler_bad_arguments():
    opt = _param_opt()
    with pytest.raises(ValueError):
        fm.optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError):
        fm.optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError):
        fm.optim.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError):
        fm.optim.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(TypeError):
        fm.optim.StepLR(object(), step_size=1)


def test_plateau_rejects_a_non_optimizer():
    # as torch (and the other fastmlp schedulers): TypeError up front, not later in step()
    with pytest.raises(TypeError):
        fm.optim.ReduceLROnPlateau(object())


# ReduceLROnPlateau: torch's rule is "better -> best=metric, bad=0 else bad+=1; in cooldown:
# counter-=1, bad=0; if bad > patience: lr=max(lr*factor, min_lr) (if the change > eps),
# counter=cooldown, bad=0".  The expected sequences below were derived by hand from it.
PLATEAU_CASES = [
    # (kwargs, metrics, expected lr after each step), base lr 1.0
    (dict(factor=0.5, patience=2, threshold=0.0, threshold_mode="abs"),
     [5, 4, 4, 4, 4, 3, 3, 3, 3, 3],
     [1, 1, 1, 1, .5, .5, .5, .5, .25, .25]),
    (dict(factor=0.5, patience=2, threshold=0.0, threshold_mode="abs", cooldown=2),
     [5, 4, 4, 4, 4, 3, 3, 3, 3, 3],
     [1, 1, 1, 1, .5, .5, .5, .5, .5, .25]),
    (dict(factor=0.1, patience=0, min_lr=0.05),
     [1, 1, 1, 1, 1, 1],
     [1, .1, .05, .05, .05, .05]),
    # relative threshold: 9.5 and 9.2 are not 10% better than 10
    (dict(factor=0.5, patience=1, threshold=0.1),
     [10, 9.5, 9.2, 8.0, 7.9, 7.5],
     [1, 1, .5, .5, .5, .25]),
    (dict(mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs"),
     [0.5, 0.6, 0.62, 0.64, 0.7, 0.7, 0.7],
     [1, 1, 1, .5, .5, .5, .25]),
    # default patience=10: the lr drops only after 11 bad epochs
    (dict(),
     [1.0] + [1.0] * 12,
     [1.0] * 11 + [0.1, 0.1]),
]


@pytest.mark.parametrize("kwargs,metrics,want", PLATEAU_CASES)
def test_plateau_sequence(kwargs, metrics, want):
    opt = _param_opt(1.0)
    s = fm.optim.ReduceLROnPlateau(opt, **kwargs)
    got = _steps(s, len(metrics), [float(m) for m in metrics])
    np.testing.assert_allclose(got, np.array(want, float), rtol=1e-12, atol=0)


def test_plateau_eps_blocks_tiny_changes():
    opt = _param_opt(1e-9)
    s = fm.optim.ReduceLROnPlateau(opt, factor=0.5, patience=0)  # eps=1e-8 > 5e-10
    _steps(s, 4, [1.0, 1.0, 1.0, 1.0])
    assert opt.lr == 1e-9


# ---------------------------------------------------------------------------------------
# Inside fit

def _data(n=48, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.sin(x @ rng.normal(size=(d, 2))) + 0.1 * rng.normal(size=(n, 2))
    return x, y


def _net(seed=3):
    return fm.Sequential(fm.Linear(4, 16, dtype="float64"), fm.Tanh(),
                         fm.Linear(16, 2, dtype="float64"), dtype="float64", seed=seed)


def test_history_lr_is_the_lr_used_in_each_epoch():
    x, y = _data()
    net = _net()
    opt = fm.optim.SGD(net.parameters(), lr=0.1)
    sched = fm.optim.StepLR(opt, step_size=3, gamma=0.5)
    epochs = 10
    hist = net.fit(x, y, optimizer=opt, epochs=epochs, scheduler=sched, shuffle=False)
    # epoch e (1-based) runs after e-1 scheduler steps
    want = np.array([0.1 * 0.5 ** ((e - 1) // 3) for e in range(1, epochs + 1)])
    assert hist.lr.shape == (epochs,)
    np.testing.assert_allclose(hist.lr, want, rtol=1e-12, atol=0)
    # after fit the scheduler has stepped once per epoch
    assert sched.last_epoch == epochs
    assert opt.lr == pytest.approx(0.1 * 0.5 ** (epochs // 3), rel=1e-12)


def test_history_lr_without_scheduler_is_constant():
    x, y = _data()
    net = _net()
    opt = fm.optim.Adam(net.parameters(), lr=3e-3)
    hist = net.fit(x, y, optimizer=opt, epochs=5)
    np.testing.assert_array_equal(hist.lr, np.full(5, 3e-3))


def _manual_epochs(net, opt, x, y, epochs, batch_size, set_lr):
    """fit(shuffle=False) by hand: train_step per batch, epoch loss as the size-weighted
    mean, then set_lr(epoch, epoch_loss) to change the lr for the next epoch."""
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    losses, lrs = [], []
    for e in range(1, epochs + 1):
        lrs.append(opt.lr)
        total = 0.0
        for start in range(0, n, bs):
            xb, yb = x[start:start + bs], y[start:start + bs]
            total += net.train_step(xb, yb, loss="mse", optimizer=opt) * float(xb.shape[0])
        losses.append(total / float(n))
        set_lr(e, losses[-1])
    return np.array(losses), np.array(lrs)


@pytest.mark.parametrize("batch_size", [None, 10])
@pytest.mark.parametrize("kind", ["step", "exp", "cosine"])
def test_fit_with_scheduler_equals_manual_loop_bitwise(kind, batch_size):
    x, y = _data()
    epochs = 9
    a, b = _net(), _net()
    opt_a = fm.optim.Adam(a.parameters(), lr=0.02)
    opt_b = fm.optim.Adam(b.parameters(), lr=0.02)
    make = {"step": lambda o: fm.optim.StepLR(o, step_size=2, gamma=0.3),
            "exp": lambda o: fm.optim.ExponentialLR(o, gamma=0.8),
            "cosine": lambda o: fm.optim.CosineAnnealingLR(o, T_max=5, eta_min=1e-3)}[kind]
    hist = a.fit(x, y, optimizer=opt_a, epochs=epochs, batch_size=batch_size, shuffle=False,
                 scheduler=make(opt_a))
    base = 0.02
    formula = {"step": lambda e: base * 0.3 ** (e // 2),
               "exp": lambda e: base * 0.8 ** e,
               "cosine": lambda e: 1e-3 + (base - 1e-3) * (1 + math.cos(math.pi * e / 5)) / 2}[kind]

    def set_lr(e, _loss):
        opt_b.lr = formula(e)

    losses, lrs = _manual_epochs(b, opt_b, x, y, epochs, batch_size, set_lr)
    np.testing.assert_array_equal(hist.loss, losses)
    np.testing.assert_allclose(hist.lr, lrs, rtol=1e-12, atol=0)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        # the lrs agree to rounding; the trajectories with them agree closely
        np.testing.assert_allclose(pa.data, pb.data, rtol=1e-9, atol=1e-12)


def test_fit_with_scheduler_bitwise_when_lrs_are_identical():
    """Same lr values (the scheduler's own numbers fed to the loop): bit for bit."""
    x, y = _data()
    epochs = 8
    a, b = _net(), _net()
    opt_a = fm.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    opt_b = fm.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    hist = a.fit(x, y, optimizer=opt_a, epochs=epochs, batch_size=16, shuffle=False,
                 scheduler=fm.optim.StepLR(opt_a, step_size=3, gamma=0.25))
    shadow = fm.optim.StepLR(_param_opt(0.1), step_size=3, gamma=0.25)

    def set_lr(e, _loss):
        shadow.step()
        opt_b.lr = shadow.optimizer.lr

    losses, lrs = _manual_epochs(b, opt_b, x, y, epochs, 16, set_lr)
    np.testing.assert_array_equal(hist.loss, losses)
    np.testing.assert_array_equal(hist.lr, lrs)
    np.testing.assert_array_equal(_flat(a), _flat(b))


def test_fit_with_plateau_on_training_loss_bitwise():
    """Without validation data ReduceLROnPlateau monitors the epoch's training loss."""
    x, y = _data()
    epochs = 12
    a, b = _net(), _net()
    opt_a = fm.optim.SGD(a.parameters(), lr=0.05)
    opt_b = fm.optim.SGD(b.parameters(), lr=0.05)
    kw = dict(factor=0.5, patience=0, threshold=0.05)  # demands 5% per epoch: drops often
    hist = a.fit(x, y, optimizer=opt_a, epochs=epochs, shuffle=False,
                 scheduler=fm.optim.ReduceLROnPlateau(opt_a, **kw))
    sched_b = fm.optim.ReduceLROnPlateau(opt_b, **kw)
    losses, lrs = _manual_epochs(b, opt_b, x, y, epochs, None,
                                 lambda e, loss: sched_b.step(loss))
    assert lrs[-1] < lrs[0]  # the schedule did reduce
    np.testing.assert_array_equal(hist.loss, losses)
    np.testing.assert_array_equal(hist.lr, lrs)
    np.testing.assert_array_equal(_flat(a), _flat(b))


def test_fit_with_plateau_monitors_validation_loss():
    x, y = _data(64)
    xv, yv = x[48:], y[48:] * -1.0  # validation disagrees with training: val loss stalls
    x, y = x[:48], y[:48]
    net = _net()
    opt = fm.optim.SGD(net.parameters(), lr=0.05)
    sched = fm.optim.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    hist = net.fit(x, y, optimizer=opt, epochs=15, shuffle=False, validation_data=(xv, yv),
                   scheduler=sched)
    # replay the scheduler on the recorded validation losses
    shadow = fm.optim.ReduceLROnPlateau(_param_opt(0.05), factor=0.5, patience=1)
    want = [0.05]
    for v in hist.val_loss[:-1]:
        shadow.step(v)
        want.append(shadow.optimizer.lr)
    np.testing.assert_array_equal(hist.lr, np.array(want))
    assert hist.lr[-1] < 0.05


def test_scheduler_of_another_optimizer_rejected():
    x, y = _data()
    net = _net()
    opt = fm.optim.SGD(net.parameters(), lr=0.1)
    other = fm.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError):
        net.fit(x, y, optimizer=opt, epochs=2, scheduler=fm.optim.StepLR(other, 1))


def test_fit_refuses_a_scheduler_that_is_not_a_schedule():
    net = fm.Sequential(fm.Linear(2, 1), seed=0)

    class Fake:
        optimizer = net._optimizer(None)

        def step(self):
            pass

    with pytest.raises(TypeError, match="scheduler must be a fastmlp.optim.lr_scheduler"):
        net.fit(np.ones((4, 2)), np.ones(4), epochs=1, scheduler=Fake())
