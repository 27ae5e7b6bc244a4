"""Training and validation loss per epoch."""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, new_figure


def loss_curves(train_loss, val_loss=None, first_epoch: int = 1, title: str | None = None, ax=None):
    """Both losses per epoch on a log scale. Returns ``(fig, ax)``.

    ``train_loss[i]`` belongs to epoch ``first_epoch + i`` (the mean of the losses
    computed during that epoch); ``val_loss[i]`` is measured after it. ``ax``: an
    existing Axes to draw on.
    """
    train = np.asarray(train_loss, dtype=np.float64).reshape(-1)
    epochs = first_epoch + np.arange(len(train))
    fig, ax, own = new_figure(ax, figsize=(9, 5.5))
    ax.plot(epochs, train, label="training loss", color="tab:blue")
    if val_loss is not None:
        ax.plot(epochs, np.asarray(val_loss, dtype=np.float64).reshape(-1),
                label="validation loss", color="tab:red", linestyle="--")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE, log scale)")
    ax.set_title(title or f"Loss per epoch ({len(train)} epochs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right")
    if own:
        fig.tight_layout()
    return FigureAxes(fig, ax)
