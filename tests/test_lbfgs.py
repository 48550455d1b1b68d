"""Sequential.fit_lbfgs against scipy's L-BFGS-B on a NumPy objective, and the
weight_l2 penalty of train_step/fit against NumPy's gradient."""
import numpy as np
import pytest
import scipy.optimize as so

import fastmlp as fm


def data(rng, n=150, d=3):
    x = rng.normal(size=(n, d))
    y = (x @ np.arange(1.0, d + 1) + 0.3 * np.sin(3 * x[:, 0]))[:, None]
    return x, y


def tanh_net(dtype="float64", d=3, seed=0):
    return fm.Sequential(fm.Linear(d, 8), fm.Tanh(), fm.Linear(8, 1), dtype=dtype, seed=seed)


def numpy_objective(net, x, y, alpha, w=None):
    """f(theta) and its gradient for tanh_net: mean squared error (weighted by w) plus
    alpha / 2 * sum(W**2) / sum(w), written out in NumPy."""
    sw = np.ones(len(x)) if w is None else w

    def fg(theta):
        net.flat_parameters()[...] = theta
        w1, b1, w2, b2 = [p.data for p in net.parameters()]
        h = np.tanh(x @ w1 + b1)
        p = h @ w2 + b2
        total = sw.sum()
        f = (sw[:, None] * (p - y) ** 2).sum() / total
        f += alpha / 2 * ((w1 ** 2).sum() + (w2 ** 2).sum()) / total
        gp = 2 * sw[:, None] * (p - y) / total
        gh = gp @ w2.T * (1 - h ** 2)
        return f, np.concatenate([(x.T @ gh + alpha * w1 / total).ravel(), gh.sum(0),
                                  (h.T @ gp + alpha * w2 / total).ravel(), gp.sum(0)])
    return fg


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_same_iterates_as_scipy(rng, weighted, alpha):
    x, y = data(rng)
    w = rng.uniform(0.5, 2.0, len(x)) if weighted else None
    ours = tanh_net()
    theta0 = ours.flat_parameters().copy()
    r = ours.fit_lbfgs(x, y, max_iter=15, tol=1e-12, weight_l2=alpha, sample_weight=w)
    ref = so.minimize(numpy_objective(tanh_net(), x, y, alpha, w), theta0, jac=True,
                      method="L-BFGS-B", options=dict(maxiter=15, gtol=1e-12))
    # The same algorithm: the same steps, up to rounding.
    np.testing.assert_allclose(ours.flat_parameters(), ref.x, rtol=1e-8, atol=1e-10)
    assert (r.n_iter, r.n_fun, r.status) == (ref.nit, ref.nfev, ref.status)
    assert r.f == pytest.approx(ref.fun, rel=1e-10)
    assert r.message == ref.message


def test_converges_on_gradient_tolerance(rng):
    x, y = data(rng)
    net = tanh_net()
    r = net.fit_lbfgs(x, y, max_iter=5000, tol=1e-3)
    assert r.status == 0 and r.n_iter < 5000
    f, g = numpy_objective(tanh_net(), x, y, 0.0)(net.flat_parameters().copy())
    assert f == pytest.approx(r.f, rel=1e-12)
    if "GRADIENT" in r.message:
        assert np.abs(g).max() <= 1e-3
    else:  # the relative-reduction test stopped it first
        assert "REDUCTION" in r.message


def test_max_fun_stops_after_the_iteration_that_passes_it(rng):
    x, y = data(rng)
    r = tanh_net().fit_lbfgs(x, y, max_iter=1000, max_fun=10, tol=0.0)
    assert r.status == 1 and "EVALUATIONS" in r.message
    assert r.n_fun > 10 and r.n_iter < 1000


def test_deterministic_and_float32(rng):
    x, y = data(rng)
    runs = []
    for _ in range(2):
        net = tanh_net("float32")
        runs.append((net.fit_lbfgs(x, y, max_iter=50).f, net.flat_parameters().copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert fm.metrics.r2_score(y, tanh_net("float32").predict(x)) < 0.9 < \
        fm.metrics.r2_score(y, net.predict(x))


def test_cross_entropy_and_blocks_of_rows(rng):
    # 5000 rows: the objective is summed over two row blocks.
    x = rng.normal(size=(5000, 4))
    labels = (x[:, 0] + x[:, 1] ** 2 > 1).astype(np.int64) + (x[:, 2] > 0.5)
    net = fm.Sequential(fm.Linear(4, 16), fm.ReLU(), fm.Linear(16, 3), dtype="float64", seed=1)
    f0 = fm.CrossEntropyLoss()(net(x), labels)
    r = net.fit_lbfgs(x, labels, loss="cross_entropy", max_iter=100)
    assert r.f < f0 / 3
    assert r.f == pytest.approx(fm.CrossEntropyLoss()(net(x), labels), rel=1e-12)
    assert (net(x).argmax(1) == labels).mean() > 0.95


def test_callback_sees_each_iteration_and_can_stop(rng):
    x, y = data(rng)
    seen = []
    r = tanh_net().fit_lbfgs(x, y, callback=lambda it, f: seen.append((it, f)) or it < 4)
    assert [it for it, _ in seen] == [1, 2, 3, 4] and r.n_iter == 4 and r.status == 1
    assert seen[-1][1] == r.f and seen[0][1] > seen[-1][1]


def test_bad_arguments(rng):
    x, y = data(rng)
    net = tanh_net()
    for kw in ({"max_iter": 0}, {"max_fun": -1}, {"tol": -1.0}, {"weight_l2": np.nan}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            net.fit_lbfgs(x, y, **kw)
    with pytest.raises(ValueError, match="NaN"):
        net.fit_lbfgs(np.full_like(x, np.nan), y)


@pytest.mark.parametrize("weighted", [False, True])
def test_weight_l2_train_step_penalises_weights_only(rng, weighted):
    x, y = data(rng, n=40)
    w = rng.uniform(0.5, 2.0, len(x)) if weighted else None
    alpha, lr = 0.3, 0.05
    net = tanh_net()
    theta = net.flat_parameters().copy()
    f, g = numpy_objective(tanh_net(), x, y, alpha, w)(theta)
    loss = net.train_step(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=lr),
                          weight_l2=alpha, sample_weight=w)
    assert loss == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(net.flat_parameters(), theta - lr * g, rtol=1e-12, atol=1e-14)


def test_fit_reports_the_penalty_in_the_loss(rng):
    x, y = data(rng, n=50)
    alpha = 0.5
    net = tanh_net()
    opt = fm.optim.SGD(net.parameters(), lr=0.01)
    # Full batch, no shuffling: each epoch's loss is the objective at the epoch's start.
    expected = []
    ref = tanh_net()
    fg = numpy_objective(ref, x, y, alpha)
    theta = net.flat_parameters().copy()
    for _ in range(3):
        f, g = fg(theta)
        w1, w2 = ref.parameters()[0].data, ref.parameters()[2].data
        expected.append((f, alpha / 2 * ((w1 ** 2).sum() + (w2 ** 2).sum()) / len(x)))
        theta = theta - 0.01 * g
    hist = net.fit(x, y, optimizer=opt, epochs=3, shuffle=False, weight_l2=alpha)
    np.testing.assert_allclose(hist.loss, [e[0] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(hist.penalty, [e[1] for e in expected], rtol=1e-12)
    assert (fm.Sequential(fm.Linear(3, 1)).fit(x, y, epochs=2).penalty == 0).all()
