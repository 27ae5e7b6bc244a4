"""Several runs' loss curves on one figure (``gradstep compare``)."""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, NotebookFigure

# Differences below this share of the minimum are rounding, not progress: not drawn.
RESOLUTION = 1e-14


def compare_losses(curves: dict) -> FigureAxes:
    """Overlay the runs' losses per epoch. Returns ``(fig, axes)``.

    ``curves`` maps a label to ``(epochs, train_loss, val_loss or None, min_loss or
    None)``; ``min_loss`` is the least-squares loss of that run's training rows
    (from ``quadratic.json``). The left panel shows the training loss (solid) and
    the validation loss (dashed); the right one the training loss above its
    minimum, whose slope shows how fast each run converges (down to rounding).
    """
    with_gap = any(c[3] is not None for c in curves.values())
    fig = NotebookFigure(figsize=(13 if with_gap else 8, 5.5))
    axes = np.atleast_1d(fig.subplots(1, 2 if with_gap else 1))
    colors = [f"C{i % 10}" for i in range(len(curves))]
    for color, (label, (epochs, train, val, min_loss)) in zip(colors, curves.items(), strict=True):
        axes[0].plot(epochs, train, color=color, label=f"{label} (training)")
        if val is not None:
            axes[0].plot(epochs, val, color=color, linestyle="--", label=f"{label} (validation)")
        if with_gap and min_loss is not None:
            gap = np.asarray(train, dtype=np.float64) - min_loss
            gap[gap <= RESOLUTION * max(abs(min_loss), 1e-300)] = np.nan
            axes[1].plot(epochs, gap, color=color, label=label)
    axes[0].set_title("Loss per epoch")
    axes[0].set_ylabel("loss (MSE, log scale)")
    if with_gap:
        axes[1].set_title("Training loss above its least-squares minimum")
        axes[1].set_ylabel("loss - minimum (log scale)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return FigureAxes(fig, axes)
