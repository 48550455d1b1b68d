"""Plots (matplotlib is the optional extra [plot], imported only here)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from . import _checks
from ._checks import FilePath

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .training import History


def _use_agg() -> None:
    """Matplotlib on the Agg backend, before pyplot is imported."""
    _checks.require_module("matplotlib", "plots need matplotlib: pip install 'fastmlp[plot]'")
    import matplotlib
    matplotlib.use("Agg")


def observed_vs_predicted(y: npt.ArrayLike, y_pred: npt.ArrayLike,
                          title: str = "Observed vs predicted",
                          path: FilePath | None = None) -> Figure:
    """A scatter of observed against predicted values with the identity line in red, as
    the seed's plots.

    Parameters
    ----------
    y : array_like
        The observed values.
    y_pred : array_like
        The predictions, of y's shape.
    title : str, optional
        The title.
    path : str or os.PathLike, optional
        When given, the figure is saved there (PNG by the suffix) and closed.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t, p = _checks.target_pair(y, y_pred)
    _use_agg()
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(t.ravel(), p.ravel(), s=12, alpha=0.7)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color="red", linewidth=1)
    ax.set(xlabel="Observed", ylabel="Predicted", title=title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def loss_curve(history: History, path: FilePath | None = None,
               title: str = "Training loss") -> Figure:
    """The loss of each epoch, and the validation loss when it was recorded.

    Parameters
    ----------
    history : History
        What ``Sequential.fit`` returned.
    path : str or os.PathLike, optional
        When given, the figure is saved there and closed.
    title : str, optional
        The title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _use_agg()
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, label="loss")
    if history.val_loss is not None:
        ax.plot(epochs, history.val_loss, label="val_loss")
    ax.set(xlabel="Epoch", ylabel="Loss", title=title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
