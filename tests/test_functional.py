"""fm.functional kernels against numpy_ref over awkward sizes, dtypes and layouts."""
import numpy as np
import pytest

import fastmlp as fm
import numpy_ref as R
from helpers import ACTIVATIONS, DTYPES, SIZES, assert_close

F = fm.functional


def _shapes(s):
    # (n, in, out) with the awkward size in each position in turn, then everywhere.
    return [(s, 5, 3), (4, s, 3), (4, 5, s), (s, s, s)]


def _data(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s", SIZES)
def test_linear_forward(rng, dtype, s):
    for n, k, m in _shapes(s):
        x, w, b = _data(rng, dtype, n, k), _data(rng, dtype, k, m), _data(rng, dtype, m)
        y = F.linear(x, w, b)
        assert y.dtype == np.dtype(dtype) and y.shape == (n, m)
        ref = R.linear(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
        assert_close(y, ref, dtype, scale=np.sqrt(k) + 1, err_msg=str((n, k, m)))
        y0 = F.linear(x, w)
        assert_close(y0, R.linear(x.astype(np.float64), w.astype(np.float64)), dtype,
                     scale=np.sqrt(k), err_msg=str((n, k, m)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s", SIZES)
def test_linear_backward(rng, dtype, s):
    for n, k, m in _shapes(s):
        x, w, g = _data(rng, dtype, n, k), _data(rng, dtype, k, m), _data(rng, dtype, n, m)
        gx, gw, gb = F.linear_backward(x, w, g)
        rx, rw, rb = R.linear_backward(x.astype(np.float64), w.astype(np.float64),
                                       g.astype(np.float64))
        for got, ref, depth, name in ((gx, rx, m, "gx"), (gw, rw, n, "gw"), (gb, rb, n, "gb")):
            assert got.dtype == np.dtype(dtype), name
            assert_close(got, ref, dtype, scale=np.sqrt(depth) + 1, err_msg=f"{name} {(n, k, m)}")


@pytest.mark.parametrize("dtype,k,m", [(np.float32, 2049, 2051), (np.float64, 1449, 1451)])
def test_outer_products_past_the_caches(rng, dtype, k, m):
    # Products of one k step writing 16 MiB or more are stored past the caches
    # (the driver's kOuterStreamBytes): every row, its unaligned head and its tail
    # still hold the exact products, forward (k x 1 @ 1 x m) and as a batch-1 dw.
    x, w = _data(rng, dtype, k, 1), _data(rng, dtype, 1, m)
    np.testing.assert_array_equal(F.linear(x, w), x * w)
    x1, g1 = _data(rng, dtype, 1, k), _data(rng, dtype, 1, m)
    _, gw, gb = F.linear_backward(x1, _data(rng, dtype, k, m), g1)
    np.testing.assert_array_equal(gw, x1.T * g1)
    np.testing.assert_array_equal(gb, g1[0])


def _layouts(a):
    """The same values as `a` in other memory layouts."""
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 2), a.dtype)
    big[::2, ::2] = a
    rev = np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    return {"fortran": np.asfortranarray(a), "strided": big[::2, ::2],
            "row_strided": np.repeat(a, 2, axis=0)[::2],
            "col_strided": np.repeat(a, 2, axis=1)[:, ::2], "negative": rev,
            "transposed_view": np.ascontiguousarray(a.T).T}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k,m", [(1, 3, 1), (5, 3, 1), (33, 7, 1), (7, 17, 33), (33, 7, 17),
                                   (40, 33, 9)])
def test_linear_layouts_match_c_order(rng, dtype, n, k, m):
    x, w, b, g = (_data(rng, dtype, n, k), _data(rng, dtype, k, m), _data(rng, dtype, m),
                  _data(rng, dtype, n, m))
    y = F.linear(x, w, b)
    bwd = F.linear_backward(x, w, g)
    for name, xl in _layouts(x).items():
        np.testing.assert_array_equal(xl, x)
        np.testing.assert_array_equal(F.linear(xl, w, b), y, err_msg=f"x {name}")
        for got, want in zip(F.linear_backward(xl, w, g), bwd):
            np.testing.assert_array_equal(got, want, err_msg=f"x {name}")
    for name, wl in _layouts(w).items():
        np.testing.assert_array_equal(F.linear(x, wl, b), y, err_msg=f"w {name}")
        for got, want in zip(F.linear_backward(x, wl, g), bwd):
            np.testing.assert_array_equal(got, want, err_msg=f"w {name}")
    for name, gl in _layouts(g).items():
        for got, want in zip(F.linear_backward(x, w, gl), bwd):
            np.testing.assert_array_equal(got, want, err_msg=f"grad_out {name}")
    bs = np.repeat(b, 2)[::2]
    np.testing.assert_array_equal(F.linear(x, w, bs), y, err_msg="strided b")


def test_linear_strided_slices_of_a_bigger_array(rng):
    # The brief's layouts: x[:, ::2] and x[::2] of a bigger array.
    X = rng.standard_normal((20, 14))
    w = rng.standard_normal((7, 5))
    b = rng.standard_normal(5)
    for xs in (X[:, ::2][:10], X[::2, :7], X[::2, ::2]):
        xc = np.ascontiguousarray(xs)
        np.testing.assert_array_equal(F.linear(xs, w, b), F.linear(xc, w, b))
        assert_close(F.linear(xs, w, b), R.linear(xc, w, b))


def test_linear_integer_and_bool_inputs_are_converted(rng):
    x = rng.integers(-3, 4, (5, 4))
    w = rng.standard_normal((4, 2))
    assert_close(F.linear(x, w), R.linear(x.astype(np.float64), w))
    xb = rng.integers(0, 2, (5, 4)).astype(bool)
    assert_close(F.linear(xb, w), R.linear(xb.astype(np.float64), w))
    w32 = w.astype(np.float32)
    x16 = x.astype(np.float16)
    y = F.linear(x16, w32)
    assert y.dtype == np.float32
    assert_close(y, R.linear(x.astype(np.float64), w32.astype(np.float64)), "float32")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (1, 1), (3, 17), (33, 257), (2, 3, 4)])
def test_relu_and_backward(rng, dtype, shape):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x.reshape(-1)[0] = 0.0  # the kink: relu'(0) = 0 as in torch
    g = rng.standard_normal(shape).astype(dtype)
    y = F.relu(x)
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    np.testing.assert_array_equal(y, R.act_forward("relu", x))
    np.testing.assert_array_equal(F.relu_backward(x, g), R.act_backward("relu", x, g))



@pytest.mark.parametrize("x", [np.float64(-1.5), np.array(2.0), 0.5])
def test_activation_of_a_scalar_keeps_its_0d_shape(x):
    # Found by tests/fuzz: the result had shape (1,), and backward refused a 0-d gradient.
    assert F.relu(x).shape == ()
    assert F.activation(x, "tanh") == pytest.approx(np.tanh(x))
    g = F.activation_backward(x, np.array(3.0), "tanh")
    assert g.shape == () and g == pytest.approx(3.0 * (1 - np.tanh(x) ** 2))

def test_relu_layouts(rng):
    x = rng.standard_normal((8, 6))
    g = rng.standard_normal((8, 6))
    for name, xl in _layouts(x).items():
        np.testing.assert_array_equal(F.relu(xl), R.act_forward("relu", x), err_msg=name)
        np.testing.assert_array_equal(F.relu_backward(xl, _layouts(g)[name]),
                                      R.act_backward("relu", x, g), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layers_forward_and_backward(rng, dtype, name):
    make, kind, params = ACTIVATIONS[name]
    x = (rng.standard_normal((13, 33)) * 4).astype(dtype)
    x[0, :5] = [0.0, 25.0, -25.0, 0.5, -0.5]
    g = rng.standard_normal(x.shape).astype(dtype)
    layer = make()
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, R.act_forward(kind, x.astype(np.float64), **params), dtype)
    a, b = layer._params()
    gx = F.activation_backward(x, g, layer._kind, a, b)
    assert_close(gx, R.act_backward(kind, x.astype(np.float64), g.astype(np.float64), **params),
                 dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1,), (7,), (7, 1), (17, 3), (257, 33)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_and_backward(rng, dtype, shape, reduction):
    p = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    v, g = R.mse(p.astype(np.float64), y.astype(np.float64), reduction)
    got = F.mse_loss(p, y, reduction=reduction)
    assert isinstance(got, float)
    assert_close(got, v, dtype)
    gg = F.mse_loss_backward(p, y, reduction=reduction)
    assert gg.shape == p.shape and gg.dtype == np.dtype(dtype)
    assert_close(gg, g, dtype)


def test_mse_loss_column_and_flat_targets(rng):
    p = rng.standard_normal((9, 1))
    y = rng.standard_normal(9)
    v, g = R.mse(p, y[:, None])
    assert_close(F.mse_loss(p, y), v)
    assert_close(F.mse_loss_backward(p, y), g)
    assert_close(F.mse_loss(p[:, 0], y[:, None]), v)
    assert_close(F.mse_loss_backward(p[:, 0], y[:, None]), g[:, 0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (3, 7), (257,), (33, 17)])
def test_sgd_update_in_place(rng, dtype, shape):
    w = rng.standard_normal(shape).astype(dtype)
    ref = w.astype(np.float64)
    ptr = w.__array_interface__["data"][0]
    opt = R.SGD(lr=0.05)
    for _ in range(50):
        g = rng.standard_normal(shape).astype(dtype)
        assert F.sgd_update_(w, g, lr=0.05) is None
        opt.step([ref], [g.astype(np.float64)])
    assert w.__array_interface__["data"][0] == ptr and w.dtype == np.dtype(dtype)
    assert_close(w, ref, dtype, scale=np.abs(ref).max() + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (3, 7), (257,), (33, 17)])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_update_in_place(rng, dtype, shape, wd):
    w = rng.standard_normal(shape).astype(dtype)
    m, v = np.zeros_like(w), np.zeros_like(w)
    ref = w.astype(np.float64)
    opt = R.Adam(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    for t in range(1, 61):
        g = rng.standard_normal(shape).astype(dtype)
        F.adam_update_(w, g, m, v, step=t, lr=1e-2, beta1=0.8, beta2=0.95, eps=1e-6,
                       weight_decay=wd)
        opt.step([ref], [g.astype(np.float64)])
    rtol = 1e-10 if dtype == "float64" else 1e-4
    assert_close(w, ref, rtol=rtol, scale=1.0)
    assert_close(m, opt.m[0], rtol=rtol, scale=1.0)
    assert_close(v, opt.v[0], rtol=rtol, scale=1.0)


def test_adam_update_defaults(rng):
    w = rng.standard_normal((4, 3))
    m, v = np.zeros_like(w), np.zeros_like(w)
    ref = w.copy()
    opt = R.Adam()
    for t in range(1, 4):
        g = rng.standard_normal(w.shape)
        F.adam_update_(w, g, m, v, step=t)
        opt.step([ref], [g])
    assert_close(w, ref)


def test_seed_from_scratch_network_trains_like_numpy(rng):
    """The API.md walk-through, 50 steps, against the same steps in numpy_ref."""
    x = rng.standard_normal((40, 3))
    y = x @ np.array([[0.2], [-1.3], [-0.5]]) + 0.1 * rng.standard_normal((40, 1))
    w1, b1 = rng.standard_normal((3, 8)), np.zeros(8)
    w2, b2 = rng.standard_normal((8, 1)), np.zeros(1)
    layers = [("linear", w1.copy(), b1.copy()), ("act", "relu", {}),
              ("linear", w2.copy(), b2.copy())]
    opt = R.SGD(lr=1e-2)
    for _ in range(50):
        h = F.linear(x, w1, b1)
        a = F.relu(h)
        yp = F.linear(a, w2, b2)
        loss = F.mse_loss(yp, y)
        gyp = F.mse_loss_backward(yp, y)
        ga, gw2, gb2 = F.linear_backward(a, w2, gyp)
        gh = F.relu_backward(h, ga)
        gx, gw1, gb1 = F.linear_backward(x, w1, gh)
        for w, g in ((w1, gw1), (b1, gb1), (w2, gw2), (b2, gb2)):
            F.sgd_update_(w, g, lr=1e-2)
        ref_loss = R.train_step(layers, x, y, "mse", opt)
        assert_close(loss, ref_loss)
    for got, (want) in zip((w1, b1, w2, b2), R.mlp_params(layers)):
        assert_close(got, want, scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_shape_errors_name_both_shapes(rng, dtype):
    """Exact arrays of one dtype go straight to the core; a shape that does not fit still
    gets the message that names the argument and both shapes."""
    x, w = _data(rng, dtype, 4, 3), _data(rng, dtype, 3, 2)
    with pytest.raises(ValueError, match=r"x has shape \(4, 3\) but w has shape \(2, 3\)"):
        F.linear(x, w.T.copy())
    with pytest.raises(ValueError, match=r"b must have shape \(2,\), got \(3,\)"):
        F.linear(x, w, _data(rng, dtype, 3))
    with pytest.raises(ValueError, match="x must be 2-D"):
        F.linear(x[0], w)
    assert_close(F.linear(x, w, np.ones(2, dtype)), R.linear(x, w, np.ones(2, dtype)))
