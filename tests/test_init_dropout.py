"""Weight initialisation (Linear(init=...), fm.init) and Dropout inside a Sequential."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastmlp as fm


def _flat(net):
    """All parameters of a model, concatenated (a copy)."""
    return np.concatenate([p.data.ravel() for p in net.parameters()])


F64 = "float64"

# ---------------------------------------------------------------------------------------
# Initialisation statistics. A non-square layer (fan_in != fan_out) tells the fans apart:
# Linear(in=256, out=1024) is torch's weight of shape (1024, 256): fan_in 256, fan_out 1024.
IN, OUT = 256, 1024
N = IN * OUT

# init -> (distribution, bound or std) with torch.nn.init's default arguments
EXPECTED = {
    # kaiming_*: a=0, mode="fan_in", nonlinearity="leaky_relu" -> gain sqrt(2)
    "kaiming_uniform": ("uniform", math.sqrt(2.0) * math.sqrt(3.0 / IN)),
    "kaiming_normal": ("normal", math.sqrt(2.0) / math.sqrt(IN)),
    # xavier_*: gain 1
    "xavier_uniform": ("uniform", math.sqrt(6.0 / (IN + OUT))),
    "xavier_normal": ("normal", math.sqrt(2.0 / (IN + OUT))),
    # torch.nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
    "default": ("uniform", 1.0 / math.sqrt(IN)),
}


def _check_stats(w, dist, scale):
    w = np.asarray(w, np.float64).ravel()
    n = w.size
    if dist == "uniform":
        std = scale / math.sqrt(3.0)
        assert np.abs(w).max() <= scale
        # the extremes of 262144 uniform draws lie within 1e-4 relative of the bounds
        assert w.max() > scale * (1 - 1e-3) and w.min() < -scale * (1 - 1e-3)
        # std of the sample std of a uniform: std * sqrt(0.8 / 4n) ~ 0.09% -> 6 sigma
        assert np.std(w) == pytest.approx(std, rel=6 * math.sqrt(0.2 / n))
    else:
        std = scale
        assert np.std(w) == pytest.approx(std, rel=6 * math.sqrt(0.5 / n))
        # a normal, not a uniform: about 4.55% of draws beyond 2 sigma (uniform: 0%)
        frac = np.mean(np.abs(w) > 2 * std)
        assert abs(frac - 0.0455) < 6 * math.sqrt(0.0455 * 0.9545 / n)
    assert abs(w.mean()) < 6 * std / math.sqrt(n)


@pytest.mark.parametrize("init", sorted(EXPECTED))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_init_statistics(init, dtype):
    layer = fm.Linear(IN, OUT, dtype=dtype, init=init)
    net = fm.Sequential(layer, dtype=dtype, seed=11)
    assert net[0] is layer and layer.weight.data.dtype == np.dtype(dtype)
    dist, scale = EXPECTED[init]
    _check_stats(layer.weight.data, dist, scale)
    if init == "default":
        b = layer.bias.data.astype(np.float64)
        bound = 1.0 / math.sqrt(IN)
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound
        assert np.std(b) == pytest.approx(bound / math.sqrt(3), rel=0.1)
    else:
        np.testing.assert_array_equal(layer.bias.data, 0)


@pytest.mark.parametrize("init", sorted(EXPECTED))
def test_linear_init_statistics_without_sequential_seed(init):
    layer = fm.Linear(IN, OUT, dtype=F64, init=init)
    dist, scale = EXPECTED[init]
    _check_stats(layer.weight.data, dist, scale)


def test_default_init_small_layer_bounds():
    for fan_in in (1, 3, 10, 100):
        layer = fm.Linear(fan_in, 200, dtype=F64)
        fm.Sequential(layer, dtype=F64, seed=fan_in)
        bound = 1.0 / math.sqrt(fan_in)
        assert np.abs(layer.weight.data).max() <= bound
        assert np.abs(layer.bias.data).max() <= bound
        assert np.abs(layer.weight.data).max() > 0.9 * bound


def test_zeros_init():
    layer = fm.Linear(7, 5, dtype=F64, init="zeros")
    fm.Sequential(layer, fm.ReLU(), fm.Linear(5, 2), dtype=F64, seed=0)
    np.testing.assert_array_equal(layer.weight.data, 0)
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_unknown_init_rejected():
    with pytest.raises(ValueError):
        fm.Linear(3, 4, init="orthogonal")


@pytest.mark.parametrize("init", sorted(EXPECTED) + ["zeros"])
def test_sequential_seed_determinism(init):
    def make(seed):
        return fm.Sequential(fm.Linear(6, 9, dtype=F64, init=init), fm.Tanh(),
                             fm.Linear(9, 3, dtype=F64, init=init), dtype=F64, seed=seed)

    a, b, c = make(5), make(5), make(6)
    np.testing.assert_array_equal(_flat(a), _flat(b))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    if init != "zeros":
        assert not np.array_equal(_flat(a), _flat(c))
        # two layers of one net are not the same draws
        assert not np.array_equal(a[0].weight.data[:3, :3], a[2].weight.data[:3, :3])


def _param(shape, dtype=F64):
    layer = fm.Linear(shape[0], shape[1], dtype=dtype)
    return layer.weight


@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                                "xavier_normal_", "uniform_", "normal_"])
def test_init_functions_seeded(fn):
    f = getattr(fm.init, fn)
    p, q, r = _param((30, 40)), _param((30, 40)), _param((30, 40))
    assert f(p, seed=123) is p
    f(q, seed=123)
    f(r, seed=124)
    np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(p.data, r.data)
    # a Generator as seed continues its stream
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    f(p, seed=g1)
    f(p, seed=g1)
    f(q, seed=g2)
    assert not np.array_equal(p.data, q.data)
    f(q, seed=g2)
    np.testing.assert_array_equal(p.data, q.data)


def test_init_functions_write_in_place_into_the_model():
    net = fm.Sequential(fm.Linear(4, 5, dtype=F64), fm.Linear(5, 2, dtype=F64), dtype=F64,
                        seed=0)
    w = net[0].weight
    view = w.data
    fm.init.normal_(w, 3.0, 0.5, seed=1)
    assert w.data is view  # still the flat buffer's view
    np.testing.assert_array_equal(net.state_dict()["0.weight"], w.data)
    fm.init.zeros_(net[1].bias)
    np.testing.assert_array_equal(net[1].bias.data, 0)
    out = net.predict(np.ones((1, 4)))
    np.testing.assert_allclose(out, (np.ones((1, 4)) @ w.data + net[0].bias.data)
                               @ net[1].weight.data, rtol=1e-12)


def test_calculate_gain():
    assert fm.init.calculate_gain("linear") == 1.0
    assert fm.init.calculate_gain("sigmoid") == 1.0
    assert fm.init.calculate_gain("tanh") == pytest.approx(5.0 / 3)
    assert fm.init.calculate_gain("relu") == pytest.approx(math.sqrt(2.0))
    assert fm.init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2.0 / (1 + 0.01 ** 2)))
    assert fm.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2.0 / 1.04))
    with pytest.raises(ValueError):
        fm.init.calculate_gain("swish")


def test_kaiming_arguments():
    p = _param((IN, OUT))
    # a=sqrt(5) (torch.nn.Linear's choice) gives the bound 1/sqrt(fan_in)
    fm.init.kaiming_uniform_(p, a=math.sqrt(5), seed=0)
    _check_stats(p.data, "uniform", 1.0 / math.sqrt(IN))
    fm.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu", seed=0)
    _check_stats(p.data, "normal", math.sqrt(2.0) / math.sqrt(OUT))
    fm.init.kaiming_uniform_(p, nonlinearity="tanh", seed=0)
    _check_stats(p.data, "uniform", 5.0 / 3 * math.sqrt(3.0 / IN))
    fm.init.xavier_normal_(p, gain=2.0, seed=0)
    _check_stats(p.data, "normal", 2.0 * math.sqrt(2.0 / (IN + OUT)))


def test_init_on_a_bias_uses_its_length():
    b = fm.Linear(10, 400, dtype=F64).bias
    fm.init.uniform_(b, -2.0, 3.0, seed=0)
    assert b.data.min() >= -2.0 and b.data.max() < 3.0
    assert b.shape == (400,)


# ---------------------------------------------------------------------------------------
# Dropout (only inside a Sequential, which owns the masks)

def _drop_net(p, width=500, dtype="float32", seed=0):
    return fm.Sequential(fm.Linear(20, width, dtype=dtype), fm.Dropout(p), dtype=dtype,
                         seed=seed)


def _x(n=200, d=20, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_fraction_and_scale(p):
    net = _drop_net(p)
    x = _x()
    clean = net.predict(x)  # inference skips dropout
    out = net.forward(x)
    assert net.training
    dropped = out == 0
    n = out.size
    assert abs(dropped.mean() - p) < 6 * math.sqrt(p * (1 - p) / n)
    assert not np.any(clean == 0)  # so every zero above is a dropped unit
    scale = np.float32(1.0 / (1.0 - p))
    np.testing.assert_allclose(out[~dropped], clean[~dropped] * scale, rtol=2e-7, atol=0)
    # each row and each column has its own mask (not one mask broadcast)
    assert len({tuple(r) for r in dropped[:20]}) == 20
    assert not np.all(dropped == dropped[:, :1])


def test_dropout_p0_and_p1():
    x = _x()
    net = _drop_net(0.0)
    np.testing.assert_array_equal(net.forward(x), net.predict(x))
    net = _drop_net(1.0)
    np.testing.assert_array_equal(net.forward(x), 0)


def test_dropout_new_mask_each_forward():
    net = _drop_net(0.5)
    x = _x()
    a = net.forward(x).copy()
    b = net.forward(x).copy()
    assert not np.array_equal(a == 0, b == 0)


def test_dropout_eval_is_identity():
    net = _drop_net(0.5)
    x = _x()
    net.eval()
    assert not net.training
    np.testing.assert_array_equal(net.forward(x), net.predict(x))
    np.testing.assert_array_equal(net(x), net.predict(x))
    net.train()
    assert np.mean(net.forward(x) == 0) > 0.4


def test_dropout_standalone_forward_raises_and_bad_p():
    with pytest.raises(RuntimeError):
        fm.Dropout(0.5).forward(np.ones((2, 2)))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError):
            fm.Dropout(p)


def test_predict_ignores_dropout_in_train_mode():
    net = fm.Sequential(fm.Linear(20, 30), fm.ReLU(), fm.Dropout(0.5), fm.Linear(30, 3),
                        seed=1)
    ref = fm.Sequential(fm.Linear(20, 30), fm.ReLU(), fm.Linear(30, 3), seed=1)
    ref.load_state_dict({k.replace("3.", "2."): v for k, v in net.state_dict().items()})
    x = _x(50)
    np.testing.assert_array_equal(net.predict(x), ref.predict(x))
    np.testing.assert_array_equal(net.predict(x), net.predict(x))


def _dropout_mlp(seed, p=0.3):
    return fm.Sequential(fm.Linear(20, 32, dtype=F64), fm.ReLU(), fm.Dropout(p),
                         fm.Linear(32, 1, dtype=F64), dtype=F64, seed=seed)


def test_dropout_fit_deterministic_from_seed():
    x = _x(64, dtype=np.float64)
    y = np.sin(x[:, :1])
    runs = []
    for seed in (4, 4):
        net = _dropout_mlp(seed)
        h = net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-2), epochs=5,
                    batch_size=16, seed=0)
        runs.append((h.loss, _flat(net)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_dropout_different_seeds_differ():
    x = _x(64, dtype=np.float64)
    y = np.sin(x[:, :1])
    a, b = _dropout_mlp(4), _dropout_mlp(5)
    b.load_state_dict(a.state_dict())  # same start: only the dropout masks differ
    for net in (a, b):
        net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=1e-2), epochs=3, seed=0,
                shuffle=False)
    assert not np.array_equal(_flat(a), _flat(b))
    # and without dropout the same start gives the same result
    c, d = _dropout_mlp(4, p=0.0), _dropout_mlp(5, p=0.0)
    d.load_state_dict(c.state_dict())
    for net in (c, d):
        net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=1e-2), epochs=3, seed=0,
                shuffle=False)
    np.testing.assert_array_equal(_flat(c), _flat(d))


def test_dropout_fit_differs_from_no_dropout_and_trains():
    x = _x(64, dtype=np.float64)
    y = np.sin(x[:, :1])
    a, b = _dropout_mlp(4), _dropout_mlp(4, p=0.0)
    b.load_state_dict(a.state_dict())
    ha = a.fit(x, y, optimizer=fm.optim.Adam(a.parameters(), lr=1e-2), epochs=30, seed=0)
    b.fit(x, y, optimizer=fm.optim.Adam(b.parameters(), lr=1e-2), epochs=30, seed=0)
    assert not np.array_equal(_flat(a), _flat(b))
    assert ha.loss[-1] < ha.loss[0]


def test_dropout_backward_uses_the_forward_mask():
    """Linear(W1) -> Dropout -> Linear(I, 0): the output shows the mask; the gradients must
    follow it (float64)."""
    h, p = 40, 0.4
    net = fm.Sequential(fm.Linear(20, h, dtype=F64), fm.Dropout(p), fm.Linear(h, h, dtype=F64),
                        dtype=F64, seed=2)
    net[2].weight.data = np.eye(h)
    net[2].bias.data = np.zeros(h)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 20))
    g = rng.normal(size=(30, h))
    w1, b1 = net[0].weight.data.copy(), net[0].bias.data.copy()
    pre = x @ w1 + b1
    out = net.forward(x).copy()
    keep = out != 0
    assert 0.45 < keep.mean() < 0.75
    scale = 1.0 / (1.0 - p)
    np.testing.assert_allclose(out[keep], pre[keep] * scale, rtol=1e-12)
    net.zero_grad()
    dx = net.backward(g)
    gd = g * keep * scale  # gradient through the dropout
    np.testing.assert_allclose(net[2].weight.grad, out.T @ g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[2].bias.grad, g.sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[0].weight.grad, x.T @ gd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[0].bias.grad, gd.sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, gd @ w1.T, rtol=1e-10, atol=1e-12)
    # a second backward of the same forward uses the same mask (accumulates)
    net.backward(g)
    np.testing.assert_allclose(net[0].weight.grad, 2 * (x.T @ gd), rtol=1e-10, atol=1e-12)


def test_dropout_backward_last_layer():
    p = 0.5
    net = _drop_net(p, width=25, dtype=F64, seed=7)
    x = _x(40, dtype=np.float64)
    g = np.random.default_rng(1).normal(size=(40, 25))
    out = net.forward(x).copy()
    keep = out != 0
    net.zero_grad()
    dx = net.backward(g)
    gd = g * keep / (1 - p)
    np.testing.assert_allclose(net[0].weight.grad, x.T @ gd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, gd @ net[0].weight.data.T, rtol=1e-10, atol=1e-12)


def test_train_step_applies_dropout_and_eval_train_step_does_not():
    x = _x(32, dtype=np.float64)
    y = np.cos(x[:, :1])
    a, b = _dropout_mlp(1, p=0.5), _dropout_mlp(1, p=0.0)
    b.load_state_dict(a.state_dict())
    la = a.train_step(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1))
    lb = b.train_step(x, y, optimizer=fm.optim.SGD(b.parameters(), lr=0.1))
    assert la != lb
    c, d = _dropout_mlp(1, p=0.5), _dropout_mlp(1, p=0.0)
    d.load_state_dict(c.state_dict())
    c.eval()
    d.eval()
    lc = c.train_step(x, y, optimizer=fm.optim.SGD(c.parameters(), lr=0.1))
    ld = d.train_step(x, y, optimizer=fm.optim.SGD(d.parameters(), lr=0.1))
    assert lc == ld
    np.testing.assert_array_equal(_flat(c), _flat(d))


def test_eval_mode_survives_fit():
    """fit may train with dropout, but a model put in eval mode must still be in eval mode
    afterwards: forward() must not apply dropout then."""
    net = _drop_net(0.5, dtype=F64)
    x = _x(16, dtype=np.float64)
    net.eval()
    net.fit(x, np.zeros((16, 500)), optimizer=fm.optim.SGD(net.parameters(), lr=1e-3),
            epochs=1)
    assert not net.training
    np.testing.assert_array_equal(net.forward(x), net.predict(x))


def test_dropout_backward_in_eval_mode_is_identity():
    """eval(): forward is the identity, so backward must pass gradients through unmasked."""
    net = fm.Sequential(fm.Linear(3, 40, dtype=F64), fm.Dropout(0.5), dtype=F64, seed=0)
    net.eval()
    x = np.random.default_rng(0).normal(size=(5, 3))
    g = np.ones((5, 40))
    np.testing.assert_array_equal(net.forward(x), net.predict(x))
    net.zero_grad()
    dx = net.backward(g)
    np.testing.assert_allclose(net[0].bias.grad, np.full(40, 5.0), rtol=1e-12)
    np.testing.assert_allclose(net[0].weight.grad, x.T @ g, rtol=1e-12)
    np.testing.assert_allclose(dx, g @ net[0].weight.data.T, rtol=1e-12)
