"""The learning-rate range test's curve."""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, new_figure


def lr_range_figure(result, ax=None):
    """Loss against learning rate (log axis): raw losses, the smoothed curve, the suggestion."""
    fig, ax, own = new_figure(ax, figsize=(6, 4))
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=1, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="C0", label="smoothed")
    if result.suggested_lr is not None:
        ax.axvline(result.suggested_lr, color="C3", linestyle="--",
                   label=f"suggested lr = {result.suggested_lr:.3g}")  # fmt: skip
    finite = result.smoothed[np.isfinite(result.smoothed)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low) + 1e-12)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title("Learning-rate range test")
    ax.legend()
    if own:
        fig.tight_layout()
    return FigureAxes(fig, ax)
