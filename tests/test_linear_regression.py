"""fm.LinearRegression (the seed's OLS baseline) against numpy.linalg.lstsq."""
import numpy as np
import pytest

import fastmlp as fm
from helpers import assert_close


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
