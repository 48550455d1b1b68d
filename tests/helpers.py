"""Shared test helpers: tolerances, fastmlp <-> numpy_ref conversion, thread checks."""
from __future__ import annotations

import numpy as np

import fastmlp as fm
from fastmlp import _core

SIZES = (1, 3, 7, 17, 32, 33, 257)
DTYPES = ("float64", "float32")

# Every activation layer of fastmlp.nn and its numpy_ref name and parameters.
ACTIVATIONS = {
    "identity": (lambda: fm.Identity(), "identity", {}),
    "relu": (lambda: fm.ReLU(), "relu", {}),
    "leaky_relu": (lambda: fm.LeakyReLU(), "leaky_relu", {"slope": 0.01}),
    "leaky_relu_0.2": (lambda: fm.LeakyReLU(0.2), "leaky_relu", {"slope": 0.2}),
    "tanh": (lambda: fm.Tanh(), "tanh", {}),
    "sigmoid": (lambda: fm.Sigmoid(), "sigmoid", {}),
    "gelu": (lambda: fm.GELU(), "gelu", {}),
    "gelu_tanh": (lambda: fm.GELU(approximate="tanh"), "gelu_tanh", {}),
    "silu": (lambda: fm.SiLU(), "silu", {}),
    "softplus": (lambda: fm.Softplus(), "softplus", {"beta": 1.0, "threshold": 20.0}),
    "softplus_b2_t1": (lambda: fm.Softplus(beta=2.0, threshold=1.0), "softplus",
                       {"beta": 2.0, "threshold": 1.0}),
}


def rtol_for(dtype) -> float:
    return 1e-10 if np.dtype(dtype) == np.float64 else 1e-5


def assert_close(actual, expected, dtype=None, rtol=None, scale=None, err_msg=""):
    """|actual - expected| <= rtol * (|expected| + scale): relative, with an absolute floor
    proportional to the typical magnitude of the values (for entries near 0)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if dtype is None:
        dtype = actual.dtype if actual.dtype.kind == "f" else np.float64
    if rtol is None:
        rtol = rtol_for(dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape, err_msg)
    if scale is None:
        scale = float(np.max(np.abs(expected))) if expected.size else 1.0
        scale = scale if scale > 0 else 1.0
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=rtol * scale, err_msg=err_msg)


def ref_layers(net, dtype=np.float64):
    """numpy_ref layers with copies of net's weights (cast to dtype)."""
    out = []
    for layer in net:
        if isinstance(layer, fm.Linear):
            b = None if layer.bias is None else layer.bias.data.astype(dtype, copy=True)
            out.append(("linear", layer.weight.data.astype(dtype, copy=True), b))
        elif isinstance(layer, fm.Identity):
            out.append(("act", "identity", {}))
        elif isinstance(layer, fm.ReLU):
            out.append(("act", "relu", {}))
        elif isinstance(layer, fm.LeakyReLU):
            out.append(("act", "leaky_relu", {"slope": layer.negative_slope}))
        elif isinstance(layer, fm.Tanh):
            out.append(("act", "tanh", {}))
        elif isinstance(layer, fm.Sigmoid):
            out.append(("act", "sigmoid", {}))
        elif isinstance(layer, fm.GELU):
            out.append(("act", "gelu" if layer.approximate == "none" else "gelu_tanh", {}))
        elif isinstance(layer, fm.SiLU):
            out.append(("act", "silu", {}))
        elif isinstance(layer, fm.Softplus):
            out.append(("act", "softplus", {"beta": layer.beta, "threshold": layer.threshold}))
        else:
            raise TypeError(f"no reference for {layer!r}")
    return out


def mlp(sizes, act="relu", dtype="float64", seed=0, bias=True):
    """Sequential(Linear, act, Linear, act, ..., Linear) over the given widths."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(fm.Linear(a, b, bias=bias, dtype=dtype))
        if i + 2 < len(sizes):
            layers.append(ACTIVATIONS[act][0]())
    return fm.Sequential(*layers, dtype=dtype, seed=seed)


def flat_params(net):
    """All parameters of a model, concatenated (a copy)."""
    return np.concatenate([p.data.ravel() for p in net.parameters()])


def flat_grad(net):
    return np.concatenate([p.grad.ravel() for p in net.parameters()])


def small_mlp(seed=2, out=2):
    """3 -> 8 -> Tanh -> out, float64."""
    return fm.Sequential(fm.Linear(3, 8, dtype="float64"), fm.Tanh(),
                         fm.Linear(8, out, dtype="float64"), dtype="float64", seed=seed)


def reg_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))



def until_threaded(run, attempts=20):
    """Calls run() until a parallel region inside it had a part run by a worker as well as
    by the calling thread, and returns the results of every call (for the test to check
    each): a thread-count test whose products were too small to split would otherwise pass
    without testing the threaded path. One call may not show it: a worker that is late
    (e.g. on a busy machine) leaves its parts to the caller."""
    results = []
    for _ in range(attempts):
        before = _core._multithreaded_regions()
        results.append(run())
        if _core._multithreaded_regions() > before:
            return results
    raise AssertionError(f"no parallel region ran on 2+ threads in {attempts} calls")


def single_threaded(run):
    """run(), asserting that no parallel region inside it ran on two threads."""
    before = _core._multithreaded_regions()
    result = run()
    assert _core._multithreaded_regions() == before, "a parallel region ran on 2+ threads"
    return result


def train_step_loop(net, opt, x, y, epochs, batch_size=None):
    """The oracle for fit(shuffle=False): explicit train_step calls over the same slices."""
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    hist, per_step = [], []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, n, bs):
            xb, yb = x[s:s + bs], y[s:s + bs]
            loss = net.train_step(xb, yb, loss="mse", optimizer=opt)
            per_step.append(loss)
            total += loss * xb.shape[0]
        hist.append(total / n)
    return np.array(hist), per_step
