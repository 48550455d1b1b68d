"""Data-parallel fit over MPI against one process: samples per second and what the per-step
Allreduce costs.

    python bench/mpi.py [--ranks 2] [--repeats 5]

launches itself under `mpirun -n RANKS` (one native thread per rank) next to one process
with one thread, on two workloads: the medium MLP (784-512-512-10, float32, Adam,
cross-entropy, global batch 256: 256 / RANKS per rank), where the compute dominates, and
the seed net (200x3 -> 32 -> 1, full batch), where the communication does. Medians of the
repeats; the ratios are printed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

import fastmlp as fm

MEDIUM = {"layers": (784, 512, 512, 10), "rows": 8192, "batch": 256, "epochs": 2,
          "loss": "cross_entropy", "dtype": "float32"}
SEED = {"layers": (3, 32, 1), "rows": 200, "batch": None, "epochs": 2000, "loss": "mse",
        "dtype": "float32"}


def data(w, rows, rank=0, ranks=1):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, w["layers"][0])).astype(w["dtype"])
    if w["loss"] == "cross_entropy":
        y = rng.integers(0, w["layers"][-1], rows)
    else:
        y = (x @ rng.normal(size=(w["layers"][0], 1))).astype(w["dtype"])
    return x[rank::ranks], y[rank::ranks]


def model(w):
    sizes = w["layers"]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [fm.Linear(a, b)] + ([fm.ReLU()] if i < len(sizes) - 2 else [])
    return fm.Sequential(*layers, dtype=w["dtype"], seed=0)


def timed_fit(w, rank, ranks, comm=None):
    """Seconds of one fit, its steps, and the seconds of as many bare Allreduces of the
    gradient buffer and extras as the fit made (comm only)."""
    x, y = data(w, w["rows"], rank, ranks)
    batch = None if w["batch"] is None else w["batch"] // ranks
    net = model(w)
    if comm is not None:
        comm.Barrier()
    start = time.perf_counter()
    net.fit(x, y, loss=w["loss"], epochs=w["epochs"], batch_size=batch, shuffle=False,
            comm=comm)
    seconds = time.perf_counter() - start
    steps = w["epochs"] * (1 if batch is None else -(-len(x) // batch))
    reduce_s = 0.0
    if comm is not None:
        from mpi4py import MPI
        buf = net._grad_buffer
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(steps):
            comm.Allreduce(MPI.IN_PLACE, buf)
        reduce_s = time.perf_counter() - start
    return seconds, steps, reduce_s


def rank_main(repeats):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out = {}
    for name, w in (("medium", MEDIUM), ("seed", SEED)):
        runs = [timed_fit(w, comm.rank, comm.size, comm) for _ in range(repeats)]
        # The slowest rank sets the pace.
        out[name] = [comm.allreduce(r[0], op=MPI.MAX) for r in runs], runs[0][1], \
            statistics.median(comm.allreduce(r[2], op=MPI.MAX) for r in runs)
    if comm.rank == 0:
        print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rank-run", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.rank_run:
        return rank_main(a.repeats)
    fm.set_num_threads(1)
    cmd = [shutil.which("mpirun") or "mpirun", "-n", str(a.ranks)]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    env = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    env.pop("FASTMLP_NUM_THREADS", None)
    proc = subprocess.run(cmd + [sys.executable, __file__, "--rank-run", "--repeats",
                                 str(a.repeats)], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(proc.stdout + proc.stderr)
    ranked = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{'workload':<8} {'1 process s':>12} {f'{a.ranks} ranks s':>10} {'speed-up':>9} "
          f"{'step us (1p)':>13} {'step us (N)':>12} {'allreduce us':>13} {'share':>6}")
    for name, w in (("medium", MEDIUM), ("seed", SEED)):
        single = statistics.median(timed_fit(w, 0, 1)[0] for _ in range(a.repeats))
        times, steps, reduce_s = ranked[name]
        multi = statistics.median(times)
        print(f"{name:<8} {single:12.3f} {multi:10.3f} {single / multi:8.2f}x "
              f"{1e6 * single / steps:13.1f} {1e6 * multi / steps:12.1f} "
              f"{1e6 * reduce_s / steps:13.1f} {reduce_s / multi:6.1%}")


if __name__ == "__main__":
    main()
