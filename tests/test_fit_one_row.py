"""fit's one-row steps: the update forms each wide Linear's weight gradient (x^T dy) where
it reads it instead of reading it from the gradient buffer. The oracle is a loop of
train_step, which forms every gradient in the buffer first: weights and gradients must
agree bit for bit, and the gradients the caller sees (in a callback, after fit) are those
of the last step."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastmlp as fm
from helpers import flat_grad, flat_params, train_step_loop

# 20*1024 and 1024*16 weights: both past the size from which the update forms them
# (rows of 1024 and of 16 values); the last layer (16*3) keeps its gradient in the buffer.
SIZES = (20, 1024, 16, 3)

OPTIMIZERS = {
    "sgd": lambda p: fm.optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: fm.optim.Adam(p, lr=1e-3, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: fm.optim.AdamW(p, lr=1e-3),
    "rmsprop": lambda p: fm.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
}


def make_net(dtype):
    a, h, k, o = SIZES
    return fm.Sequential(fm.Linear(a, h), fm.ReLU(), fm.Linear(h, k), fm.Tanh(),
                         fm.Linear(k, o), dtype=dtype, seed=0)


def make_data(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, SIZES[0])).astype(dtype)
    y = rng.standard_normal((n, SIZES[-1])).astype(dtype)
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_fit_one_row_batches_equal_a_train_step_loop(dtype, opt_name, threads):
    x, y = make_data(9, dtype)
    net, ref = make_net(dtype), make_net(dtype)
    net.fit(x, y, optimizer=OPTIMIZERS[opt_name](net.parameters()), epochs=3, batch_size=1,
            shuffle=False)
    train_step_loop(ref, OPTIMIZERS[opt_name](ref.parameters()), x, y, 3, batch_size=1)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))  # the last step's gradients


def test_fit_first_layer_frozen_still_leaves_its_gradient(threads):
    """The optimizer never reads the frozen layer's gradient; fit still leaves it formed."""
    x, y = make_data(7, "float32")
    net, ref = make_net("float32"), make_net("float32")
    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters()[2:], lr=1e-3), epochs=2,
            batch_size=1, shuffle=False)
    train_step_loop(ref, fm.optim.Adam(ref.parameters()[2:], lr=1e-3), x, y, 2, batch_size=1)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))
    assert np.count_nonzero(net.parameters()[0].grad) > 0


def test_fit_one_row_gradient_is_the_outer_product_numpy_gives():
    """An independent oracle for one step: the first layer's gradient is x^T dh, with dh
    the ReLU'd gradient NumPy backpropagates through the two layers above."""
    x, y = make_data(1, "float64")
    net = make_net("float64")
    w1, b1, w2, b2, w3, b3 = [p.data.copy() for p in net.parameters()]
    net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=0.0), epochs=1, batch_size=1)
    h = x @ w1 + b1
    a = np.maximum(h, 0)
    t = np.tanh(a @ w2 + b2)
    g3 = 2 * (t @ w3 + b3 - y) / y.size
    g2 = (g3 @ w3.T) * (1 - t * t)
    g1 = (g2 @ w2.T) * (h > 0)
    grads = [p.grad for p in net.parameters()]
    np.testing.assert_allclose(grads[0], x.T @ g1, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grads[2], a.T @ g2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grads[4], t.T @ g3, rtol=1e-12, atol=1e-300)


def test_callbacks_see_the_gradients_of_the_last_step(threads):
    x, y = make_data(5, "float32")
    net, ref = make_net("float32"), make_net("float32")
    seen = []

    def on_epoch(epoch, logs):
        seen.append(flat_grad(net))
        return True

    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-3), epochs=3, batch_size=1,
            shuffle=False, on_epoch=on_epoch)
    opt = fm.optim.Adam(ref.parameters(), lr=1e-3)
    for epoch in range(3):
        train_step_loop(ref, opt, x, y, 1, batch_size=1)
        assert_same(seen[epoch], flat_grad(ref))


@pytest.mark.parametrize("good_steps", [1, 2, 3])
def test_one_row_update_that_overflows_keeps_the_weights_of_the_step_before(good_steps):
    x, y = make_data(1, "float32")
    net, ref = make_net("float32"), make_net("float32")
    opt, ref_opt = fm.optim.Adam(net.parameters()), fm.optim.Adam(ref.parameters())

    def overflow_next(epoch, logs):
        if epoch == good_steps:
            opt.lr = 3.4e38  # finite, but the update is not
        return True

    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        net.fit(x, y, optimizer=opt, epochs=10, batch_size=1, on_epoch=overflow_next)
    train_step_loop(ref, ref_opt, x, y, good_steps, batch_size=1)
    ref_opt.lr = 3.4e38
    with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
        ref.train_step(x, y, optimizer=ref_opt)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))


def test_one_row_gradient_that_overflows_is_named_as_the_gradient():
    """With the middle layer's weights at zero and its input near 1e21, the loss stays
    finite while that layer's gradient (input times an output gradient near 1e18)
    overflows: the error says so, and no weight moved."""
    x = np.full((1, SIZES[0]), 1e21, np.float32)
    net = fm.Sequential(fm.Linear(SIZES[0], SIZES[1]), fm.ReLU(),
                        fm.Linear(SIZES[1], SIZES[2]), seed=0)
    net.parameters()[2].data[...] = 0.0
    y = np.zeros((1, SIZES[2]), np.float32)
    y[0, 0] = 1e19
    before = flat_params(net)
    with pytest.raises(FloatingPointError, match="gradient is not finite"):
        net.fit(x, y, optimizer=fm.optim.SGD(net.parameters(), lr=1e-3), epochs=1,
                batch_size=1)
    assert_same(before, flat_params(net))
    assert np.isinf(net.parameters()[2].grad).any()


def test_sparse_one_row_batches_equal_a_train_step_loop():
    """CSR input: the first layer's gradient comes from the sparse product, the layer
    above it from the update."""
    x = sp.random(6, SIZES[0], density=0.3, format="csr", random_state=2, dtype=np.float32)
    _, y = make_data(6, "float32")
    net, ref = make_net("float32"), make_net("float32")
    net.fit(x, y, optimizer=fm.optim.Adam(net.parameters(), lr=1e-3), epochs=2, batch_size=1,
            shuffle=False)
    train_step_loop(ref, fm.optim.Adam(ref.parameters(), lr=1e-3), x, y, 2, batch_size=1)
    assert_same(flat_params(net), flat_params(ref))
    assert_same(flat_grad(net), flat_grad(ref))
