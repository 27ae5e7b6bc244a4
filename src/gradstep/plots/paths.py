"""The actual paths of the descent over the loss contours, from recorded parameters."""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, NotebookFigure
from gradstep.plots.surface import START_STYLE, draw_contours
from gradstep.quadratic import QuadraticLoss, split_half_width


def path_columns(b, w, j: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(b, w_j)`` as flat arrays from recorded ``b`` (k,) and ``w`` (k,) or (k, d)."""
    b_arr = np.asarray(b, dtype=np.float64).reshape(-1)
    w_arr = np.asarray(w, dtype=np.float64)
    w_col = w_arr[:, j] if w_arr.ndim == 2 else w_arr.reshape(-1)
    return b_arr, w_col


def draw_path(ax, b, w, j: int = 0, color: str = "tab:red", label: str | None = None) -> None:
    """A path of parameters as a line with dots at each recorded point."""
    b_arr, w_col = path_columns(b, w, j)
    many = len(b_arr) > 200
    ax.plot(b_arr, w_col, color=color, linewidth=0.8 if many else 1.5, label=label,
            marker=None if many else ".", markersize=5, alpha=0.9, zorder=4)  # fmt: skip
    ax.plot(b_arr[-1:], w_col[-1:], "s", color=color, markersize=7, zorder=6)


def paths_half_width(q: QuadraticLoss, paths: dict, j: int = 0) -> tuple[float, float]:
    """``(hb, hw)`` around the minimum that holds every point of every path (start
    included): 3 each way unless a path reaches further (``QuadraticLoss.fit_half_width``)."""
    cols = [path_columns(b, w, j) for b, w in paths.values()]
    if not cols:
        return q.fit_half_width(j=j)
    return q.fit_half_width(
        np.concatenate([c[0] for c in cols]), np.concatenate([c[1] for c in cols]), j=j
    )


def descent_paths(
    q: QuadraticLoss, paths: dict, j: int = 0, half_width=None, names=None,
    unit: str = "update",
):  # fmt: skip
    """One contour panel per path: ``paths`` maps a label to ``(b, w)`` arrays.

    Each path's first point is its start; ``unit`` names what one point is
    ("update" for per-step records, "epoch" for per-epoch ones). ``half_width``
    (one number or ``(hb, hw)``) defaults to what holds every path
    (``paths_half_width``); b and w share a scale only when the two are equal.
    Returns ``(fig, axes)``.
    """
    if half_width is None:
        half_width = paths_half_width(q, paths, j)
    hb, hw = split_half_width(half_width)
    k = len(paths)
    fig = NotebookFigure(figsize=(6.2 * k + 0.6, 6.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, k, squeeze=False)[0])
    colors = ["tab:red", "tab:orange", "tab:purple", "tab:brown"]
    for i, (ax, (label, (b, w))) in enumerate(zip(axes, paths.items(), strict=True)):
        b_arr, w_col = path_columns(b, w, j)
        draw_contours(ax, q, j=j, half_width=half_width, names=names, colorbar=False)
        draw_path(ax, b_arr, w_col, color=colors[i % len(colors)], label="path (square = end)")
        ax.plot(b_arr[:1], w_col[:1], linestyle="none", label="start", **START_STYLE)
        ax.set_title(f"{label}: {len(b_arr) - 1} {unit}s")
        ax.legend(loc="upper right", fontsize=9)
        if hb == hw:
            ax.set_aspect("equal", adjustable="box")
    if q.d > 1:
        fig.suptitle(
            f"paths projected on b and w_{j};\ncontours with the other {q.d - 1} "
            "coefficient(s) at their optimum"
        )
    return FigureAxes(fig, axes)
