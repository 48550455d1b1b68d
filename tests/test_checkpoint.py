"""Checkpoints: fm.save/load with the optimizer, fit(checkpoint=..., resume=...).

The oracle of resuming is the uninterrupted run: training 10 epochs must equal training 5
with a checkpoint, then resuming in a new process up to 10, bit for bit."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import fastmlp as fm

HERE = os.path.dirname(os.path.abspath(__file__))


def _data(dtype, n=61):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, 4)).astype(dtype)
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], x[:, 3] ** 2], 1).astype(dtype)
    return x, y


def _net(dtype, seed):
    return fm.Sequential(fm.Linear(4, 16), fm.Tanh(), fm.Dropout(0.3), fm.Linear(16, 16),
                         fm.ReLU(), fm.Dropout(0.1), fm.Linear(16, 2), dtype=dtype, seed=seed)


def _optimizer(kind, net):
    if kind == "sgd":
        return fm.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return fm.optim.Adam(net.parameters(), lr=0.01)


def _scheduler(kind, opt):
    if kind == "step":
        return fm.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return fm.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, threshold=0.05)


def run(cfg, net_seed, epochs, **kw):
    """One fit of the configuration cfg: (net, optimizer, history)."""
    x, y = _data(cfg["dtype"])
    net = _net(cfg["dtype"], net_seed)
    opt = _optimizer(cfg["opt"], net)
    hist = net.fit(x[:45], y[:45], optimizer=opt, epochs=epochs, batch_size=8, seed=3,
                   scheduler=_scheduler(cfg["sched"], opt), validation_data=(x[45:], y[45:]),
                   patience=cfg["patience"], min_delta=cfg["min_delta"],
                   restore_best_weights=True, metrics=("mse",), **kw)
    return net, opt, hist


def _outcome(net, opt, hist):
    """Everything a run produced, as arrays."""
    out = {"weights": net.flat_parameters().copy(), "step_count": np.array(opt.step_count),
           "lr": np.array(opt.lr), "h_loss": hist.loss, "h_val_loss": hist.val_loss,
           "h_lr": hist.lr, "h_penalty": hist.penalty, "h_mse": hist.val_metrics["mse"],
           "best_epoch": np.array(-1 if hist.best_epoch is None else hist.best_epoch)}
    out.update((f"state{i}", s.copy()) for i, s in enumerate(opt.state))
    return out


def child(cfg_json, path, out):
    """In a new process: a freshly seeded model resumes the checkpoint to 10 epochs."""
    np.savez(out, **_outcome(*run(json.loads(cfg_json), 99, 10, resume=path)))


def _in_new_process(cfg, path, tmp_path):
    out = tmp_path / "resumed.npz"
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_checkpoint as t; "
            f"t.child({json.dumps(cfg)!r}, {str(path)!r}, {str(out)!r})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as f:
        return dict(f)


def _assert_same(resumed, whole):
    assert sorted(resumed) == sorted(whole)
    for k, v in whole.items():
        assert resumed[k].dtype == v.dtype, k
        np.testing.assert_array_equal(resumed[k], v, err_msg=k)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt,sched", [("sgd", "step"), ("adam", "plateau")])
def test_resuming_in_a_new_process_equals_the_uninterrupted_run(tmp_path, dtype, opt, sched):
    cfg = {"dtype": dtype, "opt": opt, "sched": sched, "patience": 20, "min_delta": 0.0}
    whole = _outcome(*run(cfg, 1, 10))
    path = tmp_path / "run.safetensors"
    _, _, hist = run(cfg, 1, 5, checkpoint=path, checkpoint_every=5)
    assert hist.epochs == 5
    _assert_same(_in_new_process(cfg, path, tmp_path), whole)
    assert len(whole["h_loss"]) == 10
    assert len(set(whole["h_lr"])) > 1  # the schedule acted: its state was resumed too


@pytest.mark.parametrize("min_delta,patience", [(1e9, 7), (1e9, 3)],
                         ids=["stops-after-the-checkpoint", "stopped-before-it"])
def test_early_stopping_resumes_as_it_would_have_run(tmp_path, min_delta, patience):
    # min_delta=1e9: only epoch 1 counts as an improvement, so the run stops at 1 + patience.
    cfg = {"dtype": "float64", "opt": "adam", "sched": "plateau", "patience": patience,
           "min_delta": min_delta}
    whole = _outcome(*run(cfg, 1, 10))
    assert len(whole["h_loss"]) == 1 + patience and whole["best_epoch"] == 1
    path = tmp_path / "run.safetensors"
    run(cfg, 1, 5, checkpoint=path, checkpoint_every=5)
    _assert_same(_in_new_process(cfg, path, tmp_path), whole)


def test_checkpointing_leaves_the_run_unchanged(tmp_path):
    cfg = {"dtype": "float32", "opt": "sgd", "sched": "step", "patience": 20, "min_delta": 0.0}
    plain = _outcome(*run(cfg, 1, 7))
    with_checkpoints = _outcome(*run(cfg, 1, 7, checkpoint=tmp_path / "c.safetensors",
                                     checkpoint_every=2))
    _assert_same(with_checkpoints, plain)


def _checkpoint_epoch(path):
    if not os.path.exists(path):
        return None
    with safetensors.safe_open(str(path), framework="np") as f:
        return json.loads(f.metadata()["checkpoint"])["epoch"]


def test_checkpoints_every_n_epochs_and_at_the_end(tmp_path):
    x, y = _data("float64")
    path = tmp_path / "c.safetensors"
    seen = []
    net = _net("float64", 0)
    # on_epoch runs before that epoch's checkpoint is written.
    net.fit(x, y, epochs=7, batch_size=16, checkpoint=path, checkpoint_every=3,
            on_epoch=lambda e, logs: seen.append(_checkpoint_epoch(path)))
    assert seen == [None, None, None, 3, 3, 3, 6]
    assert _checkpoint_epoch(path) == 7
    # Without on_epoch or log_every the native loop reports only at the checkpoints.
    net.fit(x, y, epochs=4, checkpoint=path, checkpoint_every=2)
    assert _checkpoint_epoch(path) == 4


def test_resume_continues_log_lines_and_callbacks(tmp_path, capsys):
    x, y = _data("float64")
    path = tmp_path / "c.safetensors"
    calls = []
    net = _net("float64", 0)
    net.fit(x, y, epochs=4, log_every=2, callback=lambda e, l: calls.append(e),
            checkpoint=path, checkpoint_every=3)
    net = _net("float64", 5)
    hist = net.fit(x, y, epochs=8, log_every=2, callback=lambda e, l: calls.append(e),
                   resume=path)
    assert calls == [2, 4, 6, 8] and hist.epochs == 8


KILLED_RUN = """
import sys
import numpy as np
import fastmlp as fm
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 3)); y = x[:, :1] * x[:, 1:2]
net = fm.Sequential(fm.Linear(3, 8), fm.Tanh(), fm.Dropout(0.2), fm.Linear(8, 1),
                    dtype="float64", seed=0)
net.fit(x, y, epochs=int(sys.argv[2]), batch_size=16, seed=1, checkpoint=sys.argv[1],
        checkpoint_every=1)
"""


def test_a_process_killed_mid_fit_leaves_a_checkpoint_that_resumes(tmp_path):
    path = tmp_path / "run.safetensors"
    epochs = 20000
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path), str(epochs)],
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not path.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.001)
        time.sleep(0.05)  # into the later checkpoints, each replacing the previous one
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = _checkpoint_epoch(path)
    assert 1 <= done < epochs  # killed mid-fit
    net, opt = fm.load(path, with_optimizer=True)
    assert isinstance(opt, fm.optim.Adam) and opt.step_count == 4 * done

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    y = x[:, :1] * x[:, 1:2]

    def fresh(seed):
        return fm.Sequential(fm.Linear(3, 8), fm.Tanh(), fm.Dropout(0.2), fm.Linear(8, 1),
                             dtype="float64", seed=seed)

    whole = fresh(0)
    total = done + 30
    h_whole = whole.fit(x, y, epochs=total, batch_size=16, seed=1)
    resumed = fresh(1)
    h = resumed.fit(x, y, epochs=total, batch_size=16, seed=1, resume=path)
    np.testing.assert_array_equal(resumed.flat_parameters(), whole.flat_parameters())
    np.testing.assert_array_equal(h.loss, h_whole.loss)


# --- fm.save / fm.load with the optimizer -----------------------------------------------
OPTIMIZERS = {
    "sgd": lambda p: fm.optim.SGD(p, lr=0.05),
    "sgd_nesterov": lambda p: fm.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.0,
                                           weight_decay=1e-3, nesterov=True),
    "sgd_dampened": lambda p: fm.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3),
    "adam": lambda p: fm.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=1e-3),
    "adam_amsgrad": lambda p: fm.optim.Adam(p, lr=0.01, amsgrad=True),
    "adamw": lambda p: fm.optim.AdamW(p, lr=0.01, weight_decay=0.05, amsgrad=True),
    "rmsprop": lambda p: fm.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
    "rmsprop_centered": lambda p: fm.optim.RMSprop(p, lr=0.01, centered=True, weight_decay=1e-3),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_save_and_load_with_the_optimizer_continues_training_exactly(tmp_path, dtype, kind):
    x, y = _data(dtype)
    net = fm.Sequential(fm.Linear(4, 8), fm.ReLU(), fm.Linear(8, 2), dtype=dtype, seed=0)
    opt = OPTIMIZERS[kind](net.parameters())
    for _ in range(3):
        net.train_step(x, y, optimizer=opt)
    opt.lr = 0.003  # as a schedule would: the current rate is saved
    path = tmp_path / "m.safetensors"
    fm.save(net, path, optimizer=opt)
    net2, opt2 = fm.load(path, with_optimizer=True)
    assert type(opt2) is type(opt) and opt2.config() == opt.config()
    assert opt2.step_count == 3 and opt2.lr == 0.003 and opt2.dtype == net2.dtype
    for a, b in zip(opt2.state, opt.state):
        np.testing.assert_array_equal(a, b)
    for _ in range(4):
        net.train_step(x, y, optimizer=opt)
        net2.train_step(x, y, optimizer=opt2)  # bound to net2's parameters
    np.testing.assert_array_equal(net2.flat_parameters(), net.flat_parameters())
    assert opt2.step_count == 7


def test_the_optimizer_is_plain_safetensors_and_optional(tmp_path):
    net = fm.Sequential(fm.Linear(3, 2), seed=0)
    opt = fm.optim.Adam(net.parameters())
    path = tmp_path / "m.safetensors"
    fm.save(net, path, optimizer=opt, metadata={"note": "x"})
    assert sorted(safetensors.numpy.load_file(str(path))) == [
        "0.bias", "0.weight", "optimizer.state.0", "optimizer.state.1"]  # m and v
    assert fm.saving.read_metadata(path) == {"note": "x"}
    np.testing.assert_array_equal(fm.load(path).flat_parameters(), net.flat_parameters())


def test_loading_an_optimizer_from_a_file_without_one_raises(tmp_path):
    path = tmp_path / "m.safetensors"
    fm.save(fm.Sequential(fm.Linear(3, 2), seed=0), path)
    with pytest.raises(ValueError, match="holds no optimizer state.*with_optimizer=False"):
        fm.load(path, with_optimizer=True)


def test_files_of_the_first_format_still_load(tmp_path):
    # What fm.save wrote before optimizers were saved: weights, format, dtype, layers.
    w = np.arange(6, dtype=np.float64).reshape(3, 2)
    meta = {"format": "fastmlp.Sequential/1", "dtype": "float64",
            "layers": json.dumps([{"type": "Linear", "in_features": 3, "out_features": 2,
                                   "bias": False, "init": "default"}])}
    path = tmp_path / "old.safetensors"
    safetensors.numpy.save_file({"0.weight": w}, str(path), metadata=meta)
    np.testing.assert_array_equal(fm.load(path)[0].weight.data, w)


def test_save_refuses_an_optimizer_of_another_model(tmp_path):
    net = fm.Sequential(fm.Linear(3, 2), seed=0)
    other = fm.Sequential(fm.Linear(3, 2), seed=0)
    with pytest.raises(ValueError, match="exactly this model's parameters"):
        fm.save(net, tmp_path / "m.safetensors", optimizer=fm.optim.SGD(other.parameters()))
    with pytest.raises(TypeError, match="optimizer must be"):
        fm.save(net, tmp_path / "m.safetensors", optimizer="adam")


def test_a_checkpoint_loads_as_a_model_with_its_optimizer(tmp_path):
    x, y = _data("float32")
    net = _net("float32", 0)
    opt = fm.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    path = tmp_path / "c.safetensors"
    net.fit(x, y, optimizer=opt, epochs=3, batch_size=20, checkpoint=path)
    back, opt2 = fm.load(path, with_optimizer=True)
    np.testing.assert_array_equal(back.flat_parameters(), net.flat_parameters())
    np.testing.assert_array_equal(opt2.state[0], opt.state[0])
    assert opt2.step_count == opt.step_count == 3 * 4  # 4 batches of at most 20 of 61


# --- bad arguments -------------------------------------------------------------------------
@pytest.fixture
def checkpoint_file(tmp_path):
    x, y = _data("float32")
    path = tmp_path / "c.safetensors"
    _net("float32", 0).fit(x, y, epochs=4, batch_size=16, seed=2, checkpoint=path)
    return path


def test_checkpoint_every_needs_a_checkpoint_path():
    x, y = _data("float32")
    with pytest.raises(ValueError, match="checkpoint_every needs checkpoint"):
        _net("float32", 0).fit(x, y, epochs=2, checkpoint_every=1)


def test_checkpoint_every_must_be_positive(tmp_path):
    x, y = _data("float32")
    with pytest.raises(ValueError, match="checkpoint_every"):
        _net("float32", 0).fit(x, y, epochs=2, checkpoint=tmp_path / "c", checkpoint_every=0)


def test_a_checkpoint_in_a_missing_folder_is_refused_before_training(tmp_path):
    x, y = _data("float32")
    net = _net("float32", 0)
    before = net.flat_parameters().copy()
    with pytest.raises(FileNotFoundError, match="folder .*missing does not exist"):
        net.fit(x, y, epochs=2, checkpoint=tmp_path / "missing" / "c.safetensors")
    np.testing.assert_array_equal(net.flat_parameters(), before)


def test_resume_refuses_another_model_shape_or_dtype(checkpoint_file):
    x, y = _data("float32")
    wider = fm.Sequential(fm.Linear(4, 17), fm.Tanh(), fm.Dropout(0.3), fm.Linear(17, 16),
                          fm.ReLU(), fm.Dropout(0.1), fm.Linear(16, 2), seed=0)
    with pytest.raises(ValueError, match="resume: .*float32 model of layers.*this model is"):
        wider.fit(x, y, epochs=6, batch_size=16, resume=checkpoint_file)
    x64, y64 = _data("float64")
    with pytest.raises(ValueError, match="holds a float32 model.*this model is float64"):
        _net("float64", 0).fit(x64, y64, epochs=6, batch_size=16, resume=checkpoint_file)


def test_resume_refuses_fewer_epochs_than_done(checkpoint_file):
    x, y = _data("float32")
    net = _net("float32", 1)
    before = net.flat_parameters().copy()
    with pytest.raises(ValueError, match="epochs=3 is fewer than the 4 epochs"):
        net.fit(x, y, epochs=3, batch_size=16, resume=checkpoint_file)
    np.testing.assert_array_equal(net.flat_parameters(), before)  # nothing changed
    hist = net.fit(x, y, epochs=4, batch_size=16, resume=checkpoint_file)  # all done already
    assert hist.epochs == 4


def test_resume_refuses_other_settings_seed_and_optimizer(checkpoint_file):
    x, y = _data("float32")
    net = _net("float32", 1)
    with pytest.raises(ValueError, match="batch_size=16 there, 8 here"):
        net.fit(x, y, epochs=6, batch_size=8, resume=checkpoint_file)
    with pytest.raises(ValueError, match="n_samples=61 there, 60 here"):
        net.fit(x[:60], y[:60], epochs=6, batch_size=16, resume=checkpoint_file)
    with pytest.raises(ValueError, match="seed=5 is not the seed"):
        net.fit(x, y, epochs=6, batch_size=16, seed=5, resume=checkpoint_file)
    with pytest.raises(ValueError, match="holds the state of Adam.*not of the optimizer given, SGD"):
        net.fit(x, y, optimizer=fm.optim.SGD(net.parameters()), epochs=6, batch_size=16,
                resume=checkpoint_file)
    net.fit(x, y, epochs=6, batch_size=16, seed=2, resume=checkpoint_file)  # the same seed


def test_resume_refuses_a_model_file_and_a_missing_file(tmp_path):
    x, y = _data("float32")
    net = _net("float32", 0)
    path = tmp_path / "m.safetensors"
    fm.save(net, path, optimizer=fm.optim.Adam(net.parameters()))
    with pytest.raises(ValueError, match="not a checkpoint"):
        net.fit(x, y, epochs=2, resume=path)
    with pytest.raises(FileNotFoundError):
        net.fit(x, y, epochs=2, resume=tmp_path / "missing.safetensors")


def _tampered(path, tmp_path, edit_meta=None, edit_tensors=None):
    with safetensors.safe_open(str(path), framework="np") as f:
        meta = dict(f.metadata())
    tensors = safetensors.numpy.load_file(str(path))
    entry = json.loads(meta["checkpoint"])
    if edit_meta:
        edit_meta(entry)
    meta["checkpoint"] = json.dumps(entry)
    if edit_tensors:
        edit_tensors(tensors)
    out = tmp_path / "tampered.safetensors"
    safetensors.numpy.save_file(tensors, str(out), metadata=meta)
    return out


@pytest.mark.parametrize("edit_meta,edit_tensors,message", [
    (lambda e: e.update(epoch="4"), None, "bad checkpoint entry epoch='4'"),
    (lambda e: e.update(rng=-1), None, "bad checkpoint entry rng=-1"),
    (lambda e: e.pop("wait"), None, "bad checkpoint entry wait=None"),
    (None, lambda t: t.update({"checkpoint.order": t["checkpoint.order"][::-1][1:].copy()}),
     "not a permutation of 61"),
    (None, lambda t: t.update({"checkpoint.order": np.zeros(61, np.int64)}),
     "not a permutation of 61"),
    (None, lambda t: t.pop("checkpoint.history.loss"), "history 'loss' is missing"),
    (None, lambda t: t.update({"optimizer.state.1": t["optimizer.state.1"][:-1].copy()}),
     "optimizer state 1 is float32 of shape"),
], ids=["epoch", "rng", "wait", "order-short", "order-repeats", "history", "opt-state"])
def test_resume_refuses_a_damaged_checkpoint_and_changes_nothing(checkpoint_file, tmp_path,
                                                                 edit_meta, edit_tensors,
                                                                 message):
    bad = _tampered(checkpoint_file, tmp_path, edit_meta, edit_tensors)
    x, y = _data("float32")
    net = _net("float32", 1)
    before = net.flat_parameters().copy()
    with pytest.raises(ValueError, match=message):
        net.fit(x, y, epochs=6, batch_size=16, resume=bad)
    np.testing.assert_array_equal(net.flat_parameters(), before)
