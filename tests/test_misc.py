"""LinearRegression, metrics, state_dict, build_info, threads and plots."""
import numpy as np
import pytest

import fastmlp as fm
from helpers import assert_close, mlp

# --- LinearRegression -----------------------------------------------------------------


def test_linear_regression_recovers_exact_coefficients(rng):
    x = rng.standard_normal((50, 3))
    y = x @ np.array([1.0, -2.0, 3.0]) + 4.0
    lr = fm.LinearRegression().fit(x, y)
    assert_close(lr.coef_, [1.0, -2.0, 3.0], scale=1.0)
    assert isinstance(lr.intercept_, float)
    assert abs(lr.intercept_ - 4.0) < 1e-10
    pred = lr.predict(x)
    assert pred.shape == (50,)
    assert_close(pred, y, scale=1.0)


def test_linear_regression_matches_lstsq_on_noisy_data(rng):
    x = rng.standard_normal((80, 4))
    y = x @ rng.standard_normal(4) + 0.5 * rng.standard_normal(80) - 1.0
    design = np.hstack([x, np.ones((80, 1))])
    sol = np.linalg.lstsq(design, y, rcond=None)[0]
    lr = fm.LinearRegression().fit(x, y)
    assert_close(lr.coef_, sol[:4], scale=1.0)
    assert abs(lr.intercept_ - sol[4]) < 1e-10
    assert_close(lr.predict(x), design @ sol, scale=1.0)
    # float32 data and an (n, 1) target give the same fit (in float64)
    lr2 = fm.LinearRegression().fit(x.astype(np.float32), y[:, None])
    assert lr2.predict(x).shape == (80, 1)
    assert_close(lr2.predict(x.astype(np.float32))[:, 0],
                 np.hstack([x.astype(np.float32), np.ones((80, 1))]).astype(np.float64)
                 @ np.linalg.lstsq(np.hstack([x.astype(np.float32).astype(np.float64),
                                              np.ones((80, 1))]),
                                   y.astype(np.float64), rcond=None)[0], rtol=1e-8)


def test_linear_regression_multi_output_and_no_intercept(rng):
    x = rng.standard_normal((40, 3))
    B = rng.standard_normal((3, 2))
    y = x @ B + np.array([1.0, -1.0])
    lr = fm.LinearRegression().fit(x, y)
    assert lr.coef_.shape == (2, 3)  # scikit-learn's layout
    assert_close(lr.coef_, B.T, scale=1.0)
    assert_close(lr.intercept_, [1.0, -1.0], scale=1.0)
    assert lr.predict(x).shape == (40, 2)
    lr0 = fm.LinearRegression(fit_intercept=False).fit(x, x @ B)
    assert_close(lr0.coef_, B.T, scale=1.0)
    assert_close(lr0.predict(x), x @ B, scale=1.0)


def test_linear_regression_validation(rng):
    with pytest.raises(RuntimeError):
        fm.LinearRegression().predict(np.ones((2, 2)))
    x = rng.standard_normal((5, 2))
    x[1, 1] = np.nan
    with pytest.raises(ValueError, match="x"):
        fm.LinearRegression().fit(x, np.ones(5))
    with pytest.raises(ValueError):
        fm.LinearRegression().fit(np.ones((5, 2)), np.ones(4))
    lr = fm.LinearRegression().fit(rng.standard_normal((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="x"):
        lr.predict(np.ones((3, 3)))


# --- metrics --------------------------------------------------------------------------

def test_metrics_against_formulas(rng):
    y = rng.standard_normal(30)
    p = y + 0.3 * rng.standard_normal(30)
    sse = float(np.sum((y - p) ** 2))
    assert abs(fm.metrics.sse(y, p) - sse) < 1e-12
    assert abs(fm.metrics.mse(y, p) - sse / 30) < 1e-12
    r2 = 1 - sse / float(np.sum((y - y.mean()) ** 2))
    assert abs(fm.metrics.r2_score(y, p) - r2) < 1e-12
    # (n,) against (n, 1) is the same data
    assert fm.metrics.sse(y[:, None], p) == fm.metrics.sse(y, p[:, None]) == fm.metrics.sse(y, p)
    assert fm.metrics.r2_score(y, y) == 1.0
    assert abs(fm.metrics.r2_score(y, np.full(30, y.mean()))) < 1e-12


def test_r2_multi_output_is_the_mean_over_columns(rng):
    y = rng.standard_normal((25, 2))
    p = y + rng.standard_normal((25, 2)) * [0.1, 1.0]
    per_col = [1 - np.sum((y[:, j] - p[:, j]) ** 2) / np.sum((y[:, j] - y[:, j].mean()) ** 2)
               for j in range(2)]
    assert abs(fm.metrics.r2_score(y, p) - np.mean(per_col)) < 1e-12
    assert abs(fm.metrics.sse(y, p) - np.sum((y - p) ** 2)) < 1e-12


def test_metrics_refuse_mismatched_shapes():
    for a, b in ((np.ones(5), np.ones(4)), (np.ones((5, 2)), np.ones(5)),
                 (np.ones((5, 5)), np.ones((5, 1)))):
        for f in (fm.metrics.sse, fm.metrics.mse, fm.metrics.r2_score):
            with pytest.raises(ValueError, match=r"\(5"):
                f(a, b)


# --- state_dict -----------------------------------------------------------------------

def test_state_dict_round_trip(rng):
    a = mlp([3, 6, 2], act="tanh", dtype="float64", seed=0)
    b = mlp([3, 6, 2], act="tanh", dtype="float64", seed=1)
    x = rng.standard_normal((5, 3))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k, p in a.named_parameters():
        np.testing.assert_array_equal(sd[k], p.data)
        assert sd[k] is not p.data and not np.shares_memory(sd[k], p.data)
    sd["0.weight"][...] = 0  # a copy: the model is untouched
    assert a[0].weight.data.any()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(x), a(x))
    bufs = [p.data for p in b.parameters()]
    b.load_state_dict(mlp([3, 6, 2], act="tanh", dtype="float64", seed=5).state_dict())
    assert all(p.data is q for p, q in zip(b.parameters(), bufs))  # loaded in place


def _unchanged(net, before):
    for (k, p) in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[k], err_msg=k)


def test_load_state_dict_validates_everything_before_changing_anything():
    net = mlp([3, 6, 2], dtype="float64", seed=0)
    before = net.state_dict()
    new = mlp([3, 6, 2], dtype="float64", seed=9).state_dict()

    bad_shape = dict(new)
    bad_shape["2.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"2\.bias"):
        net.load_state_dict(bad_shape)
    _unchanged(net, before)

    missing = dict(new)
    del missing["2.bias"]
    with pytest.raises(KeyError, match=r"2\.bias"):
        net.load_state_dict(missing)
    _unchanged(net, before)

    extra = dict(new, **{"4.weight": np.zeros((2, 2))})
    with pytest.raises(KeyError, match=r"4\.weight"):
        net.load_state_dict(extra)
    _unchanged(net, before)

    bad_dtype = dict(new)
    bad_dtype["2.weight"] = new["2.weight"].astype(np.complex128)
    with pytest.raises(TypeError):
        net.load_state_dict(bad_dtype)
    _unchanged(net, before)


# --- build info and threads -----------------------------------------------------------

def test_build_info():
    info = fm.build_info()
    assert info["version"] == fm.__version__ != "0+unknown"
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["openmp"], bool)
    assert info["isa"] in {"portable", "avx2", "avx512"}


def test_set_and_get_num_threads(rng):
    original = fm.get_num_threads()
    assert isinstance(original, int) and original >= 1
    net = mlp([16, 64, 4], dtype="float32", seed=0)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    try:
        fm.set_num_threads(1)
        assert fm.get_num_threads() == 1
        one = net(x)
        if fm.build_info()["openmp"]:
            fm.set_num_threads(2)
            assert fm.get_num_threads() == 2
        np.testing.assert_array_equal(net(x), one)
    finally:
        fm.set_num_threads(original)
    assert fm.get_num_threads() == original


# --- plots (matplotlib is a test dependency) ------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_module_is_reachable_from_the_package():
    """API.md spells it fm.plot.observed_vs_predicted after `import fastmlp as fm`
    (checked in a fresh interpreter: another test may already have imported it)."""
    import subprocess
    import sys
    code = "import fastmlp as fm; print(fm.plot.observed_vs_predicted.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "observed_vs_predicted"


def test_observed_vs_predicted_writes_png(tmp_path, rng):
    import matplotlib.pyplot as plt

    import fastmlp.plot  # noqa: F401  (see test_plot_module_is_reachable_from_the_package)
    y = rng.standard_normal(40)
    path = tmp_path / "obs.png"
    fig = fm.plot.observed_vs_predicted(y, y + 0.1, title="t", path=str(path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
    plt.close(fig)


def test_loss_curve_writes_png(tmp_path, rng):
    import matplotlib.pyplot as plt

    import fastmlp.plot  # noqa: F401
    net = mlp([2, 4, 1], dtype="float32", seed=0)
    x = rng.standard_normal((20, 2))
    hist = net.fit(x, x[:, 0], epochs=5, validation_data=(x, x[:, 0]))
    path = tmp_path / "loss.png"
    fig = fm.plot.loss_curve(hist, path=str(path))
    assert path.read_bytes()[:8] == PNG
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), hist.loss)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), hist.val_loss)
    plt.close(fig)
