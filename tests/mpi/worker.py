"""One rank of a data-parallel case: `mpirun -n 2 python worker.py CASE OUTDIR` writes
OUTDIR/rank<r>.npz with what the case measured (an error's type and message when it raised),
for tests/test_mpi.py to check."""
from __future__ import annotations

import os
import sys
import time

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mpi_cases as C  # noqa: E402

import fastmlp as fm  # noqa: E402

comm = MPI.COMM_WORLD
rank = comm.Get_rank()


def result(net, hist=None, **more):
    out = {"weights": net.flat_parameters().copy(), **more}
    if hist is not None:
        out["loss"] = hist.loss
        out["lr"] = hist.lr
        if hist.val_loss is not None:
            out["val_loss"] = hist.val_loss
        out["best_epoch"] = -1 if hist.best_epoch is None else hist.best_epoch
    return out


def full_batch(dtype="float64"):
    x, y = C.regression()[rank]
    # rank 1 starts from other weights: fit starts every rank from rank 0's
    net = C.net(dtype, seed=7 + rank)
    threads = []  # during fit: one per rank, as the user chose none
    hist = net.fit(x, y, epochs=C.EPOCHS, optimizer=fm.optim.Adam(net.parameters(), lr=0.05),
                   on_epoch=lambda e, logs: threads.append(fm.get_num_threads()), comm=comm)
    return result(net, hist, threads=np.array(threads))


def full_batch_f32():
    return full_batch("float32")


def full_batch_penalty():
    x, y = C.regression()[rank]
    net = C.net()
    hist = net.fit(x, y, epochs=C.EPOCHS, sample_weight=C.sample_weights()[rank],
                   weight_l2=0.5, clip_grad_norm=0.3,
                   optimizer=fm.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), comm=comm)
    return result(net, hist)


def minibatch():
    x, y = C.regression()[rank]
    net = C.net()
    hist = net.fit(x, y, epochs=C.EPOCHS, batch_size=C.BATCH, shuffle=False,
                   optimizer=fm.optim.Adam(net.parameters(), lr=0.02), comm=comm)
    return result(net, hist)


def shuffled():
    x, y = C.regression()[rank]
    net = C.net()
    hist = net.fit(x, y, epochs=40, batch_size=C.BATCH, seed=5,
                   optimizer=fm.optim.Adam(net.parameters(), lr=0.02), comm=comm)
    return result(net, hist)


def classes():
    x, labels = C.classification()[rank]
    net = C.net(out=3)
    opt = fm.optim.SGD(net.parameters(), lr=0.5)
    hist = net.fit(x, labels, loss="cross_entropy", epochs=C.EPOCHS, batch_size=C.BATCH,
                   shuffle=False, optimizer=opt, scheduler=fm.lr_scheduler.StepLR(opt, 2, 0.5),
                   comm=comm)
    return result(net, hist)


def plateau():
    (x, y), (vx, vy) = C.regression()[rank], C.regression(C.VAL_ROWS, seed=4)[rank]
    net = C.net()
    opt = fm.optim.SGD(net.parameters(), lr=0.9)
    hist = net.fit(x, y, epochs=60, validation_data=(vx, vy), optimizer=opt, patience=6,
                   restore_best_weights=True, metrics=["mse", "mae"],
                   scheduler=fm.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1),
                   comm=comm)
    return result(net, hist, **{f"metric_{m}": v for m, v in hist.val_metrics.items()})


def train_step():
    x, y = C.regression()[rank]
    net = C.net()
    opt = fm.optim.Adam(net.parameters(), lr=0.05)
    losses = [net.train_step(x[s], y[s], optimizer=opt, comm=comm)
              for s in (slice(0, 20 - 10 * rank), slice(20, 30), slice(0, 3 + rank))]
    return result(net, losses=np.array(losses))


def checkpoint(outdir):
    x, y = C.regression()[rank]
    (vx, vy) = C.regression(C.VAL_ROWS, seed=4)[rank]

    def run(epochs, path, resume=None):
        net = fm.Sequential(fm.Linear(4, 9), fm.Tanh(), fm.Dropout(0.2), fm.Linear(9, 1),
                            dtype="float64", seed=3)
        opt = fm.optim.Adam(net.parameters(), lr=0.02)
        hist = net.fit(x, y, epochs=epochs, batch_size=C.BATCH, seed=11, optimizer=opt,
                       validation_data=(vx, vy), patience=50,
                       scheduler=fm.lr_scheduler.StepLR(opt, 2, 0.7), checkpoint=path,
                       resume=resume, comm=comm)
        return net, hist

    whole, hist = run(8, os.path.join(outdir, "whole.safetensors"))
    cut = os.path.join(outdir, "cut.safetensors")
    run(3, cut)
    resumed, rhist = run(8, os.path.join(outdir, "resumed.safetensors"), resume=cut)
    return {"weights": whole.flat_parameters().copy(), "loss": hist.loss,
            "val_loss": hist.val_loss, "resumed_weights": resumed.flat_parameters().copy(),
            "resumed_loss": rhist.loss, "resumed_val_loss": rhist.val_loss,
            "files": np.array([os.path.exists(os.path.join(outdir, "cut.safetensors"))])}


# The failure cases: each raises on every rank (the worker records what it raised).
def bad_input():
    x, y = C.regression()[rank]
    if rank == 1:
        y = y.copy()
        y[3] = np.nan
    C.net().fit(x, y, epochs=3, comm=comm)


def callback_raises():
    x, y = C.regression()[rank]

    def callback(epoch, loss):
        if rank == 1 and epoch == 3:
            raise KeyError("the callback of rank 1 fails at epoch 3")

    # With a checkpoint: its gather follows the callback, and must still run on rank 1.
    path = os.path.join(os.environ["FASTMLP_TEST_OUT"], "callback.safetensors")
    C.net().fit(x, y, epochs=50, log_every=1, callback=callback, batch_size=C.BATCH,
                checkpoint=path, comm=comm)


def diverges():
    x, y = C.regression()[rank]
    if rank == 1:
        y = y * 1e200  # its squared error overflows: an infinite loss there only
    C.net().fit(x, y, epochs=3, comm=comm)


def settings_differ():
    x, y = C.regression()[rank]
    C.net().fit(x, y, epochs=3, batch_size=C.BATCH + rank, comm=comm)


def train_step_bad_input():
    x, y = C.regression()[rank]
    C.net().train_step(x if rank == 0 else x[:, :3], y, comm=comm)


def main():
    case, outdir = sys.argv[1], sys.argv[2]
    os.environ["FASTMLP_TEST_OUT"] = outdir
    fn = globals()[case]
    start = time.perf_counter()
    try:
        out = fn(outdir) if case == "checkpoint" else fn()
    except Exception as e:
        out = {"error_type": np.array(type(e).__name__), "error": np.array(str(e))}
    out["seconds"] = np.array(time.perf_counter() - start)
    np.savez(os.path.join(outdir, f"rank{rank}.npz"), **out)


main()
