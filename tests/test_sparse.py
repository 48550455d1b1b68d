"""scipy.sparse input: predict, train_step, fit and fit_lbfgs on CSR (and CSC, COO, sparse
arrays) give what the same calls give on x.toarray(), to rounding; bitwise the same on 1
and 2 threads; and bad sparse input is refused with a clear error, never a crash."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import fastmlp as fm
from helpers import assert_close, single_threaded, until_threaded

DTYPES = ("float32", "float64")


def rtol(dtype):
    return 1e-12 if np.dtype(dtype) == np.float64 else 1e-5


@pytest.fixture
def restore_threads():
    n = fm.get_num_threads()
    yield
    fm.set_num_threads(n)


def sparse_x(n=120, d=40, density=0.1, seed=0, dtype=np.float64):
    """CSR with an empty row (3) and all-zero columns (0 and 7)."""
    x = sp.random(n, d, density=density, format="lil", random_state=seed, dtype=np.float64)
    x[3, :] = 0
    x[:, [0, 7]] = 0
    x = x.tocsr().astype(dtype)
    x.eliminate_zeros()
    return x


def targets(x, n_out=1, seed=1):
    rng = np.random.default_rng(seed)
    return np.tanh(x @ rng.standard_normal((x.shape[1], n_out))) + 0.1 * rng.standard_normal(
        (x.shape[0], n_out))


def net(dtype, d=40, hidden=16, n_out=1, seed=0):
    return fm.Sequential(fm.Linear(d, hidden), fm.Tanh(), fm.Linear(hidden, n_out), dtype=dtype,
                         seed=seed)


def on_both(dtype, run, x):
    """run(net, x) on the sparse x and on x.toarray(), each with a fresh net of the same seed:
    (sparse result, dense result, sparse net, dense net)."""
    ns, nd = net(dtype), net(dtype)
    return run(ns, x), run(nd, x.toarray()), ns, nd


def assert_same_weights(a, b, dtype, factor=1.0):
    for p, q in zip(a.parameters(), b.parameters()):
        assert_close(p.data, q.data, dtype, rtol=factor * rtol(dtype), err_msg=p.name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("convert", [sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.csc_array,
                                     sp.coo_matrix],
                         ids=lambda c: c.__name__)
def test_predict_equals_dense(dtype, convert):
    x = sparse_x()
    m = net(dtype)
    got = m.predict(convert(x))
    assert got.dtype == np.dtype(dtype)
    assert_close(got, m.predict(x.toarray()), dtype, rtol=rtol(dtype))
    np.testing.assert_array_equal(m(convert(x)), got)


@pytest.mark.parametrize("dtype", DTYPES)
def test_csc_gives_the_bits_of_csr(dtype):
    x = sparse_x()
    y = targets(x)
    runs = []
    for form in (x, x.tocsc()):
        m = net(dtype)
        hist = m.fit(form, y, epochs=3, batch_size=16, seed=2)
        runs.append((m.flat_parameters().copy(), hist.loss, m.predict(form)))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_int32_and_int64_indices_give_the_same_bits(dtype):
    x = sparse_x()
    wide = x.copy()  # scipy's constructor would narrow the indices back to int32
    wide.indices, wide.indptr = x.indices.astype(np.int64), x.indptr.astype(np.int64)
    assert x.indices.dtype == np.int32 and wide.indices.dtype == np.int64
    m = net(dtype)
    np.testing.assert_array_equal(m.predict(x), m.predict(wide))


def test_unsorted_and_repeated_columns_add_up_as_toarray():
    x = sp.csr_matrix((np.array([1.0, 2.0, 3.0, -1.0]), np.array([5, 2, 5, 0]),
                       np.array([0, 3, 4])), shape=(2, 40))
    assert not x.has_canonical_format
    m = net("float64")
    assert_close(m.predict(x), m.predict(x.toarray()), "float64", rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_step_equals_dense(dtype):
    x = sparse_x()
    y = targets(x)
    w = np.random.default_rng(3).uniform(0.5, 2.0, x.shape[0])

    def run(m, xx):
        opt = fm.optim.Adam(m.parameters(), lr=1e-2)
        return [m.train_step(xx, y, optimizer=opt, sample_weight=w, weight_l2=0.1,
                             clip_grad_norm=5.0) for _ in range(3)]

    ls, ld, ns, nd = on_both(dtype, run, x)
    assert_close(ls, ld, dtype, rtol=rtol(dtype))
    assert_same_weights(ns, nd, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_equals_dense(dtype, shuffle):
    x = sparse_x()
    y = targets(x)
    vx = sparse_x(n=30, seed=5)
    vy = targets(vx)
    w = np.random.default_rng(3).uniform(0.5, 2.0, x.shape[0])

    def run(m, xx):
        val = (vx if sp.issparse(xx) else vx.toarray(), vy)
        return m.fit(xx, y, epochs=4, batch_size=16, shuffle=shuffle, seed=4, sample_weight=w,
                     validation_data=val, metrics=["mse"])

    hs, hd, ns, nd = on_both(dtype, run, x)
    assert_close(hs.loss, hd.loss, dtype, rtol=rtol(dtype))
    assert_close(hs.val_loss, hd.val_loss, dtype, rtol=rtol(dtype))
    assert_close(hs.val_metrics["mse"], hd.val_metrics["mse"], dtype, rtol=rtol(dtype))
    assert_same_weights(ns, nd, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_with_validation_split_equals_dense(dtype):
    x = sparse_x()
    y = targets(x)
    hs, hd, ns, nd = on_both(dtype, lambda m, xx: m.fit(xx, y, epochs=3, batch_size=32, seed=1,
                                                        validation_split=0.25), x)
    assert_close(hs.val_loss, hd.val_loss, dtype, rtol=rtol(dtype))
    assert_same_weights(ns, nd, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_lbfgs_equals_dense(dtype):
    x = sparse_x()
    y = targets(x)
    rs, rd, ns, nd = on_both(dtype, lambda m, xx: m.fit_lbfgs(xx, y, max_iter=8, weight_l2=1e-2),
                             x)
    assert (rs.n_iter, rs.n_fun) == (rd.n_iter, rd.n_fun)
    assert_close(rs.f, rd.f, dtype, rtol=10 * rtol(dtype))
    # Eight quasi-Newton steps amplify rounding a little (float32: 1.5e-5 seen).
    assert_same_weights(ns, nd, dtype, factor=10.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_labels_equal_dense(dtype):
    x = sparse_x()
    labels = np.argmax(targets(x, n_out=3), axis=1)

    def run(m, xx):
        hist = m.fit(xx, labels, loss="cross_entropy", epochs=3, batch_size=16, seed=6)
        return hist.loss, m.train_step(xx, labels, loss="cross_entropy")

    ns, nd = net(dtype, n_out=3), net(dtype, n_out=3)
    (hs, ls), (hd, ld) = run(ns, x), run(nd, x.toarray())
    assert_close(hs, hd, dtype, rtol=rtol(dtype))
    assert_close(ls, ld, dtype, rtol=rtol(dtype))
    assert_same_weights(ns, nd, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_zero_columns_get_no_gradient(dtype):
    x = sparse_x()
    m = net(dtype)
    w0 = m[0].weight.data.copy()
    m.fit(x, targets(x), optimizer=fm.optim.SGD(m.parameters(), lr=0.1), epochs=2, batch_size=16)
    np.testing.assert_array_equal(m[0].weight.data[[0, 7]], w0[[0, 7]])
    assert not np.array_equal(m[0].weight.data[1], w0[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_on_1_and_2_threads(dtype, restore_threads):
    # 512 rows x 300 columns at 20% into 256 units: 256-row batches are ~8 MFLOP per sparse
    # product, past the core's threading threshold (4 MFLOP).
    x = sparse_x(n=512, d=300, density=0.2)
    y = targets(x)

    def run():
        m = net(dtype, d=300, hidden=256)
        hist = m.fit(x, y, epochs=2, batch_size=256, seed=3)
        r = m.fit_lbfgs(x, y, max_iter=3)
        return m.flat_parameters().copy(), hist.loss, r.f, m.predict(x)

    fm.set_num_threads(1)
    one = single_threaded(run)
    fm.set_num_threads(2)
    for two in until_threaded(run):
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)


def test_import_does_not_load_scipy():
    code = "import sys, fastmlp; sys.exit(any(m.startswith('scipy') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- bad input ----------------------------------------------------------------------------

def with_value(x, value):
    x = x.copy()
    x.data[5] = value
    return x


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_values_are_refused_in_training(value):
    x = sparse_x()
    y = targets(x)
    bad = with_value(x, value)
    m = net("float32")
    for call in (lambda: m.fit(bad, y, epochs=1), lambda: m.train_step(bad, y),
                 lambda: m.fit_lbfgs(bad, y, max_iter=1),
                 lambda: m.fit(x, y, epochs=1, validation_data=(bad, y))):
        with pytest.raises(ValueError, match="NaN or Inf"):
            call()


def test_predict_propagates_nan():
    x = with_value(sparse_x(), np.nan)
    row = int(np.searchsorted(x.indptr, 5, side="right")) - 1
    out = net("float64").predict(x)
    assert np.isnan(out[row]).all() and np.isfinite(np.delete(out, row, axis=0)).all()


def test_wrong_width_names_the_shape():
    m = net("float32")
    want = r"x must have shape \(n_samples, 40\), got shape \(120, 39\)"
    with pytest.raises(ValueError, match=want):
        m.predict(sparse_x(d=39))
    with pytest.raises(ValueError, match=r"validation_data\[0\] must have shape"):
        m.fit(sparse_x(), targets(sparse_x()), epochs=1,
              validation_data=(sparse_x(n=10, d=39), np.zeros(10)))


def test_one_dimensional_sparse_array_is_refused():
    with pytest.raises(ValueError, match="must be 2-D"):
        net("float32").predict(sp.csr_array(np.ones(40)))


def test_sample_count_mismatch_and_empty_input_are_refused():
    x = sparse_x()
    m = net("float32")
    with pytest.raises(ValueError, match="different numbers of samples"):
        m.fit(x, np.zeros(x.shape[0] - 1))
    with pytest.raises(ValueError, match="empty"):
        m.train_step(x[:0], np.zeros(0))


def test_complex_values_are_refused():
    with pytest.raises(TypeError, match="real numbers"):
        net("float32").predict(sparse_x().astype(np.complex128))


def broken(kind):
    x = sparse_x()
    if kind == "column too large":
        x.indices[4] = 40
    elif kind == "negative column":
        x.indices[4] = -1
    elif kind == "decreasing indptr":
        x.indptr[10] = x.indptr[12]
    return x


@pytest.mark.parametrize("kind", ["column too large", "negative column", "decreasing indptr"])
def test_bad_structure_is_refused_not_a_crash(kind):
    m = net("float32")
    x = broken(kind)
    y = np.zeros(x.shape[0])
    for call in (lambda: m.predict(x), lambda: m.train_step(x, y), lambda: m.fit(x, y, epochs=1),
                 lambda: m.fit_lbfgs(x, y, max_iter=1)):
        with pytest.raises(ValueError, match="^x: "):
            call()


@pytest.mark.parametrize("first", [fm.ReLU, lambda: fm.Dropout(0.1)], ids=["ReLU", "Dropout"])
def test_sparse_input_needs_a_linear_first(first):
    m = fm.Sequential(first(), fm.Linear(40, 1), seed=0)
    x = sparse_x()
    for call in (lambda: m.predict(x), lambda: m.fit(x, np.zeros(x.shape[0]), epochs=1)):
        with pytest.raises(ValueError, match="first layer is a Linear"):
            call()


def test_forward_refuses_sparse_input():
    with pytest.raises(TypeError, match="dense x"):
        net("float32").forward(sparse_x())
