"""The model as a line through the data: one point's error, and one update."""

from __future__ import annotations

import numpy as np

from gradstep.errors import GradstepError
from gradstep.plots.figure import FigureAxes, new_figure
from gradstep.plots.surface import as_start


def _one_feature(x, b, w) -> tuple[np.ndarray, float, float]:
    x_arr = np.asarray(x, dtype=np.float64)
    if x_arr.ndim == 2 and x_arr.shape[1] == 1:
        x_arr = x_arr[:, 0]
    b, w_arr = as_start((b, w))
    if x_arr.ndim != 1 or w_arr.size != 1:
        raise GradstepError("a line plot needs one feature; this data has more")
    return x_arr, b, float(w_arr[0])


def _line(ax, b: float, w: float, x_min: float, x_max: float, **style) -> None:
    xs = np.array([x_min, x_max])
    ax.plot(xs, b + w * xs, **style)


def fitted_line(x, y, b, w, point: int | None = None, title: str | None = None, ax=None):
    """Data, the line ``b + w x`` and the error of one point marked.

    ``point`` is the index of the point whose error is drawn (default: the largest
    error); ``ax``, an existing Axes to draw on. Returns ``(fig, ax)``.
    """
    x_arr, b, w = _one_feature(x, b, w)
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    y_hat = b + w * x_arr
    error = y_hat - y_arr
    i = int(np.argmax(np.abs(error))) if point is None else int(point)
    fig, ax, own = new_figure(ax, figsize=(8, 6))
    ax.scatter(x_arr, y_arr, label="training data", alpha=0.8)
    _line(ax, b, w, 0.0, max(1.0, float(x_arr.max())), color="black",
          label=f"prediction: yhat = {b:.4f} + ({w:.4f}) x")  # fmt: skip
    ax.plot([x_arr[i], x_arr[i]], [y_arr[i], y_hat[i]], color="red", linestyle="--", linewidth=2)
    ax.scatter([x_arr[i]], [y_arr[i]], color="red", zorder=5)
    # the label goes on the side with room: left of a point in the right half, else right
    x_mid = (min(0.0, float(x_arr.min())) + max(1.0, float(x_arr.max()))) / 2
    side = -1 if x_arr[i] > x_mid else 1
    ax.annotate(
        f"error = yhat - y = {error[i]:.3f}\n(point {i}: x = {x_arr[i]:.3f})",
        xy=(x_arr[i], (y_arr[i] + y_hat[i]) / 2), xytext=(12 * side, 0),
        textcoords="offset points", ha="right" if side < 0 else "left", va="center", color="red",
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
              "alpha": 0.85},  # readable over the data once the line runs through them
    )  # fmt: skip
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_ylim(min(0.0, float(y_hat.min()) - 0.1), max(3.1, float(y_arr.max()) + 0.1))
    ax.set_title(title or "The model's predictions and one point's error")
    ax.legend(loc="upper left")
    if own:
        fig.tight_layout()
    return FigureAxes(fig, ax)


def one_update(x, y, before, after, lr: float | None = None, ax=None):
    """The line before and after one gradient-descent update. Returns ``(fig, ax)``.

    ``before`` and ``after`` are ``(b, w)`` pairs; ``ax``, an existing Axes to draw on.
    """
    x_arr, b0, w0 = _one_feature(x, *before)
    _, b1, w1 = _one_feature(x, *after)
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    x_max = max(1.0, float(x_arr.max()))
    fig, ax, own = new_figure(ax, figsize=(8, 6))
    ax.scatter(x_arr, y_arr, label="training data", alpha=0.6)
    _line(ax, b0, w0, 0.0, x_max, color="gray", linestyle="--",
          label=f"before: b = {b0:.4f}, w = {w0:.4f}")  # fmt: skip
    _line(ax, b1, w1, 0.0, x_max, color="black", label=f"after:  b = {b1:.4f}, w = {w1:.4f}")
    for xs in (0.0, x_max):
        ax.annotate("", xy=(xs, b1 + w1 * xs), xytext=(xs, b0 + w0 * xs),
                    arrowprops={"arrowstyle": "->", "color": "tab:green", "lw": 2})  # fmt: skip
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_ylim(min(0.0, b0, b0 + w0 * x_max) - 0.1, max(3.1, float(y_arr.max()) + 0.1))
    rate = f" (lr = {lr:g})" if lr is not None else ""
    ax.set_title(f"One update{rate}: the line moves towards the data")
    ax.legend(loc="upper left")
    if own:
        fig.tight_layout()
    return FigureAxes(fig, ax)
