"""Regression and classification scores on NumPy arrays, computed in float64."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _checks


def sse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The sum of squared errors, the seed's measure of fit.

    Parameters
    ----------
    y_true : array_like
        The observed values.
    y_pred : array_like
        The predictions, of y_true's shape; ``(n,)`` against ``(n, 1)`` is accepted.

    Returns
    -------
    float
    """
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.sum((t - p) ** 2))


def mse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The mean squared error over every element.

    Parameters
    ----------
    y_true : array_like
        The observed values.
    y_pred : array_like
        The predictions, of y_true's shape; ``(n,)`` against ``(n, 1)`` is accepted.

    Returns
    -------
    float
    """
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def r2_score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The coefficient of determination, ``1 - SSE / total sum of squares``.

    Computed per column and averaged, as scikit-learn's ``r2_score``; a constant column
    scores 1 when predicted exactly, else 0.

    Parameters
    ----------
    y_true : array_like
        The observed values.
    y_pred : array_like
        The predictions, of y_true's shape; ``(n,)`` against ``(n, 1)`` is accepted.

    Returns
    -------
    float
    """
    t, p = _checks.target_pair(y_true, y_pred)
    t2, p2 = (t.reshape(-1, 1), p.reshape(-1, 1)) if t.ndim == 1 else (t, p)
    ss_res = np.sum((t2 - p2) ** 2, axis=0)
    ss_tot = np.sum((t2 - t2.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(scores))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The mean absolute error over every element.

    Parameters
    ----------
    y_true : array_like
        The observed values.
    y_pred : array_like
        The predictions, of y_true's shape; ``(n,)`` against ``(n, 1)`` is accepted.

    Returns
    -------
    float
    """
    t, p = _checks.target_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The fraction of samples whose predicted label is the true one.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        The true labels.
    y_pred : array_like, shape (n,) or (n, n_classes)
        Labels, or one score per class (such as logits), whose argmax is the label.

    Returns
    -------
    float
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if p.ndim == 2 and t.ndim == 1 and p.shape[0] == t.shape[0]:
        p = p.argmax(axis=1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.size == 0:
        raise ValueError("y_true is empty")
    return float(np.mean(t == p))
