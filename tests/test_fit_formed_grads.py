"""fit's steps on one row, and on a few rows where the arrays pass the L3: the update forms
each wide Linear's weight gradient (x^T dy) where it reads it instead of reading it from
the gradient buffer. The oracle is a loop of train_step, which forms every gradient in the
buffer first: weights and gradients must agree bit for bit, and the gradients the caller
sees (in a callback, after fit) are those of the last step."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastmlp as fm
from helpers import assert_close, flat_grad, flat_params, train_step_loop

# One row: 20*1024 and 1024*16 weights, both past the size from which the update forms
# them (rows of 1024 and of 16 values); the last layer (16*3) keeps its gradient in the
# buffer. A few rows: 1.5M weights, whose arrays pass 16 MiB with any optimizer state
# (SGD with momentum, float32: 18.7 MB); 1501 rows and 999 columns leave tails for every
# register tile.
SIZES = {"one_row": (20, 1024, 16, 3), "rows": (37, 1501, 999, 3)}
# Batch sizes for each: 1; 13 (odd), 64 (the most rows formed), 65 (written as usual).
BATCHES = [("one_row", 1), ("rows", 13), ("rows", 64), ("rows", 65)]
BATCH_IDS = [f"{k}_b{b}" for k, b in BATCHES]

OPTIMIZERS = {
    "sgd": lambda p: fm.optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: fm.optim.Adam(p, lr=1e-3, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: fm.optim.AdamW(p, lr=1e-3),
    "rmsprop": lambda p: fm.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
}


def make_net(dtype, kind="one_row"):
    a, h, k, o = SIZES[kind]
    return fm.Sequential(fm.Linear(a, h), fm.ReLU(), fm.Linear(h, k), fm.Tanh(),
                         fm.Linear(k, o), dtype=dtype, seed=0)


def make_data(n, dtype, seed=1, kind="one_row"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, SIZES[kind][0])).astype(dtype)
    y = rng.standard_normal((n, SIZES[kind][-1])).astype(dtype)
    return x, y


def assert_same(a, b):
    """Bit for bit: -0.0 and 0.0 differ too."""
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.fixture(params=[1, 2], ids=["1_thread", "2_threads"])
def threads(request):
    before = fm.get_num_threads()
    fm.set_num_threads(request.param)
    yield request.param
    fm.set_num_threads(before)


@pytest.mark.parametrize("kind,batch", BATCHES, ids=BATCH_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_fit_batches_equal_a_train_step_loop(dtype, opt_name, kind, batch, threads):
    x, y = make_data(2 * batch + 5 if batch > 1 else 9, dtype, kind=kind)
    net, ref = make_net(dtype, kind), make_net(dtype, kind)
    net.fit(x, y, optimizer=OPTIMIZERS[opt_name](net.parameters()), epochs=2 if batch > 1 else 3,
            batch_size=batch, shuffle=False)
    train_step_loop(ref, OPTIMIZERS[opt_name](ref.parameters()), x, y, 2 if batch > 1 else 3,
                    batch_size=batch)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))  # the last step's gradients


# A one-row batch, and a few rows past the L3, for the tests below.
SHAPES = [("one_row", 1), ("rows", 13)]
SHAPE_IDS = ["one_row", "rows"]


@pytest.mark.parametrize("kind,batch", SHAPES, ids=SHAPE_IDS)
def test_fit_first_layer_frozen_still_leaves_its_gradient(kind, batch, threads):
    """The optimizer never reads the frozen layer's gradient; fit still leaves it formed."""
    x, y = make_data(3 * batch + 4, "float32", kind=kind)
    net, ref = make_net("float32", kind), make_net("float32", kind)
    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters()[2:], lr=1e-3), epochs=2,
            batch_size=batch, shuffle=False)
    train_step_loop(ref, fm.optim.Adam(ref.parameters()[2:], lr=1e-3), x, y, 2,
                    batch_size=batch)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))
    assert np.count_nonzero(net.parameters()[0].grad) > 0


@pytest.mark.parametrize("kind,batch", [("one_row", 1), ("rows", 5)], ids=SHAPE_IDS)
def test_fit_gradient_is_the_product_numpy_gives(kind, batch):
    """An independent oracle for one step: each layer's gradient is its input^T times the
    gradient NumPy backpropagates to its output."""
    x, y = make_data(batch, "float64", kind=kind)
    net = make_net("float64", kind)
    w1, b1, w2, b2, w3, b3 = [p.data.copy() for p in net.parameters()]
    net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.0), epochs=1,
            batch_size=batch)
    h = x @ w1 + b1
    a = np.maximum(h, 0)
    t = np.tanh(a @ w2 + b2)
    g3 = 2 * (t @ w3 + b3 - y) / y.size
    g2 = (g3 @ w3.T) * (1 - t * t)
    g1 = (g2 @ w2.T) * (h > 0)
    expected = [x.T @ g1, g1.sum(0), a.T @ g2, g2.sum(0), t.T @ g3, g3.sum(0)]
    for p, e in zip(net.parameters(), expected):
        assert_close(p.grad, e)


@pytest.mark.parametrize("kind,batch", SHAPES, ids=SHAPE_IDS)
def test_callbacks_see_the_gradients_of_the_last_step(kind, batch, threads):
    x, y = make_data(4 * batch + 1, "float32", kind=kind)
    net, ref = make_net("float32", kind), make_net("float32", kind)
    seen = []

    def on_epoch(epoch, logs):
        seen.append(flat_grad(net))
        return True

    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-3), epochs=3,
            batch_size=batch, shuffle=False, on_epoch=on_epoch)
    opt = fm.optim.Adam(ref.parameters(), lr=1e-3)
    for epoch in range(3):
        train_step_loop(ref, opt, x, y, 1, batch_size=batch)
        assert_same(seen[epoch], flat_grad(ref))


@pytest.mark.parametrize("kind,batch", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("good_steps", [1, 2, 3])
def test_update_that_overflows_keeps_the_weights_of_the_step_before(good_steps, kind, batch):
    x, y = make_data(batch, "float32", kind=kind)
    net, ref = make_net("float32", kind), make_net("float32", kind)
    opt, ref_opt = fm.optim.Adam(net.parameters()), fm.optim.Adam(ref.parameters())

    def overflow_next(epoch, logs):
        if epoch == good_steps:
            opt.lr = 3.4e38  # finite, but the update is not
        return True

    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        net.fit(x, y, optimizer=opt, epochs=10, batch_size=batch, shuffle=False,
                on_epoch=overflow_next)
    train_step_loop(ref, ref_opt, x, y, good_steps, batch_size=batch)
    ref_opt.lr = 3.4e38
    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        ref.train_step(x, y, optimizer=ref_opt)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))


@pytest.mark.parametrize("kind,batch", SHAPES, ids=SHAPE_IDS)
def test_gradient_that_overflows_is_named_as_the_gradient(kind, batch):
    """With the middle layer's weights at zero and its input near 1e21, the loss stays
    finite while that layer's gradient (input times an output gradient near 1e18, the
    target's error over the target's size) overflows: the error says so, and no weight
    moved."""
    d, h, k, _ = SIZES[kind]
    x = np.full((batch, d), 1e21, np.float32)
    net = fm.Sequential(fm.Linear(d, h), fm.ReLU(), fm.Linear(h, k), seed=0)
    net.parameters()[2].data[...] = 0.0
    y = np.zeros((batch, k), np.float32)
    y[0, 0] = 6e17 * y.size
    before = flat_params(net)
    with pytest.raises(FloatingPointError, match="gradient is not finite"):
        net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-3), epochs=1,
                batch_size=batch)
    assert_same(before, flat_params(net))
    assert np.isinf(net.parameters()[2].grad).any()


@pytest.mark.parametrize("kind,batch", SHAPES, ids=SHAPE_IDS)
def test_sparse_batches_equal_a_train_step_loop(kind, batch):
    """CSR input: the first layer's gradient comes from the sparse product, the layer
    above it from the update."""
    x = sp.random(3 * batch + 3, SIZES[kind][0], density=0.3, format="csr", random_state=2,
                  dtype=np.float32)
    _, y = make_data(3 * batch + 3, "float32", kind=kind)
    net, ref = make_net("float32", kind), make_net("float32", kind)
    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-3), epochs=2,
            batch_size=batch, shuffle=False)
    train_step_loop(ref, fm.optim.Adam(ref.parameters(), lr=1e-3), x, y, 2, batch_size=batch)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))
