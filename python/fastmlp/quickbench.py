"""`fastmlp bench`: a quick side-by-side of the seed network's training step (200 x 3 -> 32
-> 1, MSE, Adam, full batch) with the peers installed here: NumPy always, PyTorch when
present. Medians of interleaved repeats; bench/run.py in the repository is the full harness."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import numpy.typing as npt

from ._core import set_num_threads
from .nn import Linear, ReLU, Sequential
from .optim import Adam

F32 = npt.NDArray[np.float32]
Step = Callable[[int], None]  # runs n training steps


def _data() -> Tuple[F32, F32]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32)
    y = (x @ np.array([[0.2], [-1.3], [-0.5]], np.float32)
         + rng.standard_normal((200, 1)).astype(np.float32))
    return x, y


def _fastmlp(x: F32, y: F32) -> Step:
    net = Sequential(Linear(3, 32), ReLU(), Linear(32, 1), seed=0)
    opt = Adam(net.parameters(), lr=1e-3)

    def run(n: int) -> None:
        net.fit(x, y, optimizer=opt, epochs=n, shuffle=False)
    return run


def _numpy(x: F32, y: F32) -> Step:
    """Forward, backward and Adam written out in NumPy, as the seed's first half does."""
    rng = np.random.default_rng(0)
    ps = [rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in ((3, 32), (32,), (32, 1), (1,))]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    t = [0]

    def run(n: int) -> None:
        for _ in range(n):
            w1, b1, w2, b2 = ps
            h = x @ w1 + b1
            a = np.maximum(h, 0)
            g = 2 * (a @ w2 + b2 - y) / y.size
            ga = (g @ w2.T) * (h > 0)
            grads = [x.T @ ga, ga.sum(0), a.T @ g, g.sum(0)]
            t[0] += 1
            for p, m, v, gr in zip(ps, ms, vs, grads):
                m += 0.1 * (gr - m)
                v += 0.001 * (gr * gr - v)
                p -= 1e-3 / (1 - 0.9 ** t[0]) * m / (np.sqrt(v / (1 - 0.999 ** t[0])) + 1e-8)
    return run


def _torch(x: F32, y: F32) -> Step:
    import torch
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run(n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(xt), yt).backward()
            opt.step()
    return run


def contenders() -> Dict[str, Step]:
    """The contenders installed here, each ready to run n training steps: fastmlp ``fit``,
    a hand-written NumPy step and, when installed, PyTorch eager. Sets fastmlp to one
    thread, and PyTorch too.

    Returns
    -------
    dict of str to callable
    """
    set_num_threads(1)  # every contender on one thread
    x, y = _data()
    out = {"fastmlp fit": _fastmlp(x, y), "NumPy hand-written": _numpy(x, y)}
    try:
        out["PyTorch eager"] = _torch(x, y)
    except ImportError:
        pass
    return out


def measure(steps: Dict[str, Step], repeats: int, seconds: float) -> Dict[str, float]:
    """Times each contender: a warm-up that sizes each repeat, then repeats interleaved
    (one of each contender per round).

    Parameters
    ----------
    steps : dict of str to callable
        From `contenders`.
    repeats : int
        Timed repeats per contender.
    seconds : float
        About how long each repeat runs.

    Returns
    -------
    dict of str to float
        The median seconds per step of each contender.
    """
    counts = {}
    for name, run in steps.items():  # warm up, and size each repeat to about `seconds`
        n, spent = 1, 0.0
        while spent < seconds / 4:
            t0 = time.perf_counter()
            run(n)
            spent = time.perf_counter() - t0
            n *= 2
        counts[name] = max(1, int(n / 2 * seconds / max(spent, 1e-9)))
    samples: Dict[str, List[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, run in steps.items():
            t0 = time.perf_counter()
            run(counts[name])
            samples[name].append((time.perf_counter() - t0) / counts[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def report(medians: Dict[str, float]) -> str:
    """The table that ``fastmlp bench`` prints: time per step, and how many times slower
    than fastmlp's ``fit`` each contender is.

    Parameters
    ----------
    medians : dict of str to float
        From `measure`; must include ``"fastmlp fit"``.

    Returns
    -------
    str
    """
    base = medians["fastmlp fit"]
    lines = ["Seed network training step (200 x 3 -> 32 -> 1, MSE, Adam, full batch, float32,"
             " one thread; median of interleaved repeats)",
             f"{'contender':<22}{'per step':>12}{'x vs fastmlp':>14}"]
    for name, s in medians.items():
        lines.append(f"{name:<22}{s * 1e6:>10.2f} us{s / base:>13.2f}x")
    return "\n".join(lines)
