"""Models across processes and at interpreter exit: pickling (which multiprocessing's spawn
uses), training in spawned children, and daemon threads inside native calls when the
interpreter exits (the thread is ended as it takes the GIL back; that must not abort the
process)."""
from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params

TIMEOUT = 120  # seconds: only catches a hang; the children take about a second


def _data(dtype="float32", n=48):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 5)).astype(dtype)
    return x, np.sin(x[:, :2]).astype(dtype)


def _net(dtype="float32"):
    return fm.Sequential(fm.Linear(5, 16), fm.Dropout(0.25), fm.Tanh(), fm.Linear(16, 2),
                         dtype=dtype, seed=7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_copied_model_predicts_and_trains_on_like_the_original(dtype, how):
    x, y = _data(dtype)
    net = _net(dtype)
    net.fit(x, y, epochs=3, batch_size=16, seed=0)  # moves the weights and dropout stream
    twin = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    assert repr(twin) == repr(net) and twin.dtype == net.dtype
    assert np.array_equal(flat_params(twin), flat_params(net))
    assert np.array_equal(twin.predict(x), net.predict(x))
    # The same further training, dropout masks included, gives the same bits (an optimizer
    # is not part of the model: each gets a new one)...
    for m in (net, twin):
        m.fit(x, y, optimizer=fm.optim.Adam(m.parameters()), epochs=2, batch_size=16, seed=1)
    assert np.array_equal(flat_params(twin), flat_params(net))
    # ...in buffers of its own.
    twin.flat_parameters()[:] = 0
    assert not np.array_equal(net.flat_parameters(), twin.flat_parameters())
    assert np.array_equal(twin.predict(x), np.zeros((len(x), 2), dtype))


def test_a_copied_model_keeps_evaluation_mode():
    net = _net().eval()
    assert not pickle.loads(pickle.dumps(net)).training
    assert copy.deepcopy(net.train()).training


def test_an_optimizer_refuses_to_pickle_and_says_what_to_do():
    opt = fm.optim.Adam(_net().parameters())
    with pytest.raises(TypeError, match="Adam optimizers do not pickle.*fm.save"):
        pickle.dumps(opt)
    with pytest.raises(TypeError, match="optimizer=opt"):
        copy.deepcopy(opt)


def _run(tmp_path, script, *args):
    # A file, not -c: spawned children import the parent's main module from it.
    path = tmp_path / "child.py"
    path.write_text(script)
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                          timeout=TIMEOUT)


SPAWN = textwrap.dedent(r"""
    import multiprocessing as mp
    import numpy as np
    import fastmlp as fm

    def data():
        x = np.random.default_rng(5).standard_normal((64, 4)).astype(np.float32)
        return x, x.sum(1, keepdims=True) ** 2

    def train(seed):
        net = fm.Sequential(fm.Linear(4, 32), fm.ReLU(), fm.Linear(32, 1), seed=seed)
        net.fit(*data(), epochs=20, batch_size=16, seed=seed)
        return net

    def train_on(net):  # with an optimizer of its own: one is not part of a pickled model
        net.fit(*data(), optimizer=fm.optim.Adam(net.parameters()), epochs=5, batch_size=8,
                seed=9)
        return net

    def same(a, b):
        return all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))

    if __name__ == "__main__":
        fm.set_num_threads(1)
        with mp.get_context("spawn").Pool(2) as pool:
            theirs = pool.map(train, [0, 1])              # models back from the children
            sent = train(2)
            further = pool.apply(train_on, (sent,))       # a model to a child and back
        ours = [train(0), train(1)]
        print(all(same(a, b) for a, b in zip(theirs, ours)), same(further, train_on(sent)),
              not same(further, train(2)))
""")


def test_spawned_children_train_models_and_send_them_back(tmp_path):
    """multiprocessing's spawn start method: children import fastmlp afresh, train, and
    return their models pickled; the results equal training here, bit for bit."""
    r = _run(tmp_path, SPAWN)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True", "True"], r.stdout + r.stderr


EXIT_WITH_DAEMONS = textwrap.dedent(r"""
    import sys, threading, time
    import numpy as np
    import fastmlp as fm

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 64)).astype(np.float32)
    y = x[:, :1].copy()

    def model():
        return fm.Sequential(fm.Linear(64, 256), fm.ReLU(), fm.Linear(256, 1), seed=0)

    def predicting(net=model()):
        while True:
            net.predict(x)

    def stepping(net=model()):
        while True:
            net.train_step(x[:512], y[:512])

    def fitting(net=model()):
        net.fit(x, y, epochs=10**9, batch_size=256)

    def lbfgs(net=model()):
        while True:
            net.fit_lbfgs(x[:1024], y[:1024], max_iter=10**6, tol=0.0)

    started = [threading.Thread(target=f, daemon=True)
               for f in (predicting, stepping, fitting, lbfgs)]
    for t in started:
        t.start()
    time.sleep(float(sys.argv[1]))
    print("EXITING", flush=True)  # with every thread inside the core, the GIL released
""")


@pytest.mark.parametrize("wait", ["0.3", "0.7"])
def test_the_process_exits_while_daemon_threads_are_in_native_calls(tmp_path, wait):
    """The interpreter ends daemon threads when they take the GIL back after a native call
    (pthread_exit, which unwinds their C++ frames); the process must exit cleanly, not
    abort in std::terminate."""
    r = _run(tmp_path, EXIT_WITH_DAEMONS, wait)
    assert r.stdout.strip() == "EXITING", r.stdout + r.stderr
    assert r.returncode == 0, r.stderr
    assert "terminate" not in r.stderr, r.stderr
