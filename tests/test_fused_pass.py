"""The fused pass a Linear + ReLU + Linear regression net (one output, MSE) trains
with: train_step's gradients and loss are the bits of forward, the loss and
backward layer by layer, and agree with the NumPy oracle, on every kernel set
the CPU runs."""
import numpy as np
import pytest

import fastmlp as fm
import numpy_ref
from test_isa import CPU_ISAS
from fastmlp import _core


@pytest.fixture(params=CPU_ISAS)
def isa(request):
    assert _core._select_isa(request.param) == request.param
    yield request.param
    _core._select_isa("")


def _net(d, h, bias, dtype):
    return fm.Sequential(fm.Linear(d, h, bias=bias), fm.ReLU(), fm.Linear(h, 1, bias=bias),
                         dtype=dtype, seed=3)


def _grads(net):
    return np.concatenate([p.grad.ravel() for p in net.parameters()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,h,bias,reduction", [
    (200, 3, 32, True, "mean"),   # the seed network
    (37, 5, 13, True, "sum"),     # masked hidden vectors, a row tail
    (1, 1, 2, False, "mean"),
    (70, 9, 17, False, "mean"),   # three 32-row chunks
])
def test_train_step_matches_layers_and_numpy(isa, dtype, n, d, h, bias, reduction):
    rng = np.random.default_rng(n * 100 + h)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal((n, 1)).astype(dtype)
    loss = fm.losses.MSELoss(reduction=reduction)

    fused = _net(d, h, bias, dtype)
    got = fused.train_step(x, y, loss, fm.optim.SGD(fused.parameters(), lr=0.0))

    layered = _net(d, h, bias, dtype)
    layered.zero_grad()
    out = layered.forward(x)
    # loss_forward's gradient in the net's dtype: 2 (out - y) times 1 / denominator.
    scale = dtype(1.0 / (n if reduction == "mean" else 1))
    layered.backward(dtype(2) * (out - y) * scale)
    np.testing.assert_array_equal(_grads(fused), _grads(layered))
    diff = (out - y).astype(np.float64)
    want_loss = float(np.sum(diff * diff)) / (n if reduction == "mean" else 1)
    assert got == pytest.approx(want_loss, rel=1e-5 if dtype == np.float32 else 1e-12)

    p = [a.data.astype(np.float64) for a in fused.parameters()]
    w1, b1, w2, b2 = (p if bias else [p[0], None, p[1], None])
    layers = [("linear", w1, b1), ("act", "relu", {}), ("linear", w2, b2)]
    ref_out, inputs = numpy_ref.mlp_forward(layers, x.astype(np.float64))
    ref_loss, g = numpy_ref.loss("mse", ref_out, y.astype(np.float64), reduction)
    _, ref_grads = numpy_ref.mlp_backward(layers, inputs, g)
    assert got == pytest.approx(ref_loss, rel=1e-4 if dtype == np.float32 else 1e-10)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_grads(fused), np.concatenate([a.ravel() for a in ref_grads]),
                               **tol)

