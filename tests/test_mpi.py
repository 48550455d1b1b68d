"""Data-parallel fit and train_step over MPI (comm=...), on 2 ranks under mpirun.

Each test runs tests/mpi/worker.py as `mpirun -n 2` in a subprocess with a timeout (so a hang
fails the test instead of stalling the suite) and checks what the ranks wrote against an
oracle computed here in one process: the same training on all the data (full batches), or
train_step on the ranks' batches side by side (minibatches)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
import mpi_cases as C
from helpers import assert_close

pytestmark = pytest.mark.mpi

WORKER = Path(__file__).parent / "mpi" / "worker.py"
# A failure on one rank must reach every rank within seconds, never hang.
FAIL_WITHIN = 20.0


def mpirun_command() -> list[str]:
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.fail("mpirun is not on PATH (install Open MPI: openmpi-bin)")
    cmd = [mpirun, "-n", str(C.RANKS)]
    version = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        # More ranks than cores is fine here; containers often run as root.
        cmd += ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return cmd


def mpirun(args: list[str], timeout: float, cwd: Path | None = None) -> str:
    """Runs python with args on the ranks; their output."""
    env = dict(os.environ)
    # Open MPI in containers: no cross-memory attach between the ranks (ptrace is often
    # forbidden); shared memory still carries the messages.
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    env.pop("FASTMLP_NUM_THREADS", None)
    proc = subprocess.run(mpirun_command() + [sys.executable] + args, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def run_ranks(case: str, outdir: Path, timeout: float = 120.0) -> list[dict]:
    """What each rank of `case` wrote."""
    mpirun([str(WORKER), case, str(outdir)], timeout)
    out = []
    for r in range(C.RANKS):
        with np.load(outdir / f"rank{r}.npz") as f:
            out.append({k: f[k] for k in f.files})
    return out


def same_on_ranks(ranks: list[dict], *keys: str) -> None:
    for k in keys:
        for r in ranks[1:]:
            np.testing.assert_array_equal(r[k], ranks[0][k], err_msg=k)


def no_error(ranks: list[dict]) -> None:
    for r, out in enumerate(ranks):
        assert "error" not in out, f"rank {r}: {out.get('error_type')}: {out.get('error')}"


def concat(parts):
    return tuple(np.concatenate(p) for p in zip(*parts))


# --- results against one process ------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_full_batch_equals_one_process_on_all_data(tmp_path, dtype):
    ranks = run_ranks("full_batch" if dtype == "float64" else "full_batch_f32", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss")
    x, y = concat(C.regression())
    net = C.net(dtype)
    hist = net.fit(x, y, epochs=C.EPOCHS, optimizer=fm.optim.Adam(net.parameters(), lr=0.05))
    assert_close(ranks[0]["weights"], net.flat_parameters(), dtype)
    assert_close(ranks[0]["loss"], hist.loss, dtype)
    assert ranks[0]["weights"].dtype == np.dtype(dtype)
    # One native thread on each rank during fit, as no count was chosen.
    assert set(ranks[0]["threads"].tolist()) == {1}


def test_full_batch_weights_penalty_clipping_equal_one_process(tmp_path):
    ranks = run_ranks("full_batch_penalty", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss")
    x, y = concat(C.regression())
    net = C.net()
    hist = net.fit(x, y, epochs=C.EPOCHS, sample_weight=np.concatenate(C.sample_weights()),
                   weight_l2=0.5, clip_grad_norm=0.3,
                   optimizer=fm.optim.SGD(net.parameters(), lr=0.1, momentum=0.9))
    assert_close(ranks[0]["weights"], net.flat_parameters())
    assert_close(ranks[0]["loss"], hist.loss)


def side_by_side(shards, net, opt, epochs, loss="mse", scheduler=None):
    """One process stepping through the ranks' unshuffled batches side by side: step k trains
    on the concatenation of every rank's k-th batch (ranks out of batches add none)."""
    per_rank = [C.batches(len(x), C.BATCH) for x, _ in shards]
    losses = []
    for _ in range(epochs):
        total = seen = 0.0
        for k in range(max(map(len, per_rank))):
            xb, yb = concat([(x[b[k]], y[b[k]]) for (x, y), b in zip(shards, per_rank)
                             if k < len(b)])
            total += net.train_step(xb, yb, loss=loss, optimizer=opt) * len(xb)
            seen += len(xb)
        losses.append(total / seen)
        if scheduler is not None:
            scheduler.step()
    return np.array(losses)


def test_minibatches_unequal_shards_equal_the_batches_side_by_side(tmp_path):
    # Rank 0: batches of 16, 16, 16, 2; rank 1: 16, 14, then none for two steps.
    ranks = run_ranks("minibatch", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss")
    net = C.net()
    losses = side_by_side(C.regression(), net, fm.optim.Adam(net.parameters(), lr=0.02),
                          C.EPOCHS)
    assert_close(ranks[0]["weights"], net.flat_parameters())
    assert_close(ranks[0]["loss"], losses)


def test_cross_entropy_with_a_class_missing_on_one_rank_and_step_lr(tmp_path):
    ranks = run_ranks("classes", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss", "lr")
    shards = C.classification()
    assert 2 not in shards[1][1] and 2 in shards[0][1]
    net = C.net(out=3)
    opt = fm.optim.SGD(net.parameters(), lr=0.5)
    losses = side_by_side(shards, net, opt, C.EPOCHS, "cross_entropy",
                          fm.lr_scheduler.StepLR(opt, 2, 0.5))
    assert_close(ranks[0]["weights"], net.flat_parameters())
    assert_close(ranks[0]["loss"], losses)
    np.testing.assert_allclose(ranks[0]["lr"], [0.5, 0.5, 0.25, 0.25, 0.125, 0.125])


def test_shuffled_ranks_stay_identical_and_converge(tmp_path):
    ranks = run_ranks("shuffled", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss")
    loss = ranks[0]["loss"]
    assert loss[-1] < 0.3 * loss[0]
    # Shuffled: not the unshuffled run's batches.
    net = C.net()
    unshuffled = side_by_side(C.regression(), net, fm.optim.Adam(net.parameters(), lr=0.02), 40)
    assert not np.allclose(loss, unshuffled, rtol=1e-6)


def test_plateau_schedule_and_early_stopping_on_validation_over_ranks(tmp_path):
    ranks = run_ranks("plateau", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss", "val_loss", "lr", "best_epoch")
    x, y = concat(C.regression())
    vx, vy = concat(C.regression(C.VAL_ROWS, seed=4))
    net = C.net()
    opt = fm.optim.SGD(net.parameters(), lr=0.9)
    hist = net.fit(x, y, epochs=60, validation_data=(vx, vy), optimizer=opt, patience=6,
                   restore_best_weights=True, metrics=["mse", "mae"],
                   scheduler=fm.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1))
    assert hist.epochs < 60 and len(set(hist.lr)) > 1  # it did stop early and reduce
    assert len(ranks[0]["loss"]) == hist.epochs
    assert ranks[0]["best_epoch"] == hist.best_epoch
    np.testing.assert_array_equal(ranks[0]["lr"], hist.lr)
    assert_close(ranks[0]["val_loss"], hist.val_loss)
    assert_close(ranks[0]["loss"], hist.loss)
    assert_close(ranks[0]["weights"], net.flat_parameters())
    for m in ("mse", "mae"):
        assert_close(ranks[0][f"metric_{m}"], hist.val_metrics[m])


def test_train_step_equals_one_step_on_the_concatenated_batch(tmp_path):
    ranks = run_ranks("train_step", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "losses")
    shards = C.regression()
    net = C.net()
    opt = fm.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for parts in ((slice(0, 20), slice(0, 10)), (slice(20, 30), slice(20, 30)),
                  (slice(0, 3), slice(0, 4))):
        xb, yb = concat([(x[s], y[s]) for (x, y), s in zip(shards, parts)])
        losses.append(net.train_step(xb, yb, optimizer=opt))
    assert_close(ranks[0]["losses"], losses)
    assert_close(ranks[0]["weights"], net.flat_parameters())


def test_checkpoint_on_rank_0_resumes_bitwise_at_the_same_rank_count(tmp_path):
    ranks = run_ranks("checkpoint", tmp_path)
    no_error(ranks)
    same_on_ranks(ranks, "weights", "loss", "val_loss")
    whole = ranks[0]
    np.testing.assert_array_equal(whole["resumed_weights"], whole["weights"])
    np.testing.assert_array_equal(whole["resumed_loss"], whole["loss"])
    np.testing.assert_array_equal(whole["resumed_val_loss"], whole["val_loss"])
    # One process may not resume a run of two.
    x, y = C.regression()[0]
    net = fm.Sequential(fm.Linear(4, 9), fm.Tanh(), fm.Dropout(0.2), fm.Linear(9, 1),
                        dtype="float64", seed=3)
    with pytest.raises(ValueError, match=r"2 rank\(s\), this run has 1"):
        net.fit(x, y, epochs=8, batch_size=C.BATCH, validation_data=C.regression(
            C.VAL_ROWS, seed=4)[0], patience=50, resume=tmp_path / "cut.safetensors")


# --- failures reach every rank ----------------------------------------------------------

@pytest.mark.parametrize("case, kind, words", [
    ("bad_input", "ValueError", "rank 1: y contains NaN or Inf"),
    ("callback_raises", "KeyError", "rank 1: 'the callback of rank 1 fails at epoch 3'"),
    ("diverges", "FloatingPointError", "rank 1: loss is inf at epoch 1, step 1"),
    ("settings_differ", "ValueError", "batch_size is 16 on rank 0, 17 on rank 1"),
    ("train_step_bad_input", "ValueError", "rank 1: x must have shape (n_samples, 4), got shape (30, 3)"),
])
def test_a_failure_on_one_rank_fails_every_rank_alike(tmp_path, case, kind, words):
    ranks = run_ranks(case, tmp_path, timeout=60.0)
    for r, out in enumerate(ranks):
        assert "error" in out, f"rank {r} did not fail"
        assert str(out["error_type"]) == kind, (r, out["error_type"], out["error"])
        assert words in str(out["error"]), (r, out["error"])
        assert float(out["seconds"]) < FAIL_WITHIN
    assert str(ranks[0]["error"]) == str(ranks[1]["error"])


def test_comm_must_be_a_communicator():
    x, y = C.regression()[0]
    with pytest.raises(TypeError, match="comm must be an mpi4py"):
        C.net().fit(x, y, epochs=1, comm="COMM_WORLD")
    with pytest.raises(TypeError, match="comm must be an mpi4py"):
        C.net().train_step(x, y, comm=0)


def test_the_example_script_runs_on_two_ranks(tmp_path):
    script = Path(__file__).parent.parent / "examples" / "train_mpi.py"
    out = mpirun(["-m", "mpi4py", str(script)], 120, cwd=tmp_path)
    assert "2 ranks" in out and (tmp_path / "mpi_model.safetensors").exists()
    assert out.count("Epoch: 5 ") == 1  # the log comes from rank 0 only
