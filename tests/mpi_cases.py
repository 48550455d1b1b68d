"""The data-parallel cases that tests/mpi/worker.py runs on 2 ranks and tests/test_mpi.py
checks against one-process oracles: the data of each rank and the models, made the same way
in both."""
from __future__ import annotations

import numpy as np

import fastmlp as fm

RANKS = 2
# Unequal shards: rank 0 has more rows, so with batches of BATCH it has more steps (and a
# ragged last batch) than rank 1.
ROWS = (50, 30)
VAL_ROWS = (13, 7)
BATCH = 16
EPOCHS = 6


def net(dtype: str = "float64", out: int = 1, seed: int = 7) -> fm.Sequential:
    return fm.Sequential(fm.Linear(4, 9), fm.Tanh(), fm.Linear(9, out), dtype=dtype, seed=seed)


def regression(rows: tuple[int, ...] = ROWS, seed: int = 1):
    """Each rank's (x, y) of a smooth regression."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sum(rows), 4))
    y = np.sin(x @ np.array([1.0, -0.5, 0.25, 2.0])) + 0.1 * rng.normal(size=sum(rows))
    cut = np.cumsum(rows)[:-1]
    return list(zip(np.split(x, cut), np.split(y, cut)))


def classification(rows: tuple[int, ...] = ROWS, seed: int = 2):
    """Each rank's (x, labels) of 3 classes; rank 1 has no sample of class 2."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sum(rows), 4))
    labels = np.argmax(x[:, :3] + 0.3 * rng.normal(size=(sum(rows), 3)), axis=1)
    cut = np.cumsum(rows)[:-1]
    xs, ls = np.split(x, cut), np.split(labels, cut)
    ls[1] = np.where(ls[1] == 2, 0, ls[1])
    return list(zip(xs, ls))


def sample_weights(rows: tuple[int, ...] = ROWS, seed: int = 3):
    return np.split(np.random.default_rng(seed).uniform(0.2, 2.0, sum(rows)),
                    np.cumsum(rows)[:-1])


def batches(n: int, batch: int):
    """The row ranges fit takes, in order, without shuffling."""
    return [slice(s, min(s + batch, n)) for s in range(0, n, batch)]
