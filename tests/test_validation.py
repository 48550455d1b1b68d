"""API.md "Conventions everywhere": every validation rule, with the message content."""
import re

import numpy as np
import pytest

import fastmlp as fm
from helpers import mlp

F = fm.functional

BAD_DTYPES = {
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "string": lambda a: a.astype(str),
}


def shapes(*parts):
    """A regex that needs every part (escaped) somewhere in the message, in any order."""
    return "".join(f"(?=.*{re.escape(str(p))})" for p in parts)


@pytest.fixture
def net():
    return fm.Sequential(fm.Linear(3, 8), fm.ReLU(), fm.Linear(8, 1), seed=0)


@pytest.fixture
def net2():
    return fm.Sequential(fm.Linear(3, 8), fm.ReLU(), fm.Linear(8, 2), dtype="float64", seed=0)


# --- model dtype ------------------------------------------------------------------------

def test_model_dtypes():
    assert mlp([2, 3, 1], dtype="float32").dtype == np.float32
    assert fm.Sequential(fm.Linear(2, 1)).dtype == np.float32  # default
    for dt in ("float64", np.float64, np.dtype("float64")):
        net = fm.Sequential(fm.Linear(2, 1), dtype=dt)
        assert net.dtype == np.float64
        assert all(p.dtype == np.float64 for p in net.parameters())
        assert net(np.ones((2, 2))).dtype == np.float64
    for dt in ("float16", "int32", np.complex64):
        with pytest.raises(TypeError, match="dtype"):
            fm.Sequential(fm.Linear(2, 1), dtype=dt)
        with pytest.raises(TypeError, match="dtype"):
            fm.Linear(2, 1, dtype=dt)


@pytest.mark.parametrize("dt", ["bogus", "flaot32"])
def test_unknown_model_dtype_name_is_refused(dt):
    # np.dtype("bogus") raises; the model must not fall back to some dtype silently
    with pytest.raises(TypeError, match="dtype"):
        fm.Sequential(fm.Linear(2, 1), dtype=dt)
    with pytest.raises(TypeError, match="dtype"):
        fm.Linear(2, 1, dtype=dt)


# --- input dtypes ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(BAD_DTYPES))
def test_non_real_inputs_raise_type_error(rng, net, kind):
    bad = BAD_DTYPES[kind]
    x = rng.standard_normal((4, 3))
    y = rng.standard_normal((4, 1))
    calls = {
        "predict": lambda: net.predict(bad(x)),
        "call": lambda: net(bad(x)),
        "forward": lambda: net.forward(bad(x)),
        "train_step x": lambda: net.train_step(bad(x), y),
        "train_step y": lambda: net.train_step(x, bad(y)),
        "fit x": lambda: net.fit(bad(x), y, epochs=1),
        "fit y": lambda: net.fit(x, bad(y), epochs=1),
        "linear": lambda: F.linear(bad(x), np.ones((3, 2))),
        "linear w": lambda: F.linear(x, bad(np.ones((3, 2)))),
        "relu": lambda: F.relu(bad(x)),
        "mse_loss": lambda: F.mse_loss(bad(y), y),
        "loss object": lambda: fm.MSELoss()(y, bad(y)),
        "sgd_update_ g": lambda: F.sgd_update_(np.zeros(3), bad(np.ones(3)), lr=0.1),
        "LinearRegression": lambda: fm.LinearRegression().fit(bad(x), y),
        "metrics": lambda: fm.metrics.mse(bad(y), y),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError):
            call()
        # the message names the dtype problem
        try:
            call()
        except TypeError as e:
            assert "dtype" in str(e) or "real" in str(e), (name, str(e))
    net.forward(x)
    with pytest.raises(TypeError):
        net.backward(bad(y))


def test_train_step_converts_int_and_bool_data(rng):
    x = rng.integers(-3, 3, (10, 3))
    y = rng.integers(0, 2, 10).astype(bool)
    a = mlp([3, 4, 1], dtype="float64", seed=0)
    b = mlp([3, 4, 1], dtype="float64", seed=0)
    la = a.train_step(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1))
    lb = b.train_step(x.astype(np.float64), y.astype(np.float64),
                      optimizer=fm.optim.SGD(b.parameters(), lr=0.1))
    assert la == lb


# --- shapes ---------------------------------------------------------------------------

def test_x_with_the_wrong_number_of_features(net):
    x = np.ones((5, 4))
    for call in (net, net.predict, net.forward):
        with pytest.raises(ValueError, match=shapes("x", "3", "(5, 4)")):
            call(x)
    with pytest.raises(ValueError, match=shapes("x", "3", "(5, 4)")):
        net.train_step(x, np.ones(5))
    with pytest.raises(ValueError, match=shapes("x", "(3,)")):
        net(np.ones(3))  # a single sample must be 2-D
    with pytest.raises(ValueError, match="x"):
        net(np.ones((2, 3, 1)))


def test_flat_target_is_a_column_for_one_output(rng, net):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    a = mlp([3, 4, 1], dtype="float64", seed=0)
    b = mlp([3, 4, 1], dtype="float64", seed=0)
    la = a.train_step(x, y, optimizer=fm.optim.SGD(a.parameters(), lr=0.1))
    lb = b.train_step(x, y[:, None], optimizer=fm.optim.SGD(b.parameters(), lr=0.1))
    assert la == lb
    # and the loss is the (n, 1) one, not the (n, n) broadcast
    c = mlp([3, 4, 1], dtype="float64", seed=0)
    expected = float(np.mean((c(x)[:, 0] - y) ** 2))
    assert np.isclose(la, expected, rtol=1e-12)
    assert not np.isclose(la, float(np.mean((c(x) - y) ** 2)), rtol=1e-6)


@pytest.mark.parametrize("yshape", [(6, 2), (6, 6), (1, 6), (6, 1, 1), (3, 2)])
def test_target_shape_mismatch_one_output(rng, net, yshape):
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal(yshape)
    before = [p.data.copy() for p in net.parameters()]
    # the expected shape, or (for another sample count) x's shape, and y's shape
    expected = "(6, 1)" if yshape[0] == 6 else "(6, 3)"
    with pytest.raises(ValueError, match=shapes("y", expected, str(yshape))):
        net.train_step(x, y)
    with pytest.raises(ValueError, match=shapes("y", str(yshape))):
        net.fit(x, y, epochs=1)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


@pytest.mark.parametrize("yshape", [(6,), (6, 1), (6, 3), (2, 6)])
def test_target_shape_mismatch_two_outputs(rng, net2, yshape):
    x = rng.standard_normal((6, 3))
    with pytest.raises(ValueError, match=shapes("y", str(yshape))):
        net2.train_step(x, rng.standard_normal(yshape))


def test_loss_never_broadcasts(rng):
    p = rng.standard_normal((5, 1))
    for bad in (np.ones((5, 5)), np.ones((1, 5)), np.ones(4), np.ones((5, 2))):
        for loss_fn in (fm.MSELoss(), fm.L1Loss(), fm.HuberLoss(), fm.BCEWithLogitsLoss()):
            with pytest.raises(ValueError, match=shapes("target", str(bad.shape))):
                loss_fn(p, bad)
        with pytest.raises(ValueError, match=shapes(str(bad.shape))):
            F.mse_loss(p, bad)
        with pytest.raises(ValueError, match=shapes(str(bad.shape))):
            F.mse_loss_backward(p, bad)
    with pytest.raises(ValueError):
        F.mse_loss(rng.standard_normal((5, 2)), rng.standard_normal(5))


def test_functional_shape_errors(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=shapes("x", "w", "(4, 3)", "(2, 5)")):
        F.linear(x, np.ones((2, 5)))
    with pytest.raises(ValueError, match=shapes("b", "(5,)", "(4,)")):
        F.linear(x, np.ones((3, 5)), np.ones(4))
    with pytest.raises(ValueError, match="x"):
        F.linear(np.ones(3), np.ones((3, 5)))
    with pytest.raises(ValueError, match=shapes("x", "w", "(4, 3)", "(2, 5)")):
        F.linear_backward(x, np.ones((2, 5)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=shapes("grad_out", "(4, 5)", "(4, 4)")):
        F.linear_backward(x, np.ones((3, 5)), np.ones((4, 4)))
    with pytest.raises(ValueError, match=shapes("grad_out", "(4, 3)", "(3, 4)")):
        F.relu_backward(x, np.ones((3, 4)))


def test_backward_grad_shape(rng, net2):
    net2.forward(rng.standard_normal((5, 3)))
    for bad in ((5, 1), (4, 2), (2, 5), (10,)):
        with pytest.raises(ValueError, match=shapes("grad", "(5, 2)", str(bad))):
            net2.backward(np.ones(bad))


# --- bad data for training ------------------------------------------------------------

@pytest.mark.parametrize("where", ["x", "y"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_training_data(rng, net, where, value):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    (x if where == "x" else y)[3, 0] = value
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=where):
        net.train_step(x, y)
    with pytest.raises(ValueError, match=where):
        net.fit(x, y, epochs=2)
    with pytest.raises(ValueError, match="validation"):
        net.fit(np.ones((6, 3)), np.ones(6), epochs=1, validation_data=(x, y))
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_empty_and_mismatched_training_data(rng, net):
    with pytest.raises(ValueError, match="empty"):
        net.train_step(np.ones((0, 3)), np.ones(0))
    with pytest.raises(ValueError, match="empty"):
        net.fit(np.ones((0, 3)), np.ones((0, 1)), epochs=1)
    for xs, ys in (((6, 3), (5,)), ((6, 3), (7, 1)), ((1, 3), (2,)), ((6, 3), ())):
        x, y = np.ones(xs), np.ones(ys)
        with pytest.raises(ValueError, match=shapes(str(xs))):
            net.train_step(x, y)
        with pytest.raises(ValueError, match=shapes(str(xs))):
            net.fit(x, y, epochs=1)



def test_empty_input_of_forward_and_losses_names_the_argument(net):
    # Found by tests/fuzz: the core's "forward: empty batch" and "loss: empty input" named
    # no argument.
    with pytest.raises(ValueError, match=r"x is empty: shape \(0, 3\)"):
        net.forward(np.ones((0, 3)))
    for loss in (fm.MSELoss(), fm.CrossEntropyLoss()):
        with pytest.raises(ValueError, match=r"pred is empty: shape \(0, 2\)"):
            loss(np.ones((0, 2)), np.ones(0, np.int64))
    with pytest.raises(ValueError, match=r"pred is empty: shape \(4, 0\)"):
        fm.MSELoss()(np.ones((4, 0)), np.ones((4, 0)))
    with pytest.raises(ValueError, match="pred is empty"):
        fm.functional.mse_loss(np.ones(0), np.ones(0))

def test_fit_argument_validation(rng, net):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    for kw in ({"epochs": 0}, {"epochs": -1}, {"epochs": 2.5}, {"batch_size": 0},
               {"batch_size": -3}, {"log_every": -1}):
        with pytest.raises((ValueError, TypeError), match=list(kw)[0]):
            net.fit(x, y, **kw)
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(x, y, epochs=1, validation_data=(np.ones((4, 3)), np.ones(5)))


# --- in-place functions ---------------------------------------------------------------

def _inplace_calls(w):
    g = np.ones(w.shape)
    return {
        "sgd_update_": lambda: F.sgd_update_(w, g, lr=0.1),
        "adam_update_": lambda: F.adam_update_(w, g, np.zeros(w.shape, w.dtype),
                                               np.zeros(w.shape, w.dtype), step=1),
    }


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.int32, bool])
def test_inplace_refuses_wrong_dtype(dtype):
    w = np.ones((3, 4), dtype)
    for name, call in _inplace_calls(w).items():
        with pytest.raises(TypeError, match=shapes("w", np.dtype(dtype).name)):
            call()
        np.testing.assert_array_equal(w, np.ones((3, 4), dtype))


def test_inplace_refuses_lists():
    w = [1.0, 2.0]
    with pytest.raises(TypeError, match="w"):
        F.sgd_update_(w, [1.0, 1.0], lr=0.1)
    assert w == [1.0, 2.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_refuses_read_only(dtype):
    w = np.ones((3, 4), dtype)
    w.flags.writeable = False
    for call in _inplace_calls(w).values():
        with pytest.raises(ValueError, match=shapes("w", "read-only")):
            call()
    np.testing.assert_array_equal(w, 1.0)
    bw = np.broadcast_to(np.ones(4, dtype), (3, 4))  # read-only view
    with pytest.raises(ValueError, match="read-only"):
        F.sgd_update_(bw, np.ones((3, 4)), lr=0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_refuses_non_contiguous(dtype):
    base = np.ones((6, 8), dtype)
    for w in (base[::2], base[:, ::2], base[::2, ::3], base[::-1]):
        for call in _inplace_calls(w).values():
            with pytest.raises(ValueError, match=shapes("w", "contiguous")):
                call()
    np.testing.assert_array_equal(base, 1.0)


def test_inplace_fortran_order_updates_or_raises():
    """A Fortran-ordered w is either updated in place correctly or refused: never a copy."""
    w = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    g = np.ones((3, 4))
    try:
        F.sgd_update_(w, g, lr=0.5)
    except ValueError:
        np.testing.assert_array_equal(w, np.arange(12.0).reshape(3, 4))
    else:
        np.testing.assert_array_equal(w, np.arange(12.0).reshape(3, 4) - 0.5)


def test_inplace_gradient_shape_mismatch():
    with pytest.raises(ValueError, match=shapes("(3, 4)", "(4, 3)")):
        F.sgd_update_(np.ones((3, 4)), np.ones((4, 3)), lr=0.1)
    with pytest.raises(ValueError, match=shapes("(3, 4)", "(12,)")):
        F.sgd_update_(np.ones((3, 4)), np.ones(12), lr=0.1)


def test_adam_update_state_buffers_are_checked():
    w = np.ones(5)
    g = np.ones(5)
    ok = np.zeros(5)
    ro = np.zeros(5)
    ro.flags.writeable = False
    with pytest.raises(TypeError, match=shapes("v", "int64")):
        F.adam_update_(w, g, ok.copy(), np.zeros(5, np.int64), step=1)
    with pytest.raises(ValueError, match=shapes("m", "read-only")):
        F.adam_update_(w, g, ro, ok.copy(), step=1)
    with pytest.raises(ValueError, match=shapes("v", "contiguous")):
        F.adam_update_(w, g, ok.copy(), np.zeros(10)[::2], step=1)
    with pytest.raises(ValueError, match=shapes("m", "(5,)", "(4,)")):
        F.adam_update_(w, g, np.zeros(4), ok.copy(), step=1)
    with pytest.raises(ValueError, match="step"):
        F.adam_update_(w, g, ok.copy(), ok.copy(), step=0)
    np.testing.assert_array_equal(w, 1.0)


def test_adam_update_state_of_the_other_float_dtype_is_a_type_error():
    """m/v must have w's exact dtype: a float32 m for a float64 w is a dtype error."""
    w = np.ones(5)
    m32 = np.zeros(5, np.float32)
    with pytest.raises(TypeError, match=shapes("m", "float32", "float64")):
        F.adam_update_(w, np.ones(5), m32, np.zeros(5), step=1)
    np.testing.assert_array_equal(w, 1.0)


def test_parameter_data_setter(net):
    p = net[0].weight
    before = p.data.copy()
    buf = p.data
    with pytest.raises(ValueError, match=shapes("(3, 8)", "(8, 3)")):
        p.data = np.ones((8, 3), np.float32)
    with pytest.raises(TypeError):
        p.data = np.ones((3, 8), np.complex64)
    np.testing.assert_array_equal(p.data, before)
    p.data = np.full((3, 8), 0.25, np.float32)
    assert p.data is buf and (buf == 0.25).all()


def test_parameter_data_setter_needs_the_exact_dtype(net):
    """API.md: Parameter.data needs an array of the exact dtype; anything else raises."""
    p = net[0].weight
    before = p.data.copy()
    with pytest.raises(TypeError, match=shapes("float32", "float64")):
        p.data = np.full((3, 8), 0.1, np.float64)  # would round silently
    with pytest.raises(TypeError, match=shapes("float32", "int64")):
        p.data = np.ones((3, 8), np.int64)
    np.testing.assert_array_equal(p.data, before)


# --- protocol -------------------------------------------------------------------------

def test_backward_before_forward(net):
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones((2, 1)))
    net.predict(np.ones((2, 3)))  # inference caches nothing
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.ones((2, 1)))
    fresh = fm.Sequential(fm.Linear(3, 1))
    with pytest.raises(RuntimeError):
        fresh.backward(np.ones((2, 1)))


def test_loss_backward_before_call():
    for loss_fn in (fm.MSELoss(), fm.L1Loss(), fm.HuberLoss(), fm.BCEWithLogitsLoss(),
                    fm.CrossEntropyLoss()):
        with pytest.raises(RuntimeError, match="backward"):
            loss_fn.backward()


def test_dropout_outside_a_sequential():
    with pytest.raises(RuntimeError):
        fm.Dropout(0.5)(np.ones((2, 2)))


# --- layer sizes and hyperparameters --------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, -7])
def test_layer_sizes_must_be_positive(bad):
    with pytest.raises(ValueError, match="in_features"):
        fm.Linear(bad, 3)
    with pytest.raises(ValueError, match="out_features"):
        fm.Linear(3, bad)


@pytest.mark.parametrize("bad", [2.0, 2.5, "3", None, True, np.float64(3.0)])
def test_layer_sizes_must_be_ints(bad):
    with pytest.raises((TypeError, ValueError), match="in_features"):
        fm.Linear(bad, 3)
    with pytest.raises((TypeError, ValueError), match="out_features"):
        fm.Linear(3, bad)


def test_numpy_int_layer_sizes_are_fine():
    layer = fm.Linear(np.int64(3), np.int32(2))
    assert layer.weight.shape == (3, 2)
    assert type(layer.in_features) is int


def test_sequential_structure_errors():
    with pytest.raises(ValueError, match=shapes("4", "5")):
        fm.Sequential(fm.Linear(3, 4), fm.ReLU(), fm.Linear(5, 1))
    with pytest.raises(ValueError):
        fm.Sequential()
    with pytest.raises(ValueError, match="Linear"):
        fm.Sequential(fm.ReLU())
    with pytest.raises(TypeError, match="layer 1"):
        fm.Sequential(fm.Linear(3, 4), np.tanh)
    shared = fm.Linear(3, 3)
    fm.Sequential(shared)
    with pytest.raises(ValueError):
        fm.Sequential(shared)


def test_layer_hyperparameters():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p"):
            fm.Dropout(p)
    with pytest.raises(ValueError, match="approximate"):
        fm.GELU(approximate="erf")
    with pytest.raises(ValueError, match="beta"):
        fm.Softplus(beta=0.0)


# --- classification targets -----------------------------------------------------------

def test_cross_entropy_labels(rng):
    net = fm.Sequential(fm.Linear(3, 4), seed=0)
    x = rng.standard_normal((5, 3))
    good = np.array([0, 1, 2, 3, 0])
    opt = fm.optim.SGD(net.parameters(), lr=0.0)
    net.train_step(x, good, loss="cross_entropy", optimizer=opt)
    loss_fn = fm.CrossEntropyLoss()
    logits = net(x)
    for bad, exc, words in (
            (good.astype(np.float64), TypeError, ("integer", "float64")),
            (good.astype(np.float32), TypeError, ("integer",)),
            (good.astype(bool), TypeError, ("integer",)),
            (np.array([0, 1, 2, 4, 0]), ValueError, ("[0, 4)", "4")),
            (np.array([0, -1, 2, 3, 0]), ValueError, ("[0, 4)", "-1")),
            (good[:, None], ValueError, ("(5,)", "(5, 1)")),
            (good[:4], ValueError, ("(5, 3)", "(4,)"))):
        with pytest.raises(exc, match=shapes(*words)):
            net.train_step(x, bad, loss="cross_entropy", optimizer=opt)
        with pytest.raises(exc, match=shapes(*words[:1])):
            net.fit(x, bad, loss="cross_entropy", optimizer=opt, epochs=1)
        if bad.shape[0] == 5:
            with pytest.raises(exc):
                loss_fn(logits, bad)


def test_bce_targets_have_the_output_shape(rng):
    net = fm.Sequential(fm.Linear(3, 2), seed=0)
    x = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=shapes("(5, 2)", "(5,)")):
        net.train_step(x, np.ones(5), loss="bce_with_logits")
    with pytest.raises(ValueError, match=shapes("(5, 2)", "(5, 1)")):
        fm.BCEWithLogitsLoss()(net(x), np.ones((5, 1)))


@pytest.mark.parametrize("spelling", [">f4", "<f4", ">f8", np.dtype(">f8")])
def test_a_byte_order_spelling_means_the_native_dtype(spelling, rng):
    """'>f4' is float32: the model computes natively and fit moves the weights it shows."""
    net = fm.Sequential(fm.Linear(3, 2, dtype=spelling), dtype=spelling, seed=0)
    assert net.dtype == np.dtype(np.dtype(spelling).name) and net.dtype.isnative
    before = net[0].weight.data.copy()
    net.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), epochs=2)
    assert not np.array_equal(before, net[0].weight.data)


def test_finiteness_is_checked_in_blocks_without_a_full_size_mask():
    """fit on data of the model's dtype allocates no temporary as large as x: the
    NaN/Inf check runs over blocks of rows (tracemalloc sees NumPy's allocations)."""
    import tracemalloc
    x = np.ones((200_000, 20), np.float32)  # 16 MB; a full boolean mask would be 4 MB
    y = np.ones((200_000, 1), np.float32)
    net = fm.Sequential(fm.Linear(20, 1), seed=0)
    net.fit(x[:10], y[:10], epochs=1)  # warm-up
    tracemalloc.start()
    net.fit(x, y, epochs=1, batch_size=4096, shuffle=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < x.nbytes / 8, peak
    x[123_456, 7] = np.inf
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        net.fit(x, y, epochs=1)


@pytest.mark.parametrize("call", ["train_step", "fit", "fit_lbfgs"])
def test_backward_after_a_training_call_needs_a_new_forward(call):
    """A training call's forward read its own x (for fit, batch buffers freed on return; for
    a float64 x, the converted copy): backward may not reuse it. ASan found backward after
    fit reading fit's freed batch."""
    net = fm.Sequential(fm.Linear(3, 4), fm.ReLU(), fm.Linear(4, 2), seed=0)
    x, y = np.ones((5, 3)), np.zeros((5, 2))  # float64: converted for the float32 net
    net.forward(np.ones((5, 3), np.float32))
    getattr(net, call)(x, y) if call != "fit" else net.fit(x, y, epochs=1, batch_size=2)
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(np.ones((5, 2), np.float32))
    net.forward(np.ones((5, 3), np.float32))
    assert net.backward(np.ones((5, 2), np.float32)).shape == (5, 3)
