"""Feature scaling: the same descent on the loss of differently scaled features.

Multiplying a feature by 10 stretches its loss surface into a narrow valley (its
gradient grows 10 times, its curvature 100 times), so the learning rate must
shrink and the intercept then crawls; standardising (mean 0, scale 1, fitted on
the training rows only) makes the contours circles and the path straight.
"""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, NotebookFigure
from gradstep.plots.paths import draw_path, path_columns
from gradstep.plots.surface import START_STYLE, draw_contours


def feature_scaling(panels, steps: int | None = None, half_width: float = 3.0):
    """Contours and the descent path for each version of the feature.

    ``panels`` is a sequence of ``(label, quadratic, path_b, path_w)``: the
    loss of that version and the parameters recorded from its start. The same
    number of steps is drawn on each: ``steps``, or the fewest any path has.
    Returns ``(fig, axes)``.
    """
    panels = list(panels)
    lengths = [len(np.asarray(p[2]).reshape(-1)) - 1 for p in panels]
    steps = min(lengths) if steps is None else min(int(steps), *lengths)
    fig = NotebookFigure(figsize=(6.0 * len(panels), 6.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (label, q, path_b, path_w) in zip(axes, panels, strict=True):
        b_arr, w_col = path_columns(path_b, path_w)
        b_arr, w_col = b_arr[: steps + 1], w_col[: steps + 1]
        draw_contours(ax, q, half_width=half_width, colorbar=False)
        draw_path(ax, b_arr, w_col, label=f"{steps} steps (square = end)")
        ax.plot(b_arr[:1], w_col[:1], linestyle="none", label="start", **START_STYLE)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(label)
        ax.legend(loc="upper right", fontsize=9)
    fig.suptitle(f"Feature scaling: the same start and {steps} steps of batch descent on each")
    return FigureAxes(fig, axes)
