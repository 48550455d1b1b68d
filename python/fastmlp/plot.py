"""Plots (matplotlib is the optional extra [plot], imported only here)."""
from __future__ import annotations

import numpy as np

from . import _checks


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'fastmlp[plot]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def observed_vs_predicted(y, y_pred, title: str = "Observed vs predicted", path=None):
    """Scatter of observed against predicted with the identity line; saved to path if given."""
    t, p = _checks.target_pair(y, y_pred)
    plt = _pyplot()
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


def loss_curve(history, path=None, title: str = "Training loss"):
    """Loss per epoch (and validation loss when recorded)."""
    plt = _pyplot()
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
