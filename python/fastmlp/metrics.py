"""Regression and classification scores."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _checks


def sse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Sum of squared errors."""
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.sum((t - p) ** 2))


def mse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def r2_score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """1 - SSE / total sum of squares (per column, averaged, as scikit-learn)."""
    t, p = _checks.target_pair(y_true, y_pred)
    t2, p2 = (t.reshape(-1, 1), p.reshape(-1, 1)) if t.ndim == 1 else (t, p)
    ss_res = np.sum((t2 - p2) ** 2, axis=0)
    ss_tot = np.sum((t2 - t2.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(scores))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Fraction of equal labels; y_pred may be labels or (n, classes) scores (argmax)."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if p.ndim == 2 and t.ndim == 1 and p.shape[0] == t.shape[0]:
        p = p.argmax(axis=1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.size == 0:
        raise ValueError("y_true is empty")
    return float(np.mean(t == p))
