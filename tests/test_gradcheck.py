"""float64 central finite differences of a small Sequential: every activation, every loss,
with respect to every parameter and to the input (net.backward returns dloss/dx)."""
import numpy as np
import pytest

import fastmlp as fm
from helpers import ACTIVATIONS

H = 1e-6


def _loss_and_target(name, rng, n, d):
    if name == "cross_entropy":
        return fm.CrossEntropyLoss(), rng.integers(0, d, n)
    if name == "bce_with_logits":
        return fm.BCEWithLogitsLoss(), rng.uniform(size=(n, d))
    if name == "huber":
        return fm.HuberLoss(delta=0.3), rng.standard_normal((n, d))
    if name == "mse_sum":
        return fm.MSELoss(reduction="sum"), rng.standard_normal((n, d))
    return {"mse": fm.MSELoss, "l1": fm.L1Loss}[name](), rng.standard_normal((n, d))


def _numeric_grad(f, a):
    """Central differences of f() with respect to every entry of a (modified in place)."""
    g = np.zeros(a.shape)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        up = f()
        flat[i] = old - H
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * H)
    return g


def _gradcheck(net, loss_fn, x, target):
    net.zero_grad()
    out = net.forward(x)
    loss_fn(out, target)
    gx = net.backward(loss_fn.backward())

    def f():
        return loss_fn(net(x), target)

    for name, p in net.named_parameters():
        num = _numeric_grad(f, p.data)
        np.testing.assert_allclose(p.grad, num, rtol=1e-6, atol=1e-8, err_msg=name)
    num_x = _numeric_grad(f, x)
    np.testing.assert_allclose(gx, num_x, rtol=1e-6, atol=1e-8, err_msg="dloss/dx")


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_gradcheck_each_activation(rng, act):
    net = fm.Sequential(fm.Linear(3, 5), ACTIVATIONS[act][0](), fm.Linear(5, 2),
                        ACTIVATIONS[act][0](), fm.Linear(2, 2), dtype="float64", seed=1)
    x = rng.standard_normal((4, 3)) * 1.5
    _gradcheck(net, fm.MSELoss(), x, rng.standard_normal((4, 2)))


@pytest.mark.parametrize("loss", ["mse", "mse_sum", "l1", "huber", "bce_with_logits",
                                  "cross_entropy"])
def test_gradcheck_each_loss(rng, loss):
    net = fm.Sequential(fm.Linear(3, 6), fm.Tanh(), fm.Linear(6, 3), dtype="float64", seed=2)
    x = rng.standard_normal((5, 3))
    loss_fn, target = _loss_and_target(loss, rng, 5, 3)
    _gradcheck(net, loss_fn, x, target)


def test_gradcheck_single_output_flat_target(rng):
    net = fm.Sequential(fm.Linear(2, 4), fm.SiLU(), fm.Linear(4, 1), dtype="float64", seed=3)
    _gradcheck(net, fm.MSELoss(), rng.standard_normal((6, 2)), rng.standard_normal(6))


def test_gradcheck_network_starting_with_an_activation(rng):
    net = fm.Sequential(fm.Sigmoid(), fm.Linear(3, 4, bias=False), fm.GELU(), fm.Linear(4, 2),
                        dtype="float64", seed=4)
    _gradcheck(net, fm.MSELoss(), rng.standard_normal((3, 3)), rng.standard_normal((3, 2)))


def test_gradcheck_functional_kernels(rng):
    F = fm.functional
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    y = rng.standard_normal((4, 2))

    def f():
        return F.mse_loss(F.linear(F.relu(F.linear(x, w0, b0)), w, b), y)

    w0, b0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    h = F.linear(x, w0, b0)
    a = F.relu(h)
    yp = F.linear(a, w, b)
    ga, gw, gb = F.linear_backward(a, w, F.mse_loss_backward(yp, y))
    gx, gw0, gb0 = F.linear_backward(x, w0, F.relu_backward(h, ga))
    for got, arr, name in ((gw, w, "w"), (gb, b, "b"), (gw0, w0, "w0"), (gb0, b0, "b0"),
                           (gx, x, "x")):
        np.testing.assert_allclose(got, _numeric_grad(f, arr), rtol=1e-6, atol=1e-8,
                                   err_msg=name)
