"""Figures of the data itself."""

from __future__ import annotations

from gradstep.plots.figure import FigureAxes, NotebookFigure


def figure1(x_train, y_train, x_val, y_val):
    """The document's ``figure1``: train and validation scatter plots side by side."""
    fig = NotebookFigure(figsize=(12, 6))
    ax = fig.subplots(1, 2)
    ax[0].scatter(x_train, y_train)
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("y")
    ax[0].set_ylim([0, 3.1])
    ax[0].set_title("Generated Data - Train")
    ax[1].scatter(x_val, y_val, c="r")
    ax[1].set_xlabel("x")
    ax[1].set_ylabel("y")
    ax[1].set_ylim([0, 3.1])
    ax[1].set_title("Generated Data - Validation")
    fig.tight_layout()
    return FigureAxes(fig, ax)
