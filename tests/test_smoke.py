import numpy as np

import fastmlp as fm


def test_sequential_matches_numpy_expression():
    rng = np.random.default_rng(0)
    net = fm.Sequential(fm.Linear(3, 32), fm.ReLU(), fm.Linear(32, 1), dtype="float64", seed=0)
    x = rng.standard_normal((20, 3))
    w1, b1, w2, b2 = (p.data for p in net.parameters())
    expected = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(net.predict(x), expected, rtol=1e-12)
