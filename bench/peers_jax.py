"""JAX contenders: a jitted step driven from Python, and the whole training
loop in one jitted lax.fori_loop (classification: one jitted epoch, a
lax.scan over shuffled batches). Adam is written out (optax does the same
arithmetic) so JAX needs no extra package. The training state is donated
(donate_argnums) to every jitted step and loop, so XLA updates it in place
instead of allocating new buffers per call. Compile time is timed apart."""
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from timing import Contender
from workloads import LR

NAME = "jax"
VERSION = jax.__version__
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def configure(threads):
    pass  # XLA_FLAGS and CPU affinity are set by the worker before import


def _forward(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def _make_step(loss, lr=LR):
    def loss_fn(params, x, y):
        out = _forward(params, x)
        if loss == "mse":
            return jnp.mean((out - y) ** 2)
        logp = jax.nn.log_softmax(out)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step(state, x, y):
        params, m, v, t = state
        grads = jax.grad(loss_fn)(params, x, y)
        t = t + 1
        m = jax.tree.map(lambda m, g: BETA1 * m + (1 - BETA1) * g, m, grads)
        v = jax.tree.map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, v, grads)
        step_size = lr / (1 - BETA1 ** t)
        root_bc2 = jnp.sqrt(1 - BETA2 ** t)
        params = jax.tree.map(
            lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / root_bc2 + EPS),
            params, m, v)
        return params, m, v, t

    return step


def _state(params):
    """Fresh (params, m, v, t) on the device: donation consumes a state, so
    each jitted contender gets its own."""
    p = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    return (p, jax.tree.map(jnp.zeros_like, p), jax.tree.map(jnp.zeros_like, p),
            jnp.float32(0))


def _first_call(fn, *args):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def train(x, y, params, loss, flops, lr=LR):
    step = _make_step(loss, lr)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    jit_step = jax.jit(step, donate_argnums=0)
    # n is traced, not static: one compilation serves every epoch count.
    jit_loop = jax.jit(lambda s, x, y, n: lax.fori_loop(
        0, n, lambda i, s: step(s, x, y), s), donate_argnums=0)
    st = {}
    st["step"], step_first = _first_call(jit_step, _state(params), xj, yj)
    st["loop"], loop_first = _first_call(jit_loop, _state(params), xj, yj, 1)

    def steps(n):
        s = st["step"]
        for _ in range(n):
            s = jit_step(s, xj, yj)
        st["step"] = jax.block_until_ready(s)

    def loop(n):
        st["loop"] = jax.block_until_ready(jit_loop(st["loop"], xj, yj, n))

    return [Contender("JAX jit step (Python loop)", steps, flops,
                      {"first_call_s": step_first}),
            Contender("JAX fori_loop (one call)", loop, flops,
                      {"first_call_s": loop_first})]


def _compile(fn, *args):
    """Trace and compile ahead of time, the state (first argument) donated:
    (compiled function, seconds)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn, donate_argnums=0).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def classify(x, labels, params, batch, flops):
    step = _make_step("cross_entropy")
    state0 = _state(params)  # traced for its shapes only; not donated
    n_batches = len(x) // batch  # workloads.py sizes leave no partial batch
    xj, yj = jnp.asarray(x), jnp.asarray(labels)

    def epoch(state, key, x, y):  # shuffle, then scan over the batches
        key, sub = jax.random.split(key)
        perm = jax.random.permutation(sub, len(x))
        xs = x[perm].reshape(n_batches, batch, -1)
        ys = y[perm].reshape(n_batches, batch)
        state, _ = lax.scan(lambda s, b: (step(s, *b), None), state, (xs, ys))
        return state, key

    jit_step, step_first = _compile(step, state0, xj[:batch], yj[:batch])
    jit_epoch, epoch_first = _compile(epoch, state0, jax.random.key(0), xj, yj)
    st = {"step": _state(params), "epoch": _state(params), "key": jax.random.key(0)}
    rng = np.random.default_rng(0)

    def steps(n):  # NumPy shuffles and slices, the jitted step trains
        s = st["step"]
        for _ in range(n):
            perm = rng.permutation(len(x))
            for i in range(0, len(x), batch):
                idx = perm[i:i + batch]
                s = jit_step(s, x[idx], labels[idx])
        st["step"] = jax.block_until_ready(s)

    def epochs(n):
        s, key = st["epoch"], st["key"]
        for _ in range(n):
            s, key = jit_epoch(s, key, xj, yj)
        st["epoch"], st["key"] = jax.block_until_ready((s, key))

    forward = jax.jit(_forward)

    def predicted(name):  # with that contender's current weights
        return lambda x_test: np.asarray(forward(st[name][0], x_test).argmax(axis=1))

    return [Contender("JAX jit step (Python loop)", steps, flops,
                      {"first_call_s": step_first},
                      labels=predicted("step")),
            Contender("JAX scan epoch (one call)", epochs, flops,
                      {"first_call_s": epoch_first},
                      labels=predicted("epoch"))]


def predict(x1, params, flops):
    p = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    f = jax.jit(_forward)
    x1j = jnp.asarray(x1)
    _, first = _first_call(f, p, x1j)

    def run(n):  # a latency: each result is waited for
        for _ in range(n):
            f(p, x1j).block_until_ready()

    return [Contender("JAX jit", run, flops, {"first_call_s": first})]


def gemm(a, b, transpose, flops):
    # The transpose lives inside the jitted function, where XLA folds it
    # into the dot's dimension numbers.
    ops = {"": lambda a, b: a @ b, "a": lambda a, b: a.T @ b,
           "b": lambda a, b: a @ b.T}
    f = jax.jit(ops[transpose])
    aj, bj = jnp.asarray(a), jnp.asarray(b)
    f(aj, bj).block_until_ready()

    def run(n):
        for _ in range(n):
            out = f(aj, bj)
        out.block_until_ready()

    return [Contender("JAX jit", run, flops)]
