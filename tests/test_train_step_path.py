"""train_step's per-step path: arrays that are already exactly what the core reads go
straight in (Net.train_step_exact), anything else takes the full path that checks and
converts. Both must give the same bits, and the per-step path must refuse, not guess."""
import numpy as np
import pytest

import fastmlp as fm
from fastmlp.losses import NAMED_SPECS

OTHER = {np.float32: np.float64, np.float64: np.float32}


def _case(kind, dtype, n=40):
    """Values that float32 holds exactly, so that either dtype carries the same ones."""
    rng = np.random.default_rng(7)
    if kind == "classify":
        sizes, loss = (5, 16, 4), "cross_entropy"
        y = rng.integers(0, 4, n).astype(np.int64)
    else:
        sizes, loss = ((3, 32, 1), "mse") if kind == "seed" else ((4, 8, 2), "huber")
        y = rng.standard_normal((n, sizes[-1])).astype(np.float32).astype(dtype)
        if kind == "seed_vector":
            sizes, loss, y = (3, 32, 1), "mse", y[:, 0].copy()
    x = rng.standard_normal((n, sizes[0])).astype(np.float32).astype(dtype)
    return sizes, loss, x, y


def _net(sizes, dtype):
    d, h, o = sizes
    return fm.Sequential(fm.Linear(d, h), fm.ReLU(), fm.Linear(h, o), dtype=dtype, seed=1)


def _weights(net):
    return np.concatenate([p.data.ravel() for p in net.parameters()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["seed", "seed_vector", "multi", "classify"])
def test_per_step_path_gives_the_bits_of_the_full_path(kind, dtype):
    sizes, loss, x, y = _case(kind, dtype)
    fast, full = _net(sizes, dtype), _net(sizes, dtype)
    opt_fast = fm.optim.Adam(fast.parameters(), lr=1e-2)
    opt_full = fm.optim.Adam(full.parameters(), lr=1e-2)
    # The same values in another dtype (exactly representable): the full path converts.
    x_other = x.astype(OTHER[dtype])
    y_other = y.astype(np.int32) if kind == "classify" else y.astype(OTHER[dtype])
    spec, labels = NAMED_SPECS[loss]
    assert fast._impl.train_step_exact(x_other, y_other, spec, labels, opt_fast.native) is None
    for _ in range(4):
        got = fast.train_step(x, y, loss=loss, optimizer=opt_fast)
        want = full.train_step(x_other, y_other, loss=loss, optimizer=opt_full)
        assert got == want
        np.testing.assert_array_equal(_weights(fast), _weights(full))
    assert np.isfinite(got) and got > 0


def test_per_step_path_refuses_what_it_does_not_read_as_it_is():
    sizes, loss, x, y = _case("seed", np.float32)
    net = _net(sizes, np.float32)
    opt = fm.optim.SGD(net.parameters(), lr=0.0)
    spec, labels = NAMED_SPECS[loss]

    def exact(xa, ya, lab=labels):
        return net._impl.train_step_exact(xa, ya, spec, lab, opt.native)

    assert isinstance(exact(x, y), float)
    nan_x, nan_y = x.copy(), y.copy()
    nan_x[3, 1], nan_y[5, 0] = np.nan, np.inf
    refused = {
        "x of another dtype": (x.astype(np.float64), y),
        "x not contiguous": (np.asfortranarray(x), y),
        "x too wide": (np.hstack([x, x]), y),
        "x a list": (x.tolist(), y),
        "x empty": (x[:0], y[:0]),
        "x with NaN": (nan_x, y),
        "y with Inf": (x, nan_y),
        "y of other rows": (x, y[:-1]),
        "y a strided view": (x, np.hstack([y, y])[:, :1]),
    }
    for what, (xa, ya) in refused.items():
        assert exact(xa, ya) is None, what
    # Labels: int64 of n values in [0, out) only.
    csizes, closs, cx, cy = _case("classify", np.float32)
    cnet = _net(csizes, np.float32)
    copt = fm.optim.SGD(cnet.parameters(), lr=0.0)
    cspec, clab = NAMED_SPECS[closs]
    assert isinstance(cnet._impl.train_step_exact(cx, cy, cspec, clab, copt.native), float)
    for bad in (cy.astype(np.int32), np.where(cy == 0, 4, cy), np.where(cy == 0, -1, cy),
                cy[:-1], cy.astype(np.float32)):
        assert cnet._impl.train_step_exact(cx, bad, cspec, clab, copt.native) is None


@pytest.mark.parametrize("what,kwargs,error,match", [
    ("NaN in x", {"x": "nan"}, ValueError, "x contains NaN or Inf"),
    ("labels out of range", {"y": "out_of_range"}, ValueError, r"class labels in \[0, 4\)"),
    ("x of the wrong width", {"x": "wide"}, ValueError, "x"),
])
def test_what_the_per_step_path_refuses_gets_the_full_paths_error(what, kwargs, error, match):
    sizes, loss, x, y = _case("classify", np.float32)
    net = _net(sizes, np.float32)
    opt = fm.optim.SGD(net.parameters(), lr=0.1)
    net.train_step(x, y, loss=loss, optimizer=opt)  # the optimizer checked: the per-step path
    before = _weights(net)
    if kwargs.get("x") == "nan":
        x = x.copy()
        x[0, 0] = np.nan
    if kwargs.get("x") == "wide":
        x = np.hstack([x, x])
    if kwargs.get("y") == "out_of_range":
        y = np.where(y == 0, 4, y)
    with pytest.raises(error, match=match):
        net.train_step(x, y, loss=loss, optimizer=opt)
    np.testing.assert_array_equal(_weights(net), before)
