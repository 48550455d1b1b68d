"""Every GEMM micro-kernel set this CPU can run, forced in turn, against NumPy; a set the
CPU has but the build lacks fails (its tests are not skipped)."""
import numpy as np
import pytest

import fastmlp as fm
import numpy_ref
from fastmlp import _core
from helpers import mlp

RUNNABLE = fm.build_info()["isa_runnable"]
SIZES = [1, 3, 5, 6, 7, 8, 15, 16, 17, 31, 33, 257]


def _cpu_isas():
    """The kernel sets this CPU runs, from NumPy's CPU-feature probe (which, like the
    dispatcher, checks that the OS saves the registers) rather than fastmlp's own."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as has
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as has
    wanted = {"avx2": ("AVX2", "FMA3"), "avx512": ("AVX512F", "FMA3"), "neon": ("ASIMD",)}
    return ["portable"] + [isa for isa, feats in wanted.items() if all(has.get(f) for f in feats)]


CPU_ISAS = _cpu_isas()


@pytest.fixture(params=CPU_ISAS)
def isa(request):
    chosen = _core._select_isa(request.param)
    assert chosen == request.param
    assert fm.build_info()["isa"] == request.param
    yield request.param
    _core._select_isa("")


def _operand(rng, rows, cols, dtype, layout):
    a = rng.standard_normal((rows, cols)).astype(dtype)
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((rows * 2, cols * 3), dtype)
        big[::2, ::3] = a
        return big[::2, ::3]
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    return a


def test_portable_and_the_best_isa_are_always_available():
    assert "portable" in RUNNABLE
    assert set(RUNNABLE) <= set(fm.build_info()["isa_built"])


def test_every_kernel_set_the_cpu_runs_is_built_and_chosen():
    assert RUNNABLE == CPU_ISAS
    assert _core._select_isa("") == CPU_ISAS[-1]  # the widest (neon is never with AVX)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "transposed"])
def test_gemm_matches_numpy_for_awkward_shapes(isa, dtype, layout):
    rng = np.random.default_rng(hash((isa, layout)) % 2**32)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for m, k, n in [(s, SIZES[(i * 5) % len(SIZES)], SIZES[(i * 7 + 3) % len(SIZES)])
                    for i, s in enumerate(SIZES)] + [(200, 3, 32), (200, 32, 1), (32, 200, 1),
                                                     (3, 200, 32), (64, 300, 70)]:
        a = _operand(rng, m, k, dtype, layout)
        b = _operand(rng, k, n, dtype, layout)
        c = np.full((m, n), 0.5, dtype)
        getattr(_core, "gemm_f32" if dtype == np.float32 else "gemm_f64")(a, b, c, True)
        want = 0.5 + a.astype(np.float64) @ b.astype(np.float64)
        scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + 1
        assert np.all(np.abs(c - want) <= tol * scale), (isa, m, k, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_of_a_few_columns_stored_by_columns_matches_numpy(isa, dtype):
    """A by rows and B by columns, with at most a few columns (a small batch's input
    gradient g W^T, which the driver turns into W g^T): the columns' dot products."""
    rng = np.random.default_rng(11)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    gemm = getattr(_core, "gemm_f32" if dtype == np.float32 else "gemm_f64")
    for m in (1, 7, 9, 64, 200):
        for k in (1, 3, 17, 40, 300):
            for n in range(1, 11):
                a = rng.standard_normal((m, k)).astype(dtype)
                b = np.asfortranarray(rng.standard_normal((k, n)).astype(dtype))
                for accumulate in (False, True):
                    c = np.full((m, n), 0.5, dtype)
                    gemm(a, b, c, accumulate)
                    want = (0.5 if accumulate else 0.0) + a.astype(np.float64) @ b
                    scale = np.abs(a).astype(np.float64) @ np.abs(b) + 1
                    assert np.all(np.abs(c - want) <= tol * scale), (isa, m, k, n, accumulate)


def test_training_agrees_across_isas(isa):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 9))
    y = np.sin(x[:, :2])
    net = fm.Sequential(fm.Linear(9, 33), fm.Tanh(), fm.Linear(33, 2), dtype="float64", seed=1)
    hist = net.fit(x, y, epochs=20, batch_size=16, seed=2)
    _core._select_isa("portable")
    ref = fm.Sequential(fm.Linear(9, 33), fm.Tanh(), fm.Linear(33, 2), dtype="float64", seed=1)
    ref_hist = ref.fit(x, y, epochs=20, batch_size=16, seed=2)
    np.testing.assert_allclose(hist.loss, ref_hist.loss, rtol=1e-10)
    np.testing.assert_allclose(net._flat, ref._flat, rtol=1e-9, atol=1e-12)


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
]


def _optimizer_run(kind, kw, dtype):
    """Five steps of fm.optim.<kind> on 1000 parameters (odd tails for every vector width)
    with fixed gradients; the weights after each step."""
    rng = np.random.default_rng(3)
    net = fm.Sequential(fm.Linear(37, 27), dtype=dtype, seed=0)
    opt = getattr(fm.optim, kind)(net.parameters(), **kw)
    grads = [rng.standard_normal((len(net._flat),)).astype(dtype) for _ in range(5)]
    out = []
    for g in grads:
        net._flat_grad[...] = g
        opt.step()
        out.append(net._flat.copy())
    return out, grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,kw", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_updates_are_the_same_bits_on_every_isa(isa, kind, kw, dtype):
    """The update loops are compiled per ISA without FMA contraction: every ISA rounds as
    the portable build does, and all match the NumPy reference."""
    got, grads = _optimizer_run(kind, kw, dtype)
    _core._select_isa("portable")
    want, _ = _optimizer_run(kind, kw, dtype)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    net = fm.Sequential(fm.Linear(37, 27), dtype=dtype, seed=0)
    params = [net._flat.astype(np.float64)]
    ref = getattr(numpy_ref, kind)(**kw)
    for g, a in zip(grads, got):
        ref.step(params, [g.astype(np.float64)])
        np.testing.assert_allclose(a, params[0], rtol=1e-4 if dtype == np.float32 else 1e-10,
                                   atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,kw", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_fit_updates_into_a_second_array_as_train_step_does_in_place(isa, kind, kw, dtype):
    """fit's loops write the new weights to the other of two arrays, train_step's
    overwrite them: on every ISA both give the same bits, odd step counts included."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 37)).astype(dtype)
    y = rng.standard_normal((40, 3)).astype(dtype)

    def new():
        net = fm.Sequential(fm.Linear(37, 27), fm.ReLU(), fm.Linear(27, 3), dtype=dtype, seed=0)
        return net, getattr(fm.optim, kind)(net.parameters(), **kw)

    net, opt = new()
    net.fit(x, y, optimizer=opt, epochs=5, shuffle=False)
    ref, ref_opt = new()
    for _ in range(5):
        ref.train_step(x, y, optimizer=ref_opt)
    np.testing.assert_array_equal(net._flat, ref._flat)


# Nets whose weight gradients fit's update forms: on one-row batches a 37x555 layer (rows
# of 555: odd tails for every vector width), on 13-row batches 1.5M weights (their arrays
# past the L3; 1501 rows and 999 columns: tails for every register tile).
FORMED = {"one_row": ((37, 555, 3), 1, 4), "rows": ((37, 1501, 999, 3), 13, 31)}


@pytest.mark.parametrize("shape", sorted(FORMED))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,kw", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_fit_gradients_formed_by_the_update_as_the_product_gives_them(isa, kind, kw, dtype,
                                                                       shape):
    """fit's update forms the wide layers' gradients itself; train_step takes them from
    the product: on every ISA the same bits, -0.0 and 0.0 told apart, in the weights and
    the gradients."""
    sizes, batch, rows = FORMED[shape]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((rows, sizes[0])).astype(dtype)
    y = rng.standard_normal((rows, sizes[-1])).astype(dtype)

    def new():
        net = mlp(sizes, dtype=dtype, seed=0)
        return net, getattr(fm.optim, kind)(net.parameters(), **dict(kw, lr=1e-3))

    net, opt = new()
    net.fit(x, y, optimizer=opt, epochs=2, batch_size=batch, shuffle=False)
    ref, ref_opt = new()
    for _ in range(2):
        for i in range(0, rows, batch):
            ref.train_step(x[i:i + batch], y[i:i + batch], optimizer=ref_opt)
    bits = f"u{np.dtype(dtype).itemsize}"
    np.testing.assert_array_equal(net._flat.view(bits), ref._flat.view(bits))
    np.testing.assert_array_equal(net._flat_grad.view(bits), ref._flat_grad.view(bits))
