"""Optimizers: 60-step trajectories against numpy_ref's torch.optim update rules."""
import numpy as np
import pytest

import fastmlp as fm
import numpy_ref as R
from helpers import assert_close, mlp, ref_layers

STEPS = 60

CONFIGS = {
    "sgd": (fm.optim.SGD, R.SGD, dict(lr=0.05)),
    "sgd_wd": (fm.optim.SGD, R.SGD, dict(lr=0.05, weight_decay=0.1)),
    "sgd_momentum": (fm.optim.SGD, R.SGD, dict(lr=0.02, momentum=0.9)),
    "sgd_dampening": (fm.optim.SGD, R.SGD, dict(lr=0.02, momentum=0.8, dampening=0.3,
                                                weight_decay=0.05)),
    "sgd_nesterov": (fm.optim.SGD, R.SGD, dict(lr=0.02, momentum=0.9, nesterov=True,
                                               weight_decay=0.01)),
    "adam": (fm.optim.Adam, R.Adam, dict(lr=1e-2)),
    "adam_wd": (fm.optim.Adam, R.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                            weight_decay=0.1)),
    "adam_amsgrad": (fm.optim.Adam, R.Adam, dict(lr=1e-2, amsgrad=True)),
    "adamw": (fm.optim.AdamW, R.AdamW, dict(lr=1e-2)),
    "adamw_amsgrad": (fm.optim.AdamW, R.AdamW, dict(lr=1e-2, weight_decay=0.2, amsgrad=True)),
    "rmsprop": (fm.optim.RMSprop, R.RMSprop, dict(lr=1e-2)),
    "rmsprop_all": (fm.optim.RMSprop, R.RMSprop, dict(lr=5e-3, alpha=0.9, eps=1e-6,
                                                      weight_decay=0.05, momentum=0.5,
                                                      centered=True)),
    "rmsprop_centered": (fm.optim.RMSprop, R.RMSprop, dict(lr=5e-3, centered=True)),
    "rmsprop_momentum": (fm.optim.RMSprop, R.RMSprop, dict(lr=5e-3, momentum=0.9)),
}


def _problem(rng, dtype):
    x = rng.standard_normal((32, 5)).astype(dtype)
    y = (np.sin(x[:, :2]) + 0.1 * rng.standard_normal((32, 2))).astype(dtype)
    net = mlp([5, 16, 7, 2], act="tanh", dtype=dtype, seed=21)
    return x, y, net


def _tol(dtype):
    # float32: each of the 60 steps rounds; a few ulps per step, compounded
    return 1e-10 if dtype == "float64" else 2e-4


# Centered RMSprop with momentum divides by sqrt(E[g^2] - E[g]^2), which cancels
# catastrophically in float32 once the gradients settle: float64 only.
CASES = [("float64", n) for n in sorted(CONFIGS)] + \
    [("float32", n) for n in sorted(CONFIGS) if n != "rmsprop_all"]


@pytest.mark.parametrize("dtype,name", CASES)
def test_manual_loop_trajectory(rng, dtype, name):
    """forward, loss_fn, backward, opt.step, opt.zero_grad: as in a torch loop."""
    fm_cls, ref_cls, kw = CONFIGS[name]
    x, y, net = _problem(rng, dtype)
    layers = ref_layers(net)
    opt = fm_cls(net.parameters(), **kw)
    ref_opt = ref_cls(**kw)
    loss_fn = fm.MSELoss()
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    losses, ref_losses = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        out = net.forward(x)
        losses.append(loss_fn(out, y))
        net.backward(loss_fn.backward())
        opt.step()
        ref_losses.append(R.train_step(layers, x64, y64, "mse", ref_opt))
    assert opt.step_count == STEPS
    assert_close(losses, ref_losses, rtol=_tol(dtype))
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, rtol=_tol(dtype), scale=1.0, err_msg=p.name)
    assert ref_losses[-1] < ref_losses[0]  # the problem does train


@pytest.mark.parametrize("dtype,name", CASES)
def test_train_step_trajectory(rng, dtype, name):
    fm_cls, ref_cls, kw = CONFIGS[name]
    x, y, net = _problem(rng, dtype)
    layers = ref_layers(net)
    opt = fm_cls(net.parameters(), **kw)
    ref_opt = ref_cls(**kw)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    losses = [net.train_step(x, y, loss="mse", optimizer=opt) for _ in range(STEPS)]
    ref_losses = [R.train_step(layers, x64, y64, "mse", ref_opt) for _ in range(STEPS)]
    assert all(isinstance(v, float) for v in losses)
    assert_close(losses, ref_losses, rtol=_tol(dtype))
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, rtol=_tol(dtype), scale=1.0, err_msg=p.name)


@pytest.mark.parametrize("loss", ["l1", "huber", "bce_with_logits", "cross_entropy"])
def test_train_step_other_losses(rng, loss):
    x = rng.standard_normal((24, 4))
    if loss == "cross_entropy":
        y = rng.integers(0, 3, 24)
    elif loss == "bce_with_logits":
        y = rng.uniform(size=(24, 3))
    else:
        y = rng.standard_normal((24, 3))
    net = mlp([4, 9, 3], act="silu", dtype="float64", seed=2)
    layers = ref_layers(net)
    opt, ref_opt = fm.optim.Adam(net.parameters(), lr=1e-2), R.Adam(lr=1e-2)
    for _ in range(STEPS):
        assert_close(net.train_step(x, y, loss=loss, optimizer=opt),
                     R.train_step(layers, x, y, loss, ref_opt))
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, scale=1.0, err_msg=p.name)


def test_train_step_sum_reduction_and_huber_delta(rng):
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))
    net = mlp([3, 5, 1], dtype="float64", seed=0)
    layers = ref_layers(net)
    opt, ref_opt = fm.optim.SGD(net.parameters(), lr=1e-3), R.SGD(lr=1e-3)
    loss = fm.HuberLoss(reduction="sum", delta=0.4)
    for _ in range(STEPS):
        assert_close(net.train_step(x, y, loss=loss, optimizer=opt),
                     R.train_step(layers, x, y, "huber", ref_opt, reduction="sum", delta=0.4))


def test_train_step_default_optimizer_is_adam_1e3(rng):
    x, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    net = mlp([3, 5, 1], dtype="float64", seed=0)
    layers = ref_layers(net)
    ref_opt = R.Adam(lr=1e-3)
    for _ in range(STEPS):
        assert_close(net.train_step(x, y), R.train_step(layers, x, y[:, None], "mse", ref_opt))
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, scale=1.0)


def test_train_step_returns_loss_before_update(rng):
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))
    net = mlp([3, 5, 1], dtype="float64", seed=0)
    before = fm.MSELoss()(net(x), y)
    got = net.train_step(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.5))
    assert_close(got, before)
    assert fm.MSELoss()(net(x), y) != before


def test_train_step_clip_grad_norm(rng):
    x, y = rng.standard_normal((16, 3)), 10 * rng.standard_normal((16, 2))
    net = mlp([3, 6, 2], dtype="float64", seed=0)
    layers = ref_layers(net)
    opt = fm.optim.SGD(net.parameters(), lr=0.1)
    max_norm = 0.5
    for _ in range(20):
        out, inputs = R.mlp_forward(layers, x)
        v, g = R.mse(out, y)
        _, grads = R.mlp_backward(layers, inputs, g)
        norm = np.sqrt(sum(float((a * a).sum()) for a in grads))
        coef = min(1.0, max_norm / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_
        for p, gr in zip(R.mlp_params(layers), grads):
            p -= 0.1 * coef * gr
        assert_close(net.train_step(x, y, optimizer=opt, clip_grad_norm=max_norm), v)
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, scale=1.0)


def test_optimizer_on_a_subset_of_parameters(rng):
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    net = mlp([3, 6, 4, 2], dtype="float64", seed=0)
    layers = ref_layers(net)
    frozen = [p.data.copy() for p in net[0].parameters()]
    opt = fm.optim.Adam(net[2].parameters() + net[4].parameters(), lr=1e-2)
    ref_opt = R.Adam(lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        net.forward(x)
        net.backward(fm.functional.mse_loss_backward(net.forward(x), y))
        opt.step()
        out, inputs = R.mlp_forward(layers, x)
        _, grads = R.mlp_backward(layers, inputs, R.mse(out, y)[1])
        ref_opt.step(R.mlp_params(layers)[2:], grads[2:])
    for p, q in zip(net[0].parameters(), frozen):
        np.testing.assert_array_equal(p.data, q)
    for p, q in zip(net.parameters()[2:], R.mlp_params(layers)[2:]):
        assert_close(p.data, q, scale=1.0, err_msg=p.name)


def test_optimizer_on_a_standalone_linear(rng):
    layer = fm.Linear(4, 3, dtype="float64")
    w0, b0 = layer.weight.data.copy(), layer.bias.data.copy()
    opt = fm.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    ref_opt, ref = R.SGD(lr=0.1, momentum=0.9), [w0, b0]
    for _ in range(10):
        gs = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
        layer.weight.grad[...], layer.bias.grad[...] = gs
        opt.step()
        ref_opt.step(ref, gs)
    assert_close(layer.weight.data, ref[0], scale=1.0)
    assert_close(layer.bias.data, ref[1], scale=1.0)
    opt.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def test_lr_can_change_between_steps(rng):
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 1))
    net = mlp([3, 5, 1], dtype="float64", seed=0)
    layers = ref_layers(net)
    opt, ref_opt = fm.optim.Adam(net.parameters(), lr=1e-2), R.Adam(lr=1e-2)
    for step in range(STEPS):
        lr = 1e-2 * 0.95 ** step
        opt.lr = lr
        ref_opt.lr = lr
        assert opt.lr == lr
        assert_close(net.train_step(x, y, optimizer=opt), R.train_step(layers, x, y, "mse", ref_opt))


def test_optimizer_hyperparameters_are_validated():
    net = mlp([3, 2, 1], dtype="float32")
    ps = net.parameters()
    with pytest.raises(ValueError, match="lr"):
        fm.optim.SGD(ps, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        fm.optim.Adam(ps, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="nesterov"):
        fm.optim.SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        fm.optim.Adam([])
    with pytest.raises(TypeError, match="params"):
        fm.optim.Adam([np.zeros(3)])
    net64 = mlp([3, 2, 1], dtype="float64")
    with pytest.raises(TypeError, match="dtype"):
        net.train_step(np.ones((2, 3)), np.ones(2), optimizer=fm.optim.SGD(net64.parameters()))
    with pytest.raises(TypeError, match="optimizer"):
        net.train_step(np.ones((2, 3)), np.ones(2), optimizer="adam")


def test_adamw_default_weight_decay_is_1e_2(rng):
    net = mlp([3, 4, 1], dtype="float64", seed=0)
    layers = ref_layers(net)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    opt, ref_opt = fm.optim.AdamW(net.parameters()), R.AdamW(weight_decay=1e-2)
    for _ in range(STEPS):
        net.train_step(x, y, optimizer=opt)
        R.train_step(layers, x, y, "mse", ref_opt)
    for p, q in zip(net.parameters(), R.mlp_params(layers)):
        assert_close(p.data, q, scale=1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_update_counts_subnormal_moments_as_zero(dtype):
    """Adam's moments decay through the subnormal range where a gradient stays zero (a
    dead ReLU unit); the update flushes them to zero, as XLA does, since arithmetic on
    them ran several times slower. Values whose arithmetic stays normal update as NumPy
    computes them, and the calling thread's floating-point mode comes back."""
    from fastmlp import _core
    t = np.dtype(dtype).type
    tiny = np.finfo(dtype).tiny  # the smallest normal value
    spec = _core.OptSpec()
    spec.kind = _core.OptKind.adam
    p, g = np.ones(40, dtype), np.zeros(40, dtype)
    m = np.full(40, tiny / t(4), dtype)  # subnormal
    v = np.full(40, tiny / t(4), dtype)
    m[20:] = tiny * t(100)  # (g - m) * (1 - beta1) stays normal
    v[20:] = t(1e-6)
    want_m = m + (g - m) * (t(1) - t(spec.beta1))  # the update's rule; NumPy keeps subnormals
    want_v = v * t(spec.beta2)
    assert np.all(want_m[:20] > 0) and np.all(want_v[:20] > 0)
    update = _core.optim_update_f32 if dtype == "float32" else _core.optim_update_f64
    update(spec, 2, p, g, [m, v])
    assert np.all(m[:20] == 0) and np.all(v[:20] == 0)
    np.testing.assert_array_equal(m[20:], want_m[20:])
    np.testing.assert_array_equal(v[20:], want_v[20:])
    assert np.all(p == 1)  # steps far below one ulp of 1
    assert tiny / t(4) > 0  # this thread keeps subnormals again
