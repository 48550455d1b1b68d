"""fm.metrics against their formulas."""
import numpy as np
import pytest

import fastmlp as fm


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
