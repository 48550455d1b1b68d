"""fastmlp contenders, written against the public API in API.md (the transposed GEMM rows
call the core's strided product directly, as the training loop does)."""
import fastmlp as fm
import numpy as np

from timing import Contender
from workloads import LR

NAME = "fastmlp"
_info = fm.build_info() if hasattr(fm, "build_info") else {}
# The kernel path chosen at run time matters as much as the version; the thread
# count is fastmlp's default (the worker pins the CPUs and leaves it alone).
VERSION = (f"{getattr(fm, '__version__', '?')} (isa {_info.get('isa', '?')}, "
           f"default threads {fm.get_num_threads()})")


def configure(threads):
    pass  # the default thread count follows the worker's CPU affinity


def _net(params):
    layers = []
    for i, (w, _) in enumerate(params):
        if i:
            layers.append(fm.ReLU())
        layers.append(fm.Linear(*w.shape))
    net = fm.Sequential(*layers, dtype="float32", seed=0)
    values = [a for pair in params for a in pair]
    for p, value in zip(net.parameters(), values, strict=True):
        p.data[...] = value  # same start as every peer
    return net


def supports_loss(loss, x, target, params):
    """The medium MLP uses cross-entropy only if fastmlp has it."""
    net = _net(params)
    try:
        net.train_step(x[:2], target[:2], loss=loss,
                       optimizer=fm.optim.SGD(net.parameters(), lr=0.0))
    except Exception:
        return False
    return True


def train(x, y, params, loss, flops, lr=LR):
    fit_net = _net(params)
    fit_opt = fm.optim.Adam(fit_net.parameters(), lr=lr)

    def fit(n):  # n epochs of one full batch each, one native call
        fit_net.fit(x, y, loss=loss, optimizer=fit_opt, epochs=n,
                    batch_size=None, shuffle=False)

    step_net = _net(params)
    step_opt = fm.optim.Adam(step_net.parameters(), lr=lr)

    def steps(n):
        for _ in range(n):
            step_net.train_step(x, y, loss=loss, optimizer=step_opt)

    return [Contender("fastmlp fit", fit, flops),
            Contender("fastmlp train_step loop", steps, flops)]


def at_threads(c, threads):
    """Contender c run at `threads` fastmlp threads, whatever the worker's count:
    the same process and cores, so its ratio to c is free of drift between workers."""
    def run(n):
        before = fm.get_num_threads()
        fm.set_num_threads(threads)
        try:
            c.run(n)
        finally:
            fm.set_num_threads(before)

    return Contender(f"{c.name}, {threads} thread", run, c.flops_per_unit)


def classify(x, labels, params, batch, flops):
    net = _net(params)
    opt = fm.optim.Adam(net.parameters(), lr=LR)

    def fit(n):  # n epochs of shuffled minibatches, one native call
        net.fit(x, labels, loss="cross_entropy", optimizer=opt, epochs=n,
                batch_size=batch, shuffle=True, seed=0)

    return [Contender("fastmlp fit", fit, flops,
                      labels=lambda xt: net.predict(xt).argmax(axis=1))]


def predict(x1, params, flops):
    net = _net(params)

    def by_predict(n):
        for _ in range(n):
            net.predict(x1)

    def by_call(n):
        for _ in range(n):
            net(x1)

    return [Contender("fastmlp net.predict(x)", by_predict, flops),
            Contender("fastmlp net(x)", by_call, flops)]


def gemm(a, b, transpose, flops):
    # Transposes are NumPy views, as the backward pass has them. fm.functional.linear
    # copies such views to C order (so its results never depend on layout); the
    # training loop hands them to the GEMM as strides, which is what these rows time.
    a_op = a.T if transpose == "a" else a
    b_op = b.T if transpose == "b" else b
    if not transpose:
        linear = fm.functional.linear

        def run(n):
            for _ in range(n):
                linear(a_op, b_op)
    else:
        from fastmlp import _core
        product = _core.gemm_f32 if a.dtype == np.float32 else _core.gemm_f64
        shape = (a_op.shape[0], b_op.shape[1])

        def run(n):
            for _ in range(n):
                product(a_op, b_op, np.empty(shape, a.dtype), False)

    return [Contender("fastmlp", run, flops)]
