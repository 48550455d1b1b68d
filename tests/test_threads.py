"""Thread-count independence and concurrent training from several Python threads."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastmlp as fm
from helpers import single_threaded, until_threaded


@pytest.fixture
def restore_threads():
    n = fm.get_num_threads()
    yield
    fm.set_num_threads(n)


def _data(n=256, n_in=64, n_out=4, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    y = np.tanh(x @ rng.standard_normal((n_in, n_out)) / 8).astype(dtype)
    return x, y


def _net(dtype="float32", seed=0, n_in=64, width=192, n_out=4):
    # 256 x 192 x 192 gemms are ~19 MFLOP: far above the core's threading threshold
    return fm.Sequential(fm.Linear(n_in, width), fm.ReLU(), fm.Linear(width, width), fm.Tanh(),
                         fm.Linear(width, n_out), dtype=dtype, seed=seed)


def _train(dtype, seed=0, data_seed=0, batch_size=None, shuffle=False, epochs=4,
           opt="adam"):
    x, y = _data(dtype=np.dtype(dtype), seed=data_seed)
    net = _net(dtype, seed=seed)
    o = (fm.optim.Adam(net.parameters(), lr=1e-3) if opt == "adam"
         else fm.optim.SGD(net.parameters(), lr=0.05, momentum=0.9))
    hist = net.fit(x, y, optimizer=o, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                   seed=7)
    return [p.data.copy() for p in net.parameters()], hist.loss.copy(), net.predict(x)


def _assert_identical(a, b):
    wa, la, pa = a
    wb, lb, pb = b
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(pa, pb)


def test_openmp_available():
    # the thread-count tests below are only meaningful if the core can actually thread
    assert fm.build_info()["openmp"] is True


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size,shuffle,opt", [(None, False, "adam"),
                                                    (96, True, "sgd")])
def test_fit_bitwise_identical_for_any_thread_count(dtype, batch_size, shuffle, opt,
                                                    restore_threads):
    def train():
        return _train(dtype, batch_size=batch_size, shuffle=shuffle, opt=opt)

    fm.set_num_threads(1)
    results = [single_threaded(train)]
    for n in (2, 3):
        fm.set_num_threads(n)
        assert fm.get_num_threads() == n
        results += until_threaded(train)
    for r in results[1:]:
        _assert_identical(results[0], r)
    assert results[0][1][-1] < results[0][1][0]  # it trained


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_train_step_and_predict_identical_for_any_thread_count(dtype, restore_threads):
    x, y = _data(dtype=np.dtype(dtype), seed=3)

    def run():
        net = _net(dtype, seed=2)
        opt = fm.optim.Adam(net.parameters(), lr=1e-3)
        losses = [net.train_step(x, y, optimizer=opt) for _ in range(3)]
        return [p.data.copy() for p in net.parameters()], np.array(losses), net.predict(x)

    fm.set_num_threads(1)
    outs = [single_threaded(run)]
    for n in (2, 3):
        fm.set_num_threads(n)
        outs += until_threaded(run)
    for r in outs[1:]:
        _assert_identical(outs[0], r)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_python_threads_training_concurrently_equal_serial(dtype, restore_threads):
    fm.set_num_threads(2)
    jobs = [dict(dtype=dtype, seed=1, data_seed=10, batch_size=64, shuffle=True, epochs=3),
            dict(dtype=dtype, seed=2, data_seed=20, batch_size=None, shuffle=False, epochs=6,
                 opt="sgd")]
    serial = [_train(**j) for j in jobs]

    def concurrently():
        results = [None, None]
        errors = []
        barrier = threading.Barrier(2)

        def run(i):
            try:
                barrier.wait()
                results[i] = _train(**jobs[i])
            except BaseException as e:  # noqa: BLE001 - report in the main thread
                errors.append(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        return results

    for results in until_threaded(concurrently):
        for s, c in zip(serial, results):
            _assert_identical(s, c)
    # the two jobs really are different trainings
    assert not np.array_equal(serial[0][1][:3], serial[1][1][:3])


def test_concurrent_fit_and_predict_on_other_model(restore_threads):
    """One thread fits model A while the main thread predicts with model B: B's outputs
    are unaffected, and A ends as a serial fit would."""
    fm.set_num_threads(2)
    serial = _train("float32", seed=5, data_seed=1, batch_size=32, shuffle=True, epochs=3)
    x, _ = _data(seed=9)
    b = _net("float32", seed=6)
    want = b.predict(x)

    def fit_a_while_predicting_b():
        out = [None]

        def run():
            out[0] = _train("float32", seed=5, data_seed=1, batch_size=32, shuffle=True,
                            epochs=3)

        t = threading.Thread(target=run)
        t.start()
        for _ in range(20):
            np.testing.assert_array_equal(b.predict(x), want)
        t.join()
        return out[0]

    for got in until_threaded(fit_a_while_predicting_b):
        _assert_identical(serial, got)


def test_default_thread_count_follows_the_cpu_affinity():
    """Under taskset (or a container's CPU set) the default is the CPUs the process may
    use, not the machine's core count."""
    code = "import fastmlp as fm; print(fm.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "FASTMLP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    assert out.stdout.strip() == "1"


def test_a_model_trains_in_one_thread_at_a_time():
    """A second thread's training call on a busy model raises RuntimeError naming it (its
    updates would interleave with the first's); predict runs alongside; another model
    trains in parallel."""
    x, y = _data(n=64)
    net, other = _net(), _net()
    inside, release = threading.Event(), threading.Event()

    def hold(epoch, logs):
        inside.set()
        release.wait(10)

    t = threading.Thread(target=lambda: net.fit(x, y, epochs=2, on_epoch=hold))
    t.start()
    try:
        assert inside.wait(10)
        for call in (lambda: net.train_step(x, y), lambda: net.fit(x, y, epochs=1),
                     lambda: net.fit_lbfgs(x, y, max_iter=1), lambda: net.forward(x)):
            with pytest.raises(RuntimeError, match=f"Sequential at {id(net):#x} is busy: "
                                                   r"\w+\(\) was called while fit\(\) runs"):
                call()
        assert net.predict(x).shape == (64, 4)
        other.fit(x, y, epochs=1)  # a different model is not held up
    finally:
        release.set()
        t.join()
    net.train_step(x, y)  # free again


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_work_in_a_forked_child(restore_threads):
    """The parent's worker threads do not exist in a forked child: its training builds
    new ones (which run parts of its products) and gives the parent's result bit for bit."""
    fm.set_num_threads(2)
    want = _train("float32", epochs=2)  # the parent's pool now exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        ok = False
        try:
            ok = all(all(np.array_equal(a, b) for a, b in zip(want[0], got[0]))
                     for got in until_threaded(lambda: _train("float32", epochs=2)))
        finally:
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 120)  # a hung child fails, not the suite
    answer = os.read(read, 1) if ready else b""
    os.close(read)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"1", "the forked child hung" if not ready else "the child's fit differed"


# The bench's size range (issue 10, goal 5): the seed net and a small grid net, whose
# products are far too small to split, the tabular net, a mid-size grid net, the
# medium MLP, whose every product splits (hence until_threaded there: the split path must
# really run), and 1024-wide layers at batch 8, whose input gradients split as dot
# products. Minibatches of 2/5 of the rows leave a partial last batch, so one fit
# mixes shapes and with them split decisions.
SIZE_RANGE = [((3, 32, 1), 200, False), ((32, 32, 32, 10), 32, False),
              ((20, 128, 128, 1), 64, False), ((128, 128, 128, 10), 256, False),
              ((784, 512, 512, 10), 256, True), ((64, 1024, 1024, 10), 8, True)]


@pytest.mark.parametrize("sizes,batch,splits", SIZE_RANGE,
                         ids=["-".join(map(str, s)) + f"_b{b}" for s, b, _ in SIZE_RANGE])
def test_every_bench_size_identical_for_one_and_two_threads(sizes, batch, splits,
                                                            restore_threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    rows = rng.standard_normal((4096, sizes[0])).astype(np.float32)

    def run():
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [fm.ReLU()] if i else []
            layers.append(fm.Linear(n_in, n_out))
        net = fm.Sequential(*layers, dtype="float32", seed=1)
        opt = fm.optim.Adam(net.parameters(), lr=1e-3)
        losses = [net.train_step(x, y, optimizer=opt) for _ in range(2)]
        hist = net.fit(x, y, optimizer=opt, epochs=2, batch_size=batch * 2 // 5,
                       shuffle=True, seed=3)
        predictions = [net.predict(x[:1]), net.predict(x[:64]), net.predict(rows)]
        return ([p.data.copy() for p in net.parameters()],
                np.concatenate([losses, hist.loss]),
                np.concatenate([p.ravel() for p in predictions]))

    fm.set_num_threads(1)
    one = single_threaded(run)
    fm.set_num_threads(2)
    for two in until_threaded(run) if splits else [run()]:
        _assert_identical(one, two)


def test_a_product_of_few_columns_splits_as_a_whole_tile_would(restore_threads):
    """504 x 500 @ 500 x 10 (5 MFLOP, just under 1 MiB of operands) is too small to split
    by its FLOPs, but its 10 columns take nearly the time of a whole tile of the AVX2 and
    AVX-512 kernels (16 and 32 columns): there it splits over rows, with one thread's
    bits. (The portable and NEON tiles, 8 and 12 columns, leave it on one thread.)"""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((504, 500)).astype(np.float32)
    w = rng.standard_normal((500, 10)).astype(np.float32)

    def run():
        return fm.functional.linear(x, w)

    fm.set_num_threads(1)
    one = single_threaded(run)
    fm.set_num_threads(2)
    wide_tiles = fm.build_info()["isa"] in ("avx2", "avx512")
    # A 20 us product may end before a worker that just woke up claims its part.
    for two in until_threaded(run, attempts=500) if wide_tiles else [single_threaded(run)]:
        np.testing.assert_array_equal(two, one)
    # NumPy last: its BLAS threads spin for a while after a product, on the core
    # the worker needs.
    np.testing.assert_allclose(one, x.astype(np.float64) @ w, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("subset", [False, True], ids=["all", "last_layers"])
def test_a_split_update_that_overflows_restores_the_weights_of_before_the_step(
        subset, restore_threads):
    """Each thread backs up the weights of its part of the update: when the update
    overflows, both parts come back (the optimizer covering all six 512-wide layers,
    or the last five, whose spans then start past the first layer's)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 512)).astype(np.float32)
    y = (rng.standard_normal((2, 512)) * 1e3).astype(np.float32)

    def run():
        layers = [fm.Linear(512, 512)]
        for _ in range(5):
            layers += [fm.ReLU(), fm.Linear(512, 512)]
        net = fm.Sequential(*layers, dtype="float32", seed=3)
        o = fm.optim.Adam(net.parameters()[2:] if subset else net.parameters(), lr=1e-3)
        for _ in range(2):
            net.train_step(x, y, optimizer=o)
        before = [p.data.copy() for p in net.parameters()]
        o.lr = 3.4e38  # finite, but the update is not
        with pytest.raises(FloatingPointError, match="update made a weight non-finite"):
            net.train_step(x, y, optimizer=o)
        return before, [p.data.copy() for p in net.parameters()]

    fm.set_num_threads(2)
    for before, after in until_threaded(run):
        for b, a in zip(before, after, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_an_optimizer_that_splits_gives_the_bits_of_one_thread(opt, restore_threads):
    """Six 512-wide layers at batch 2: each product stays on one thread (1 MiB of
    weights, 1 MFLOP), while the optimizer's arrays (1.6M weights; 25 MiB for Adam,
    18 MiB for SGD with momentum) split: the region that ran on two threads is its."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 512)).astype(np.float32)
    y = rng.standard_normal((2, 512)).astype(np.float32)

    def run():
        layers = [fm.Linear(512, 512)]
        for _ in range(5):
            layers += [fm.ReLU(), fm.Linear(512, 512)]
        net = fm.Sequential(*layers, dtype="float32", seed=2)
        o = (fm.optim.Adam(net.parameters(), lr=1e-3) if opt == "adam"
             else fm.optim.SGD(net.parameters(), lr=0.01, momentum=0.9))
        losses = [net.train_step(x, y, optimizer=o) for _ in range(3)]
        return [p.data.copy() for p in net.parameters()], np.array(losses), net.predict(x)

    fm.set_num_threads(1)
    one = single_threaded(run)
    fm.set_num_threads(2)
    for two in until_threaded(run):
        _assert_identical(one, two)
