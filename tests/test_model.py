"""Sequential: forward, backward, inference, parameters and initialisation vs numpy_ref."""
import math

import numpy as np
import pytest

import fastmlp as fm
import numpy_ref as R
from helpers import ACTIVATIONS, DTYPES, SIZES, assert_close, mlp, ref_layers


def _forward_backward(net, x, g):
    net.zero_grad()
    out = net.forward(x)
    gx = net.backward(g)
    return out, gx, [p.grad.copy() for p in net.parameters()]


def _check_against_ref(net, x, g, dtype):
    layers = ref_layers(net)
    out, gx, grads = _forward_backward(net, x, g)
    rout, inputs = R.mlp_forward(layers, x.astype(np.float64))
    rgx, rgrads = R.mlp_backward(layers, inputs, g.astype(np.float64))
    assert out.dtype == np.dtype(dtype) and gx.dtype == np.dtype(dtype)
    assert_close(out, rout, dtype, err_msg="forward")
    assert_close(gx, rgx, dtype, err_msg="dloss/dx")
    assert len(grads) == len(rgrads)
    for (name, _), got, want in zip(net.named_parameters(), grads, rgrads):
        assert_close(got, want, dtype, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_forward_backward_each_activation(rng, dtype, act):
    net = mlp([5, 17, 9, 3], act=act, dtype=dtype, seed=3)
    x = (rng.standard_normal((11, 5)) * 2).astype(dtype)
    g = rng.standard_normal((11, 3)).astype(dtype)
    _check_against_ref(net, x, g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s", SIZES)
def test_forward_backward_awkward_widths(rng, dtype, s):
    for sizes, n in (([s, 4, 2], 5), ([3, s, 2], 5), ([3, 4, s], 5), ([s, s, s], s), ([3, 4, 1], s)):
        net = mlp(sizes, act="tanh", dtype=dtype, seed=s)
        x = rng.standard_normal((n, sizes[0])).astype(dtype)
        g = rng.standard_normal((n, sizes[-1])).astype(dtype)
        _check_against_ref(net, x, g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_small_batches_through_wide_layers(rng, dtype, act):
    """Batches of up to 9 rows through layers wider than a register tile: the input
    gradients g W^T run as dot products with each row of g, the activation's derivative
    applied after."""
    net = mlp([40, 70, 33, 3], act=act, dtype=dtype, seed=4)
    for n in range(1, 10):
        x = rng.standard_normal((n, 40)).astype(dtype)
        g = rng.standard_normal((n, 3)).astype(dtype)
        _check_against_ref(net, x, g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_of_one(rng, dtype):
    net = mlp([7, 33, 1], act="relu", dtype=dtype, seed=0)
    x = rng.standard_normal((1, 7)).astype(dtype)
    g = np.ones((1, 1), dtype)
    _check_against_ref(net, x, g, dtype)
    np.testing.assert_array_equal(net(x), net.forward(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layers_in_any_order_and_without_bias(rng, dtype):
    net = fm.Sequential(fm.Tanh(), fm.Linear(4, 6, bias=False), fm.Sigmoid(), fm.SiLU(),
                        fm.Linear(6, 5), fm.Linear(5, 2, bias=False), fm.GELU(), dtype=dtype,
                        seed=2)
    assert [n for n, _ in net.named_parameters()] == ["1.weight", "4.weight", "4.bias",
                                                      "5.weight"]
    x = rng.standard_normal((9, 4)).astype(dtype)
    g = rng.standard_normal((9, 2)).astype(dtype)
    _check_against_ref(net, x, g, dtype)
    np.testing.assert_array_equal(net(x), net.forward(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n", [1, 3, 64, 257])
def test_inference_is_bitwise_forward(rng, dtype, act, n):
    net = mlp([6, 33, 17, 2], act=act, dtype=dtype, seed=4)
    x = (rng.standard_normal((n, 6)) * 2).astype(dtype)
    a = net(x)
    b = net.forward(x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(net.predict(x), a)
    assert a.dtype == np.dtype(dtype) and a.shape == (n, 2)


def test_predict_scratch_of_every_size_gives_the_reference(rng):
    """predict's scratch (two batch x widest-layer buffers) comes from the stack, from
    the calling thread's kept buffer (grown, then reused by a smaller batch that must
    not see the old values), or past 64 MiB from a buffer of the call's own."""
    net = mlp([2, 4096, 3], dtype="float64", seed=3)
    layers = ref_layers(net)
    for n in (300, 700, 50, 1100, 200):  # 1100 rows: 2 x 1100 x 4096 doubles = 69 MiB
        x = rng.standard_normal((n, 2))
        assert_close(net.predict(x), R.mlp_forward(layers, x)[0])


def test_predict_caches_nothing(rng):
    net = mlp([3, 8, 1], dtype="float64")
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((7, 3))
    g = rng.standard_normal((5, 1))
    net.forward(x1)
    net.predict(x2)
    net(x2)
    gx = net.backward(g)  # still the gradient for x1
    layers = ref_layers(net)
    _, inputs = R.mlp_forward(layers, x1)
    assert_close(gx, R.mlp_backward(layers, inputs, g)[0])


def test_backward_accumulates_and_zero_grad(rng):
    net = mlp([4, 7, 2], act="tanh", dtype="float64", seed=1)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    net.zero_grad()
    net.forward(x)
    net.backward(g)
    once = [p.grad.copy() for p in net.parameters()]
    net.forward(x)
    net.backward(g)
    for p, g1 in zip(net.parameters(), once):
        assert_close(p.grad, 2 * g1)
    net.zero_grad()
    for p in net.parameters():
        assert not p.grad.any()


def test_forward_input_is_copied_for_backward(rng):
    net = mlp([3, 5, 1], act="tanh", dtype="float64")
    x = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 1))
    x_saved = x.copy()
    net.zero_grad()
    net.forward(x)
    x[...] = 100.0  # the caller reuses its buffer
    net.backward(g)
    layers = ref_layers(net)
    _, inputs = R.mlp_forward(layers, x_saved)
    _, rgrads = R.mlp_backward(layers, inputs, g)
    assert_close(net.parameters()[0].grad, rgrads[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_give_identical_results(rng, dtype):
    net = mlp([6, 9, 3], act="gelu", dtype=dtype, seed=0)
    X = rng.standard_normal((24, 12)).astype(dtype)
    x = np.ascontiguousarray(X[::2, ::2])
    g = rng.standard_normal((12, 3)).astype(dtype)
    want_pred = net(x)
    want = _forward_backward(net, x, g)
    for name, xl in (("x[::2, ::2]", X[::2, ::2]), ("fortran", np.asfortranarray(x)),
                     ("reversed", x[::-1][::-1]), ("transposed", np.ascontiguousarray(x.T).T)):
        np.testing.assert_array_equal(net(xl), want_pred, err_msg=name)
        np.testing.assert_array_equal(net.predict(xl), want_pred, err_msg=name)
        got = _forward_backward(net, xl, np.asfortranarray(g))
        np.testing.assert_array_equal(got[0], want[0], err_msg=name)
        np.testing.assert_array_equal(got[1], want[1], err_msg=name)
        for a, b in zip(got[2], want[2]):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_layouts_in_train_step(rng):
    X = rng.standard_normal((40, 6))
    Y = rng.standard_normal((40, 4))
    x, y = np.ascontiguousarray(X[::2, ::2]), np.ascontiguousarray(Y[::2, ::2])
    results = []
    for xs, ys in ((x, y), (X[::2, ::2], Y[::2, ::2]), (np.asfortranarray(x), np.asfortranarray(y))):
        net = mlp([3, 8, 2], dtype="float64", seed=5)
        opt = fm.optim.SGD(net.parameters(), lr=0.1)
        losses = [net.train_step(xs, ys, optimizer=opt) for _ in range(5)]
        results.append((losses, [p.data.copy() for p in net.parameters()]))
    for losses, params in results[1:]:
        assert losses == results[0][0]
        for a, b in zip(params, results[0][1]):
            np.testing.assert_array_equal(a, b)


def test_other_input_dtypes_are_converted(rng):
    net = mlp([3, 5, 1], dtype="float32", seed=0)
    xi = rng.integers(-5, 5, (4, 3))
    np.testing.assert_array_equal(net(xi), net(xi.astype(np.float32)))
    np.testing.assert_array_equal(net(xi.astype(np.float16)), net(xi.astype(np.float32)))
    np.testing.assert_array_equal(net(xi > 0), net((xi > 0).astype(np.float32)))
    np.testing.assert_array_equal(net(xi.tolist()), net(xi.astype(np.float32)))
    x64 = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(net(x64), net(x64.astype(np.float32)))
    assert net(x64).dtype == np.float32
    net64 = mlp([3, 5, 1], dtype="float64", seed=0)
    assert net64(xi.astype(np.float32)).dtype == np.float64


def test_predict_propagates_nan(rng):
    for act in ("relu", "leaky_relu", "tanh", "gelu", "silu", "softplus"):
        net = mlp([3, 16, 2], act=act, dtype="float32", seed=0)
        x = rng.standard_normal((5, 3)).astype(np.float32)
        x[2, 1] = np.nan
        y = net(x)
        assert np.isnan(y[2]).all(), act
        assert np.isfinite(np.delete(y, 2, axis=0)).all(), act
        np.testing.assert_array_equal(np.isnan(net.forward(x)), np.isnan(y))


# --- containers and parameters ----------------------------------------------------------

def test_containers_and_named_parameters():
    l0, l2 = fm.Linear(3, 4), fm.Linear(4, 2)
    act = fm.ReLU()
    net = fm.Sequential(l0, act, l2, seed=0)
    assert len(net) == 3 and net[0] is l0 and net[1] is act and net[2] is l2
    assert list(net) == [l0, act, l2]
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    params = net.parameters()
    assert params[0] is l0.weight and params[1] is l0.bias and params[3] is l2.bias
    assert [p.shape for p in params] == [(3, 4), (4,), (4, 2), (2,)]
    assert [p.name for p in params] == names
    for p in params:
        assert p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype


def test_parameter_data_is_a_live_view(rng):
    net = mlp([3, 4, 2], dtype="float64", seed=0)
    x = rng.standard_normal((5, 3))
    w = net[2].weight.data
    w[...] = 0.0  # writing into the view changes the model
    net[2].bias.data[...] = [1.0, -2.0]
    np.testing.assert_array_equal(net(x), np.tile([1.0, -2.0], (5, 1)))
    new = rng.standard_normal((3, 4))
    net[0].weight.data = new  # the setter copies into the same buffer
    assert net[0].weight.data is not new
    np.testing.assert_array_equal(net[0].weight.data, new)
    before = net.parameters()[0].data.__array_interface__["data"][0]
    net[0].weight.data = rng.standard_normal((3, 4))
    assert net.parameters()[0].data.__array_interface__["data"][0] == before
    assert_close(net(x), R.mlp_forward(ref_layers(net), x)[0])


def test_gradients_are_live_views(rng):
    net = mlp([3, 4, 2], dtype="float64", seed=0)
    opt = fm.optim.SGD(net.parameters(), lr=1.0)
    before = [p.data.copy() for p in net.parameters()]
    for p in net.parameters():
        p.grad[...] = 0.5  # written through the view, read by the native optimizer
    opt.step()
    for p, b in zip(net.parameters(), before):
        assert_close(p.data, b - 0.5)


# --- initialisation -------------------------------------------------------------------

@pytest.mark.parametrize("fan_in", [1, 3, 32, 257])
def test_default_init_bounds(fan_in):
    net = fm.Sequential(fm.Linear(fan_in, 300), fm.ReLU(), fm.Linear(300, 1), seed=7)
    bound = 1.0 / math.sqrt(fan_in)
    for layer, k in ((net[0], fan_in), (net[2], 300)):
        bound = 1.0 / math.sqrt(k)
        for p in (layer.weight.data, layer.bias.data):
            assert np.abs(p).max() <= bound
        w = layer.weight.data
        # U(-bound, bound): uses the whole range, centred, variance bound^2 / 3
        if w.size >= 300:
            assert np.abs(w).max() > 0.95 * bound
            assert abs(w.mean()) < 0.1 * bound
            assert abs(w.var() - bound ** 2 / 3) < 0.15 * bound ** 2 / 3


def test_unseeded_linear_also_within_bounds():
    layer = fm.Linear(50, 40)
    assert np.abs(layer.weight.data).max() <= 1 / math.sqrt(50)
    assert np.abs(layer.weight.data).max() > 0.9 / math.sqrt(50)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_same_weights_and_losses(rng, dtype):
    x = rng.standard_normal((30, 4))
    y = rng.standard_normal((30, 2))

    def run(seed):
        net = fm.Sequential(fm.Linear(4, 16), fm.Tanh(), fm.Linear(16, 2), dtype=dtype, seed=seed)
        w0 = [p.data.copy() for p in net.parameters()]
        opt = fm.optim.Adam(net.parameters(), lr=1e-2)
        losses = [net.train_step(x, y, optimizer=opt) for _ in range(10)]
        return w0, losses, [p.data.copy() for p in net.parameters()]

    a, b, c = run(0), run(0), run(1)
    for p, q in zip(a[0] + a[2], b[0] + b[2]):
        np.testing.assert_array_equal(p, q)
    assert a[1] == b[1]
    assert all(not np.array_equal(p, q) for p, q in zip(a[0], c[0]))
    assert a[1] != c[1]


def test_seed_matches_dtype_independent_init():
    a = fm.Sequential(fm.Linear(5, 6), fm.Linear(6, 1), dtype="float64", seed=11)
    b = fm.Sequential(fm.Linear(5, 6), fm.Linear(6, 1), dtype="float32", seed=11)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6)


# --- dropout ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
def test_dropout_train_and_eval(rng, p):
    net = fm.Sequential(fm.Linear(8, 64), fm.Dropout(p), dtype="float64", seed=0)
    x = rng.standard_normal((50, 8))
    plain = R.linear(x, net[0].weight.data, net[0].bias.data)
    net.eval()
    np.testing.assert_array_equal(net(x), net.forward(x))
    assert_close(net.forward(x), plain)
    net.train()
    out = net.forward(x)
    kept = out != 0
    assert_close(out[kept], plain[kept] / (1 - p))
    frac = 1 - kept.mean()
    assert abs(frac - p) < 0.05
    # backward uses the same mask
    g = rng.standard_normal(out.shape)
    net.zero_grad()
    gx = net.backward(g)
    gm = np.where(kept, g / (1 - p), 0.0)
    assert_close(gx, gm @ net[0].weight.data.T)
    assert_close(net[0].weight.grad, x.T @ gm)
    # inference ignores dropout even in train mode
    assert_close(net(x), plain)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 100, 1024])
def test_flat_buffers_start_on_a_cache_line(dtype, width):
    # The update's vectors then never straddle two lines (measured 10-20% on batch-1 steps).
    net = fm.Sequential(fm.Linear(width, width), fm.ReLU(), fm.Linear(width, 2), dtype=dtype)
    opt = fm.optim.Adam(net.parameters())
    first = net.parameters()[0]
    for name, a in [("data", first.data), ("grad", first.grad)] + [
            (f"state {i}", s) for i, s in enumerate(opt.state)]:
        assert a.ctypes.data % 64 == 0, name
    assert opt.state[0].size == sum(p.data.size for p in net.parameters())


def test_a_subclass_keeps_its_own_predict(rng):
    # Sequential binds the native predict to each model, but not over an override.
    class Doubled(fm.Sequential):
        def predict(self, x):
            return 2 * super().predict(x)

    x = rng.standard_normal((3, 4)).astype(np.float32)
    plain = fm.Sequential(fm.Linear(4, 2), seed=1)
    doubled = Doubled(fm.Linear(4, 2), seed=1)
    np.testing.assert_array_equal(doubled.predict(x), 2 * plain.predict(x))
    np.testing.assert_array_equal(plain.predict(x), fm.Sequential.predict(plain, x))
