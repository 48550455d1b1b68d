"""Sequential.fit: argument checks and per-epoch Python extras around the native loop.

The native loop calls back into Python only every `log_every` epochs, or every
epoch when a scheduler, early stopping or validation metrics need it."""
from __future__ import annotations

import numpy as np

from . import _checks, _core, metrics as _metrics
from .losses import resolve_loss
from .optim import LRScheduler, ReduceLROnPlateau

_METRICS = ("accuracy", "mse", "mae", "r2")


class History:
    """What fit() measured, one value per epoch: loss, val_loss, lr, val_metrics."""

    def __init__(self, loss, val_loss, lr, val_metrics, best_epoch=None):
        self.loss, self.val_loss, self.lr = loss, val_loss, lr
        self.val_metrics = val_metrics
        self.best_epoch = best_epoch

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        last = f", last loss={self.loss[-1]:.6g}" if len(self.loss) else ""
        return f"History(epochs={self.epochs}{last})"


def _metric(name: str, pred: np.ndarray, target: np.ndarray, labels: bool) -> float:
    if name == "accuracy":
        truth = target if labels else (target.argmax(1) if target.shape[1] > 1 else target[:, 0] > 0.5)
        guess = pred.argmax(1) if pred.shape[1] > 1 else pred[:, 0] > 0
        return _metrics.accuracy(truth, guess)
    t = target.astype(np.float64)
    return {"mse": _metrics.mse, "mae": _metrics.mae, "r2": _metrics.r2_score}[name](t, pred)


class _Tracker:
    """Early stopping and best weights (Keras semantics) over the monitored loss."""

    def __init__(self, net, patience, min_delta, restore):
        self.net, self.patience, self.min_delta = net, patience, float(min_delta)
        self.restore = restore
        self.best, self.best_epoch, self.wait, self.best_weights = np.inf, None, 0, None

    def update(self, epoch: int, value: float) -> bool:
        """Records an epoch; False when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore:
                self.best_weights = self.net.flat_parameters().copy()
            return True
        self.wait += 1
        return self.patience is None or self.wait < self.patience

    def finish(self) -> None:
        if self.restore and self.best_weights is not None:
            self.net.flat_parameters()[...] = self.best_weights


def fit(net, core, opt, x, y, loss="mse", epochs=200, batch_size=None, shuffle=True,
        seed=None, log_every=0, callback=None, validation_data=None, validation_split=None,
        sample_weight=None, scheduler=None, patience=None, min_delta=0.0,
        restore_best_weights=False, metrics=(), clip_grad_norm=0.0) -> History:
    """Sequential.fit's body: `net` the model, `core` its native Net, `opt` the checked
    optimizer (the model's own Adam when the user passed none)."""
    spec, labels = resolve_loss(loss)
    xa, ya = _checks.training_data(x, y, "x", "y", net.in_features, net.out_features, net.dtype,
                                   labels)
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
    vx = vy = None
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        vx, vy = _checks.training_data(*validation_data, "validation_data[0]",
                                       "validation_data[1]", net.in_features, net.out_features,
                                       net.dtype, labels)
    metrics = tuple(metrics)
    for m in metrics:
        if m not in _METRICS:
            raise ValueError(f"unknown metric {m!r}; expected one of {_METRICS}")
    if metrics and vx is None:
        raise ValueError("metrics are measured on validation data: pass validation_data "
                         "or validation_split")
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
    o.seed = _checks.core_seed(seed)
    log_every = 0 if not log_every else _checks.positive_int(log_every, "log_every")
    o.clip_norm = float(clip_grad_norm)
    every_epoch = scheduler is not None or patience is not None or restore_best_weights \
        or bool(metrics)
    o.report_every = 1 if every_epoch else log_every

    tracker = _Tracker(net, patience, min_delta, restore_best_weights)
    lrs, vals = [], {m: [] for m in metrics}

    def on_report(epoch, loss_value, val_value):
        lrs.append(opt.lr)
        if metrics:
            pred = net.predict(vx)
            for m in metrics:
                vals[m].append(_metric(m, pred, vy, labels))
        if log_every and epoch % log_every == 0:
            if callback is not None:
                callback(epoch, loss_value)
            else:
                line = f"Epoch: {epoch}   Loss: {loss_value:.6f}"
                if vx is not None:
                    line += f"   Val loss: {val_value:.6f}"
                print(line, flush=True)
        monitored = val_value if vx is not None else loss_value
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(monitored)
        elif scheduler is not None:
            scheduler.step()
        return tracker.update(epoch, monitored) if every_epoch else True

    core.training = net.training
    try:
        loss_hist, val_hist = core.fit(
            xa, None if labels else ya, ya if labels else None, w, spec, opt.native, o,
            vx, None if (vx is None or labels) else vy, vy if (vx is not None and labels) else None,
            on_report if o.report_every else None)
    finally:
        tracker.finish()
    lr = np.array(lrs) if every_epoch else np.full(len(loss_hist), opt.lr)
    return History(loss_hist, val_hist, lr,
                   {m: np.array(v) for m, v in vals.items()}, tracker.best_epoch)
