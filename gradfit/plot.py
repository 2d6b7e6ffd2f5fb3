"""Pictures of training (needs matplotlib: ``pip install 'gradfit[plot]'``).

Every function returns a matplotlib ``Figure`` and never opens a window by itself; save one with
``fig.savefig('loss.png')``. Without a display, the non-interactive Agg backend is used.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["plot_digits", "plot_history"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "gradfit.plot needs matplotlib: pip install 'gradfit[plot]' (or pip install matplotlib)."
        ) from None
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND") and os.name != "nt":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, metrics=None):
    """Loss and metrics per epoch from ``fit``'s History (validation curves dashed).

    Parameters
    ----------
    history : History or dict
        ``model.fit(...)`` or its ``.history`` dict.
    metrics : list of str, optional
        Which series to draw (default: all that are not ``val_*``), one panel each.
    """
    plt = _pyplot()
    logs = getattr(history, "history", history)
    if not logs:
        raise ValueError("plot_history: the history is empty; train for at least one epoch first.")
    names = metrics or [k for k in logs if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        if name not in logs:
            raise ValueError(f"plot_history: no series {name!r}; the history has {sorted(logs)}.")
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], label=name)
        if "val_" + name in logs:
            ax.plot(epochs, logs["val_" + name], "--", label="val_" + name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_digits(X, y, y_pred=None, image_size: int | None = None, n: int = 64, seed: int = 0):
    """A grid of digit images titled ``label,yhat``; wrong predictions are titled in red.

    ``X`` rows are images flattened column by column, as in the course (``X[i].reshape(s, s).T``).
    """
    plt = _pyplot()
    X = np.asarray(X)
    y = np.asarray(y).reshape(len(X), -1)[:, 0]
    size = image_size or int(round(np.sqrt(X.shape[1])))
    if size * size != X.shape[1]:
        raise ValueError(f"plot_digits: rows of {X.shape[1]} pixels are not square images; give image_size.")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), size=min(n, len(X)), replace=False)
    cols = int(np.ceil(np.sqrt(len(idx))))
    rows = int(np.ceil(len(idx) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.0), squeeze=False)
    pred = None if y_pred is None else np.asarray(y_pred).reshape(len(X), -1)[:, 0]
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), idx):
        ax.imshow(X[i].reshape(size, size).T, cmap="gray")
        if pred is None:
            ax.set_title(f"{y[i]:g}", fontsize=8)
        else:
            wrong = pred[i] != y[i]
            ax.set_title(f"{y[i]:g},{pred[i]:g}", fontsize=8, color="red" if wrong else "black")
    fig.suptitle("label,yhat" if pred is not None else "label", fontsize=10)
    fig.tight_layout()
    return fig
