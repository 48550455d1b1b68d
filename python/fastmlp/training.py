"""Sequential.fit: argument checks and per-epoch Python extras around the native loop.

The native loop calls back into Python only every `log_every` epochs, or every
epoch when a scheduler, early stopping or validation metrics need it, and at checkpoints."""
from __future__ import annotations

import contextlib
import math
import os
from typing import (TYPE_CHECKING, Callable, Dict, Iterable, Mapping, Protocol, Tuple, TypedDict,
                    Union)

import numpy as np
import numpy.typing as npt

from . import _checkpoint, _checks, _core, _distributed, metrics as _metrics
from ._checks import (FilePath, Float64Array, FloatArray, FloatDType, ModelInput, Targets,
                      XLike)
from ._modelfile import Model as _SavedModel
from .losses import LossLike, resolve_loss
from .optim import LRScheduler, Optimizer, ReduceLROnPlateau
from .progress import Progress

_METRICS = ("accuracy", "mse", "mae", "r2")
# Metrics that are means over the samples, so that ranks average them exactly.
_MEAN_METRICS = ("accuracy", "mse", "mae")

if TYPE_CHECKING:
    from mpi4py import MPI

CoreNet = Union[_core.Net_f32, _core.Net_f64]
# fit(callback=...): called as callback(epoch, loss) every log_every epochs.
Callback = Callable[[int, float], object]
# fit(on_epoch=...): on_epoch(epoch, logs) after every epoch, logs holding "loss",
# "penalty", "lr" and, with validation data, "val_loss" and the metrics; False stops.
EpochHook = Callable[[int, Dict[str, float]], Union[bool, None]]
# fit_lbfgs(callback=...): callback(iteration, objective) after each iteration; a False
# return stops (None goes on).
LbfgsCallback = Callable[[int, float], Union[bool, None]]
ValidationData = Tuple[XLike, npt.ArrayLike]


class FitExtras(TypedDict, total=False):
    """The keyword arguments of Sequential.fit that it passes on to fit() below."""
    validation_split: float | None
    sample_weight: npt.ArrayLike | None
    scheduler: LRScheduler | ReduceLROnPlateau | None
    patience: int | None
    min_delta: float
    restore_best_weights: bool
    metrics: Iterable[str]
    clip_grad_norm: float
    weight_l2: float
    on_epoch: EpochHook | None
    progress: bool
    checkpoint: FilePath | None
    checkpoint_every: int | None
    resume: FilePath | None
    comm: MPI.Intracomm | None


class _Model(_SavedModel, Protocol):
    """What fit() uses of a Sequential (which this module may not import)."""
    in_features: int
    out_features: int
    dtype: FloatDType
    training: bool
    _grad_buffer: FloatArray  # the gradients, then the extras a data-parallel step sums

    def flat_parameters(self) -> FloatArray: ...

    def predict(self, x: XLike) -> FloatArray: ...

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None: ...


def core_input(x: ModelInput, name: str) -> FloatArray | _core.CsrMatrix:
    """x as the core reads it: a dense matrix as it is, CSR rows as the core's CsrMatrix over
    the same arrays (int32 indices widened to int64), whose structure the core checks.

    Parameters
    ----------
    x : ndarray or CsrRows
        What `fastmlp._checks.as_input` made of the user's x.
    name : str
        The argument's name, for the core's error messages.
    """
    if isinstance(x, np.ndarray):
        return x
    return _core.CsrMatrix(x.data, x.indices, x.indptr, x.shape[1], name)


class History:
    """What fit() measured, one value per epoch.

    Parameters
    ----------
    loss : ndarray
        The training loss of each epoch: the per-sample mean of each batch's loss before
        its update, the weight_l2 penalty included.
    val_loss : ndarray or None
        The validation loss after each epoch, when there was validation data.
    lr : ndarray
        The learning rate each epoch ran with.
    val_metrics : dict of str to ndarray
        Each validation metric after each epoch.
    best_epoch : int, optional
        With early stopping or restore_best_weights: the epoch (from 1) with the best
        watched loss.
    penalty : ndarray, optional
        The weight_l2 part of ``loss`` (zeros without weight_l2; None gives zeros).
    """

    def __init__(self, loss: Float64Array, val_loss: Float64Array | None,
                 lr: Float64Array, val_metrics: dict[str, Float64Array],
                 best_epoch: int | None = None, penalty: Float64Array | None = None) -> None:
        self.loss, self.val_loss, self.lr = loss, val_loss, lr
        self.val_metrics = val_metrics
        self.best_epoch = best_epoch
        self.penalty = np.zeros_like(loss) if penalty is None else penalty

    @property
    def epochs(self) -> int:
        """The number of epochs run."""
        return len(self.loss)

    def __repr__(self) -> str:
        last = f", last loss={self.loss[-1]:.6g}" if len(self.loss) else ""
        return f"History(epochs={self.epochs}{last})"


def _metric(name: str, pred: FloatArray, target: Targets, labels: bool) -> float:
    if name == "accuracy":
        truth = target if labels else (target.argmax(1) if target.shape[1] > 1 else target[:, 0] > 0.5)
        guess = pred.argmax(1) if pred.shape[1] > 1 else pred[:, 0] > 0
        return _metrics.accuracy(truth, guess)
    t = target.astype(np.float64)
    return {"mse": _metrics.mse, "mae": _metrics.mae, "r2": _metrics.r2_score}[name](t, pred)


class _Tracker:
    """Early stopping and best weights (Keras semantics) over the monitored loss."""

    def __init__(self, net: _Model, patience: int | None, min_delta: float,
                 restore: bool) -> None:
        self.net, self.patience, self.min_delta = net, patience, float(min_delta)
        self.restore = restore
        self.best = np.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped = False
        self.best_weights: FloatArray | None = None

    def update(self, epoch: int, value: float) -> bool:
        """Records an epoch; False when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore:
                self.best_weights = self.net.flat_parameters().copy()
            return True
        self.wait += 1
        self.stopped = self.patience is not None and self.wait >= self.patience
        return not self.stopped

    def finish(self) -> None:
        if self.restore and self.best_weights is not None:
            self.net.flat_parameters()[...] = self.best_weights


def fit(net: _Model, core: CoreNet, opt: Optimizer, x: XLike, y: npt.ArrayLike,
        loss: LossLike = "mse", epochs: int = 200, batch_size: int | None = None,
        shuffle: bool = True, seed: int | None = None, log_every: int = 0,
        callback: Callback | None = None, validation_data: ValidationData | None = None,
        validation_split: float | None = None, sample_weight: npt.ArrayLike | None = None,
        scheduler: LRScheduler | ReduceLROnPlateau | None = None, patience: int | None = None,
        min_delta: float = 0.0, restore_best_weights: bool = False,
        metrics: Iterable[str] = (), clip_grad_norm: float = 0.0, weight_l2: float = 0.0,
        on_epoch: EpochHook | None = None, progress: bool = False,
        checkpoint: FilePath | None = None, checkpoint_every: int | None = None,
        resume: FilePath | None = None, comm: MPI.Intracomm | None = None) -> History:
    """Sequential.fit's body (see it for the user-facing description).

    Parameters
    ----------
    net : Sequential
        The model.
    core : Net_f32 or Net_f64
        Its native network.
    opt : Optimizer
        The checked optimizer (the model's own Adam when the user passed none).
    x, y, loss, epochs, batch_size, shuffle, seed, log_every, callback, validation_data
        As Sequential.fit's.
    validation_split, sample_weight, scheduler, patience, min_delta, restore_best_weights
        As Sequential.fit's.
    metrics, clip_grad_norm, weight_l2, on_epoch, progress, checkpoint, checkpoint_every
        As Sequential.fit's.
    resume, comm
        As Sequential.fit's.
    """
    ranks = None if comm is None else _distributed.communicator(comm)
    rank = 0 if ranks is None else ranks.Get_rank()
    # Under comm a failure in these checks on one rank is raised on every rank.
    with _distributed.Agreement(ranks) as setup:
        spec, labels = resolve_loss(loss)
        xa, ya = _checks.training_data(x, y, "x", "y", net.in_features, net.out_features,
                                       net.dtype, labels)
        w = _checks.sample_weights(sample_weight, xa.shape[0], net.dtype)
        if validation_split is not None:
            if validation_data is not None:
                raise ValueError("pass validation_data or validation_split, not both")
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            # As Keras: the last fraction of the samples, before any shuffling.
            n_train = int(round(xa.shape[0] * (1.0 - validation_split)))
            if not 0 < n_train < xa.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves an empty set")
            validation_data = (xa[n_train:], ya[n_train:])
            xa, ya = xa[:n_train], ya[:n_train]
            w = None if w is None else w[:n_train]
        vx: ModelInput | None = None
        vy: Targets | None = None
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            vx, vy = _checks.training_data(*validation_data, "validation_data[0]",
                                           "validation_data[1]", net.in_features,
                                           net.out_features, net.dtype, labels)
        metrics = tuple(metrics)
        for m in metrics:
            if m not in _METRICS:
                raise ValueError(f"unknown metric {m!r}; expected one of {_METRICS}")
        if metrics and vx is None:
            raise ValueError("metrics are measured on validation data: pass validation_data "
                             "or validation_split")
        if ranks is not None and not set(metrics) <= set(_MEAN_METRICS):
            raise ValueError(f"metrics with comm must be means over the samples, which the "
                             f"ranks average: any of {_MEAN_METRICS}, got {metrics}")
        if scheduler is not None:
            if not isinstance(scheduler, (LRScheduler, ReduceLROnPlateau)):
                raise TypeError(f"scheduler must be a fastmlp.optim.lr_scheduler schedule, "
                                f"got {type(scheduler).__name__}")
            if scheduler.optimizer is not opt:
                raise ValueError("scheduler must schedule the optimizer passed to fit")
        if patience is not None:
            patience = _checks.positive_int(patience, "patience")

        o = _core.FitOptions()
        o.epochs = _checks.positive_int(epochs, "epochs")
        o.batch_size = 0 if batch_size is None else _checks.positive_int(batch_size, "batch_size")
        o.shuffle = bool(shuffle)
        run_seed = _checks.core_seed(seed)  # rank r shuffles with run_seed + r
        log_every = 0 if not log_every else _checks.positive_int(log_every, "log_every")
        o.clip_norm = float(clip_grad_norm)
        o.l2 = _checks.non_negative(weight_l2, "weight_l2")
        every_epoch = scheduler is not None or patience is not None or restore_best_weights \
            or bool(metrics) or on_epoch is not None
        o.report_every = 1 if every_epoch or progress else log_every
        if checkpoint_every is not None and checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint, the file to write")
        every = 0  # epochs between checkpoints; 0: none
        if checkpoint is not None:
            every = 1 if checkpoint_every is None else \
                _checks.positive_int(checkpoint_every, "checkpoint_every")
            o.report_every = math.gcd(o.report_every, every)
            folder = os.path.dirname(os.path.abspath(os.fspath(checkpoint)))
            # found out now, not after the first epochs; rank 0 writes
            if rank == 0 and not os.path.isdir(folder):
                raise FileNotFoundError(f"checkpoint: the folder {folder} does not exist")
        if ranks is not None:
            n_rows = int(xa.shape[0])
            batch = o.batch_size or n_rows
            setup.info = {"steps": -(-n_rows // batch), "settings": {
                "epochs": o.epochs, "batch_size": batch_size, "shuffle": o.shuffle,
                "log_every": log_every, "report_every": o.report_every, "checkpoint": every,
                "validation": vx is not None, "metrics": metrics,
                "loss": (int(spec.kind), spec.mean, spec.delta),
                "optimizer": type(opt).__name__, "parameters": net.flat_parameters().size,
                "dtype": str(net.dtype), "resume": resume is not None}}
    if ranks is not None:
        o.steps = _distributed.agreed_steps(setup.infos)
        ranks.Bcast(net.flat_parameters(), root=0)  # every rank starts from rank 0's weights

    tracker = _Tracker(net, patience, min_delta, restore_best_weights)
    lrs: list[float] = []
    vals: dict[str, list[float]] = {m: [] for m in metrics}
    # What a checkpoint must find unchanged when it resumes.
    settings: _checkpoint.Settings = {
        "n_samples": int(xa.shape[0]), "batch_size": o.batch_size, "shuffle": o.shuffle,
        "validation": vx is not None, "metrics": list(metrics),
        "scheduler": None if scheduler is None else type(scheduler).__name__,
        "patience": patience, "min_delta": float(min_delta),
        "restore_best_weights": bool(restore_best_weights), "clip_grad_norm": o.clip_norm,
        "weight_l2": o.l2}
    if ranks is not None:
        settings["ranks"] = ranks.Get_size()
    past: dict[str, Float64Array] = {}  # the history before this call, when resuming
    state = _core.FitState()
    if resume is not None:
        # Rank 0 reads the checkpoint and sends it to the others (no shared disk needed).
        with _distributed.Agreement(ranks):
            saved = _checkpoint.read(resume, net, opt, settings, o.epochs, seed) \
                if rank == 0 else None
        if ranks is not None:
            saved = ranks.bcast(saved, root=0)
        assert saved is not None
        _restore(saved, net, core, opt, scheduler, tracker, state, rank)
        run_seed, past = saved.run.seed, saved.run.history
        if saved.run.stopped:  # early stopping ended that run: nothing is left to train
            o.epochs = saved.run.epoch
    o.seed = _distributed.split_seed(run_seed, rank)
    written = state.epoch

    def history(loss_h: Float64Array, penalty_h: Float64Array,
                val_h: Float64Array | None) -> dict[str, Float64Array]:
        """The whole run's history, the epochs before this call included."""
        new = {"loss": loss_h, "penalty": penalty_h,
               "lr": np.array(lrs) if every_epoch else np.full(len(loss_h), opt.lr)}
        if val_h is not None:
            new["val_loss"] = val_h
        new.update((f"metric.{m}", np.array(v)) for m, v in vals.items())
        return {k: np.concatenate([past[k], v]) for k, v in new.items()} if past else new

    def save_checkpoint() -> None:
        nonlocal written
        assert checkpoint is not None
        written = state.epoch
        mine = (state.rng, state.order if o.shuffle else None, core.dropout_draws)
        # Each rank's own shuffle and dropout positions, into rank 0's file.
        everyone = [mine] if ranks is None else ranks.gather(mine, root=0)
        if rank != 0:
            return
        assert everyone is not None
        _checkpoint.save(checkpoint, net, opt, _checkpoint.RunState(
            epoch=state.epoch, seed=run_seed, rng=state.rng,
            order=state.order if o.shuffle else None, dropout_seed=core.dropout_seed,
            dropout_draws=core.dropout_draws, others=everyone[1:], settings=settings,
            scheduler=None if scheduler is None else scheduler.state_dict(),
            best=tracker.best, best_epoch=tracker.best_epoch, wait=tracker.wait,
            stopped=tracker.stopped, best_weights=tracker.best_weights,
            history=history(state.loss, state.penalty,
                            state.val_loss if vx is not None else None)))

    bar = Progress(o.epochs, log_every) if progress and rank == 0 else None

    def on_report(epoch: int, loss_value: float, penalty: float, val_value: float) -> bool:
        lrs.append(opt.lr)
        if metrics:
            assert vx is not None and vy is not None  # metrics need validation data: checked
            pred = net.predict(vx)
            measured = [_metric(m, pred, vy, labels) for m in metrics]
            if ranks is not None:
                measured = _distributed.mean_over_ranks(ranks, measured, float(vy.shape[0]))
            for m, v in zip(metrics, measured):
                vals[m].append(v)
        go_on = True
        # Under comm the user's code may fail on one rank: the collectives below still run on
        # every rank, and the error is raised after them (the native loop shares it).
        with contextlib.nullcontext() if ranks is None else _distributed.Deferred() as failed:
            go_on = user_code(epoch, loss_value, penalty, val_value)
        monitored = val_value if vx is not None else loss_value
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(monitored)
        elif scheduler is not None:
            scheduler.step()
        keep = tracker.update(epoch, monitored) and go_on if every_epoch else True
        if every and epoch % every == 0:
            save_checkpoint()
        if failed is not None:
            failed.raise_caught()
        return keep

    def user_code(epoch: int, loss_value: float, penalty: float, val_value: float) -> bool:
        """The report's progress, log line, callback and on_epoch; False stops."""
        if bar is not None:
            bar.update(epoch, loss_value, val_value if vx is not None else None)
        if log_every and epoch % log_every == 0:
            if callback is not None:
                callback(epoch, loss_value)
            elif rank == 0:
                line = f"Epoch: {epoch}   Loss: {loss_value:.6f}"
                if vx is not None:
                    line += f"   Val loss: {val_value:.6f}"
                if bar is not None:
                    bar.write(line)
                else:
                    print(line, flush=True)
        if on_epoch is not None:
            logs = {"loss": loss_value, "penalty": penalty, "lr": lrs[-1]}
            if vx is not None:
                logs["val_loss"] = val_value
                logs.update((m, v[-1]) for m, v in vals.items())
            return on_epoch(epoch, logs) is not False
        return True

    y_arg, labels_arg = (None, ya) if labels else (ya, None)
    vy_arg, vlabels_arg = (None, vy) if labels else (vy, None)
    x_arg = core_input(xa, "x")
    vx_arg = None if vx is None else core_input(vx, "validation_data[0]")
    report = on_report if o.report_every else None
    native = opt.native
    core.training = net.training
    sync = None if ranks is None else _distributed.StepSum(ranks, net._grad_buffer)
    extras = None if sync is None else sync.extras
    try:
        with contextlib.nullcontext() if ranks is None else _distributed.rank_threads():
            # Each core Net takes the optimizer of its own dtype, as Sequential checked.
            if isinstance(core, _core.Net_f32):
                assert isinstance(native, _core.Optimizer_f32)
                loss_hist, penalty, val_hist = core.fit(
                    x_arg, y_arg, labels_arg, w, spec, native, o, vx_arg, vy_arg, vlabels_arg,
                    report, state, sync, extras)
            else:
                assert isinstance(native, _core.Optimizer_f64)
                loss_hist, penalty, val_hist = core.fit(
                    x_arg, y_arg, labels_arg, w, spec, native, o, vx_arg, vy_arg, vlabels_arg,
                    report, state, sync, extras)
        if every and state.epoch != written:
            with _distributed.Agreement(ranks):  # rank 0's write may fail: all raise then
                save_checkpoint()  # the run's end: early stopped, or not a multiple of every
    finally:
        tracker.finish()
        if bar is not None:
            bar.close()
    h = history(loss_hist, penalty, val_hist)
    return History(h["loss"], h.get("val_loss"), h["lr"],
                   {m: h[f"metric.{m}"] for m in metrics}, tracker.best_epoch, h["penalty"])


def _restore(saved: _checkpoint.Saved, net: _Model, core: CoreNet, opt: Optimizer,
             scheduler: LRScheduler | ReduceLROnPlateau | None, tracker: _Tracker,
             state: _core.FitState, rank: int) -> None:
    """Puts a checked checkpoint's state into the run (of rank `rank`) resuming it (the
    schedule first: its load is the one that can still refuse, and then nothing has
    changed)."""
    run = saved.run
    if scheduler is not None:
        if run.scheduler is None:
            raise ValueError("resume: the checkpoint holds no scheduler state")
        scheduler.load_state_dict(run.scheduler)
    opt.load_state_dict(saved.optimizer)
    net.load_state_dict(saved.weights)
    rng, order, draws = (run.rng, run.order, run.dropout_draws) if rank == 0 \
        else run.others[rank - 1]
    core.dropout_seed = run.dropout_seed  # resets the draws: set them after
    core.dropout_draws = draws
    tracker.best, tracker.best_epoch, tracker.wait = run.best, run.best_epoch, run.wait
    tracker.stopped = run.stopped
    tracker.best_weights = run.best_weights
    state.epoch, state.rng = run.epoch, rng
    if order is not None:
        state.order = order


class LbfgsResult:
    """How a fit_lbfgs run ended: the objective `f` at the final weights, the iterations
    `n_iter` and objective evaluations `n_fun`, `status` (scipy's codes: 0 converged,
    1 an iteration/evaluation limit or the callback stopped it, 2 the line search failed)
    and scipy's `message`.

    Parameters
    ----------
    r : fastmlp._core.LbfgsResult
        The native result.
    """

    def __init__(self, r: _core.LbfgsResult) -> None:
        self.f, self.n_iter, self.n_fun = r.f, r.n_iter, r.n_fun
        self.status, self.message = r.status, r.message

    def __repr__(self) -> str:
        return (f"LbfgsResult(f={self.f:.6g}, n_iter={self.n_iter}, n_fun={self.n_fun}, "
                f"status={self.status}, message={self.message!r})")


def fit_lbfgs(net: _Model, core: CoreNet, x: XLike, y: npt.ArrayLike,
              loss: LossLike = "mse", max_iter: int = 200, max_fun: int = 15000,
              tol: float = 1e-5, weight_l2: float = 0.0,
              sample_weight: npt.ArrayLike | None = None,
              callback: LbfgsCallback | None = None) -> LbfgsResult:
    """Sequential.fit_lbfgs's body (see it for the user-facing description).

    Parameters
    ----------
    net : Sequential
        The model.
    core : Net_f32 or Net_f64
        Its native network.
    x, y, loss, max_iter, max_fun, tol, weight_l2, sample_weight, callback
        As Sequential.fit_lbfgs's.
    """
    spec, labels = resolve_loss(loss)
    xa, ya = _checks.training_data(x, y, "x", "y", net.in_features, net.out_features, net.dtype,
                                   labels)
    w = _checks.sample_weights(sample_weight, xa.shape[0], net.dtype)
    o = _core.LbfgsOptions()
    o.max_iter = _checks.positive_int(max_iter, "max_iter")
    o.max_fun = _checks.positive_int(max_fun, "max_fun")
    o.gtol = _checks.non_negative(tol, "tol")
    l2 = _checks.non_negative(weight_l2, "weight_l2")

    def on_iter(it: int, f: float) -> bool:
        return callback is None or callback(it, f) is not False

    y_arg, labels_arg = (None, ya) if labels else (ya, None)
    core.training = net.training
    return LbfgsResult(core.fit_lbfgs(core_input(xa, "x"), y_arg, labels_arg, w, spec, l2, o,
                                      on_iter))
