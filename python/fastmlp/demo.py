"""The seed experiment: a two-layer network from scratch, the same as a Sequential with
Adam, and ordinary least squares, compared by their sum of squared errors."""
from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

from . import functional as F
from ._checks import Float32Array, FloatArray
from .linear_model import LinearRegression
from .metrics import sse
from .nn import Linear, ReLU, Sequential
from .optim import Adam
from .plot import observed_vs_predicted

N, DIM_IN, DIM_HIDDEN, DIM_OUT = 200, 3, 32, 1
COEFS = np.array([0.2, -1.3, -0.5])


def _epoch_line(epoch: int, loss: float) -> str:
    return f"Epoch:  {epoch}    Loss:  {loss:.6f}"


def make_data(rng: np.random.Generator) -> tuple[Float32Array, Float32Array]:
    """The seed's data: 200 samples of 3 standard normal features and
    ``y = x @ [0.2, -1.3, -0.5] + noise``, the noise standard normal.

    Parameters
    ----------
    rng : numpy.random.Generator
        Where the numbers come from.

    Returns
    -------
    (ndarray, ndarray)
        x of shape (200, 3) and y of shape (200, 1), float32.
    """
    x = rng.standard_normal((N, DIM_IN)).astype(np.float32)
    y = (x @ COEFS.astype(np.float32))[:, None] + rng.standard_normal((N, 1)).astype(np.float32)
    return x, y


def from_scratch(x: Float32Array, y: Float32Array, rng: np.random.Generator, epochs: int,
                 lr: float = 1e-2) -> FloatArray:
    """Part 1: explicit weights, hand-written backprop and SGD through `fastmlp.functional`,
    printing the loss every 10 epochs.

    Parameters
    ----------
    x : ndarray, shape (200, 3)
        The samples.
    y : ndarray, shape (200, 1)
        The targets.
    rng : numpy.random.Generator
        Draws the initial weights, standard normal as in the seed.
    epochs : int
        Full-batch steps.
    lr : float, optional
        The learning rate.

    Returns
    -------
    ndarray, shape (200, 1)
        The trained network's predictions for x.
    """
    w1 = rng.standard_normal((DIM_IN, DIM_HIDDEN)).astype(np.float32)
    w2 = rng.standard_normal((DIM_HIDDEN, DIM_OUT)).astype(np.float32)
    b1 = np.zeros(DIM_HIDDEN, np.float32)
    b2 = np.zeros(DIM_OUT, np.float32)
    for epoch in range(1, epochs + 1):
        h = F.linear(x, w1, b1)
        a = F.relu(h)
        y_pred = F.linear(a, w2, b2)
        loss = F.mse_loss(y_pred, y)
        if epoch % 10 == 0:
            print(_epoch_line(epoch, loss))
        g_pred = F.mse_loss_backward(y_pred, y)
        g_a, g_w2, g_b2 = F.linear_backward(a, w2, g_pred)
        g_h = F.relu_backward(h, g_a)
        _, g_w1, g_b1 = F.linear_backward(x, w1, g_h)
        for w, g in ((w1, g_w1), (w2, g_w2), (b1, g_b1), (b2, g_b2)):
            F.sgd_update_(w, g, lr=lr)
    return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)


def sequential(x: Float32Array, y: Float32Array, seed: int, epochs: int) -> FloatArray:
    """Part 2: the same network as a `Sequential`, trained by one native ``fit`` with
    Adam (lr=1e-3, full batch), printing the loss every 10 epochs.

    Parameters
    ----------
    x : ndarray, shape (200, 3)
        The samples.
    y : ndarray, shape (200, 1)
        The targets.
    seed : int
        The model's seed.
    epochs : int
        Full-batch epochs.

    Returns
    -------
    ndarray, shape (200, 1)
        The predictions for x.
    """
    net = Sequential(Linear(DIM_IN, DIM_HIDDEN), ReLU(), Linear(DIM_HIDDEN, DIM_OUT), seed=seed)
    net.fit(x, y, loss="mse", optimizer=Adam(net.parameters(), lr=1e-3), epochs=epochs,
            shuffle=False, log_every=10, callback=lambda e, l: print(_epoch_line(e, l)))
    return net.predict(x)


def _plots(out_dir: str, y: npt.ArrayLike, preds: dict[str, tuple[str, npt.ArrayLike]]) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("Plots skipped: matplotlib is not installed (pip install 'fastmlp[plot]').")
        return
    os.makedirs(out_dir, exist_ok=True)
    for name, (title, yp) in preds.items():
        path = os.path.join(out_dir, f"obs_pred_{name}.png")
        observed_vs_predicted(y, yp, title=title, path=path)
        print(f"Saved {path}")


def run(seed: int = 0, epochs: int = 200, out_dir: str = ".",
        plot: bool = True) -> dict[str, float]:
    """The seed experiment, as ``fastmlp demo`` runs it: the two networks and ordinary
    least squares on the same data, then a table of their sums of squared errors.

    Parameters
    ----------
    seed : int, optional
        Seeds the data, the from-scratch weights and the Sequential.
    epochs : int, optional
        Epochs of each network.
    out_dir : str, optional
        Where the observed-against-predicted plots go.
    plot : bool, optional
        Draw the plots (skipped, with a note, when matplotlib is missing).

    Returns
    -------
    dict of str to float
        The SSE of ``"from_scratch"``, ``"sequential"`` and ``"linear_regression"``.
    """
    rng = np.random.default_rng(seed)
    x, y = make_data(rng)
    print("== Part 1: neural network from scratch (fastmlp.functional, SGD lr=1e-2) ==")
    yp_scratch = from_scratch(x, y, rng, epochs)
    print("== Part 2: Sequential module (native fit, Adam lr=1e-3) ==")
    yp_seq = sequential(x, y, seed, epochs)
    print("== Part 3: linear regression (ordinary least squares) ==")
    yp_lm = LinearRegression().fit(x, y).predict(x)
    results = {"from_scratch": sse(y, yp_scratch), "sequential": sse(y, yp_seq),
               "linear_regression": sse(y, yp_lm)}
    print()
    print(f"{'model':<20}{'SSE':>10}{'vs OLS':>10}")
    for name, value in results.items():
        print(f"{name:<20}{value:>10.3f}{value / results['linear_regression']:>10.3f}")
    if plot:
        _plots(out_dir, y, {"scratch": ("Neural network from scratch", yp_scratch),
                            "sequential": ("Neural network: a sequential module", yp_seq),
                            "linear": ("Linear regression", yp_lm)})
    return results
