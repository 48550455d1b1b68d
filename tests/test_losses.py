"""Loss objects (value and backward) against numpy_ref, PyTorch's formulas."""
import numpy as np
import pytest

import fastmlp as fm
import numpy_ref as R
from helpers import DTYPES, assert_close

REGRESSION = {
    "mse": (lambda red: fm.MSELoss(reduction=red), {}),
    "l1": (lambda red: fm.L1Loss(reduction=red), {}),
    "huber": (lambda red: fm.HuberLoss(reduction=red), {"delta": 1.0}),
    "huber_0.3": (lambda red: fm.HuberLoss(reduction=red, delta=0.3), {"delta": 0.3}),
    "huber_2.5": (lambda red: fm.HuberLoss(reduction=red, delta=2.5), {"delta": 2.5}),
}


def _targets(rng, kind, shape, dtype):
    if kind == "poisson_nll":
        return rng.poisson(2.0, shape).astype(dtype)
    if kind == "bce_with_logits":
        return rng.uniform(0, 1, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", sorted(REGRESSION) + ["bce_with_logits", "poisson_nll"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 1), (17, 3), (257, 2), (5,)])
def test_elementwise_losses(rng, dtype, reduction, name, shape):
    if name == "bce_with_logits":
        make, kw, kind = (lambda red: fm.BCEWithLogitsLoss(reduction=red)), {}, name
    elif name == "poisson_nll":
        make, kw, kind = (lambda red: fm.PoissonNLLLoss(reduction=red)), {}, name
    else:
        (make, kw), kind = REGRESSION[name], name.split("_")[0]
    p = (rng.standard_normal(shape) * 2).astype(dtype)
    y = _targets(rng, kind, shape, dtype)
    loss_fn = make(reduction)
    v = loss_fn(p, y)
    assert isinstance(v, float)
    rv, rg = R.loss(kind, p.astype(np.float64), y.astype(np.float64), reduction, **kw)
    assert_close(v, rv, dtype)
    g = loss_fn.backward()
    assert g.shape == p.shape and g.dtype == np.dtype(dtype)
    assert_close(g, rg, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n,c", [(1, 1), (1, 2), (7, 3), (33, 10), (257, 17)])
def test_cross_entropy(rng, dtype, reduction, n, c):
    z = (rng.standard_normal((n, c)) * 3).astype(dtype)
    labels = rng.integers(0, c, n)
    loss_fn = fm.CrossEntropyLoss(reduction=reduction)
    v = loss_fn(z, labels)
    rv, rg = R.cross_entropy(z.astype(np.float64), labels, reduction)
    assert_close(v, rv, dtype)
    assert_close(loss_fn.backward(), rg, dtype, scale=1.0)


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64])
def test_cross_entropy_accepts_any_integer_labels(rng, label_dtype):
    z = rng.standard_normal((6, 4))
    labels = np.array([0, 1, 2, 3, 3, 0])
    v = fm.CrossEntropyLoss()(z, labels.astype(label_dtype))
    assert_close(v, R.cross_entropy(z, labels)[0])


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]], np.float32)
    labels = np.array([2, 1])
    loss_fn = fm.CrossEntropyLoss()
    v = loss_fn(z, labels)
    rv, rg = R.cross_entropy(z.astype(np.float64), labels)
    assert np.isfinite(v)
    assert_close(v, rv, "float32")
    assert_close(loss_fn.backward(), rg, "float32", scale=1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    z = np.array([[100.0], [-100.0], [40.0], [-40.0], [0.0]], dtype)
    y = np.array([[0.0], [1.0], [1.0], [0.0], [0.5]], dtype)
    loss_fn = fm.BCEWithLogitsLoss(reduction="sum")
    v = loss_fn(z, y)
    rv, rg = R.bce_with_logits(z.astype(np.float64), y.astype(np.float64), "sum")
    assert np.isfinite(v) and np.isclose(rv, 200.0 + np.log(2), rtol=1e-12)
    assert_close(v, rv, dtype)
    assert_close(loss_fn.backward(), rg, dtype, scale=1.0)


def test_huber_matches_mse_and_l1_limits(rng):
    p, y = rng.standard_normal((20, 2)) * 0.1, rng.standard_normal((20, 2)) * 0.1
    # all |d| < delta: Huber = MSE / 2
    assert_close(fm.HuberLoss(delta=10.0)(p, y), fm.MSELoss()(p, y) / 2)
    # Huber at the boundary |d| == delta: both branches agree
    d = np.array([[1.0], [-1.0]])
    v = fm.HuberLoss(reduction="sum")(d, np.zeros_like(d))
    assert_close(v, 1.0)


def test_l1_gradient_is_zero_where_pred_equals_target():
    p = np.array([[1.0, 2.0, 3.0]])
    loss_fn = fm.L1Loss(reduction="sum")
    assert loss_fn(p, p) == 0.0
    np.testing.assert_array_equal(loss_fn.backward(), np.zeros_like(p))


def test_column_and_flat_targets_agree(rng):
    p = rng.standard_normal((9, 1))
    y = rng.standard_normal(9)
    for loss_fn in (fm.MSELoss(), fm.L1Loss(), fm.HuberLoss(delta=0.5)):
        a = loss_fn(p, y)
        ga = loss_fn.backward().copy()
        b = loss_fn(p, y[:, None])
        assert a == b
        np.testing.assert_array_equal(ga, loss_fn.backward())


def test_backward_is_for_the_last_call(rng):
    loss_fn = fm.MSELoss()
    p1, p2, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2)), np.zeros((4, 2))
    loss_fn(p1, y)
    loss_fn(p2, y)
    assert_close(loss_fn.backward(), R.mse(p2, y)[1])


def test_losses_by_name_match_objects(rng):
    """net.train_step(loss=name) measures the same loss as the loss object."""
    x = rng.standard_normal((12, 4))
    y = rng.standard_normal((12, 3))
    y01 = rng.uniform(size=(12, 3))
    labels = rng.integers(0, 3, 12)
    for name, obj, target in (("mse", fm.MSELoss(), y), ("l1", fm.L1Loss(), y),
                              ("huber", fm.HuberLoss(), y),
                              ("bce_with_logits", fm.BCEWithLogitsLoss(), y01),
                              ("cross_entropy", fm.CrossEntropyLoss(), labels)):
        net = fm.Sequential(fm.Linear(4, 3), dtype="float64", seed=1)
        expected = obj(net(x), target)
        opt = fm.optim.SGD(net.parameters(), lr=0.0)
        assert_close(net.train_step(x, target, loss=name, optimizer=opt), expected,
                     err_msg=name)
        assert_close(net.train_step(x, target, loss=obj, optimizer=opt), expected, err_msg=name)


def test_loss_reductions_and_delta_are_validated():
    with pytest.raises(ValueError, match="reduction"):
        fm.MSELoss(reduction="none_of_these")
    with pytest.raises(ValueError, match="delta"):
        fm.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="unknown loss"):
        fm.Sequential(fm.Linear(2, 1)).train_step(np.ones((2, 2)), np.ones(2), loss="mae")
