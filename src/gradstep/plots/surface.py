"""The loss surface over (b, w): a 3-D surface and contours, from the quadratic form.

With d > 1 features the surface is a slice over ``b`` and one coefficient ``w_j``,
the other coefficients held at their optimum; titles say so.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

from gradstep.errors import GradstepError
from gradstep.plots.figure import FigureAxes, NotebookFigure, new_figure
from gradstep.quadratic import QuadraticLoss, split_half_width

START_STYLE = {"marker": "o", "color": "black", "markersize": 8, "zorder": 5}
MIN_STYLE = {"marker": "*", "color": "red", "markersize": 14, "zorder": 5}


def tex_safe(text: str) -> str:
    """A user-supplied name made safe for matplotlib (``$`` starts mathtext)."""
    return str(text).replace("$", r"\$")


def wrap_title(text: str, width: int = 58) -> str:
    """``text`` with each line wrapped at ``width`` characters: a title holding a long
    feature name would otherwise run off the figure."""
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def w_label(q: QuadraticLoss, j: int = 0, names=None) -> str:
    """``w`` for one feature, else ``w_j`` and the feature's name when known."""
    if q.d == 1:
        return "w" if not names else f"w ({tex_safe(names[0])})"
    name = f" ({tex_safe(names[j])})" if names else ""
    return f"w_{j}{name}"


def slice_note(q: QuadraticLoss, j: int = 0) -> str:
    """What a 2-D view of a d-feature surface holds fixed ('' for one feature)."""
    if q.d == 1:
        return ""
    return f"slice over b and w_{j}; the other {q.d - 1} coefficient(s) at their optimum"


def as_start(start) -> tuple[float, np.ndarray] | None:
    """``(b, w)`` with ``b`` a float and ``w`` a flat array, or None.

    ``b`` may be a one-element array, as the chapter's ``np.random.randn(1)`` gives.
    """
    if start is None:
        return None
    b, w = start
    b_arr = np.asarray(b, dtype=np.float64).reshape(-1)
    if b_arr.size != 1:
        raise GradstepError(f"the intercept b must be one number; got {b_arr.size} values")
    return float(b_arr[0]), np.atleast_1d(np.asarray(w, dtype=np.float64)).reshape(-1)


def contour_levels(
    losses: np.ndarray, min_loss: float, count: int = 18, spacing: str = "sqrt"
) -> np.ndarray:
    """Contour levels between the minimum and the grid's largest loss.

    ``"sqrt"``: spaced so the ellipses are evenly spaced (loss grows like distance
    squared). ``"log"``: geometric in ``loss - min_loss``, from well inside the
    largest ellipse that closes on the grid up to the top, for a grid much longer
    one way than the other, where even spacing would leave the bowl around the
    minimum with one or two ellipses.
    """
    top = float(np.max(losses))
    if spacing == "sqrt":
        return min_loss + (top - min_loss) * np.linspace(0.0, 1.0, count + 2)[1:-1] ** 2
    excess = np.asarray(losses, dtype=np.float64) - min_loss
    span = top - min_loss
    edge = min(excess[0].min(), excess[-1].min(), excess[:, 0].min(), excess[:, -1].min())
    low = max(0.02 * float(edge), 1e-6 * span)
    if not span > 0 or not low < span:
        return contour_levels(losses, min_loss, count)
    return min_loss + np.geomspace(low, span, count + 1)[:-1]


def draw_contours(
    ax, q: QuadraticLoss, j: int = 0, start=None, center=None, half_width=3.0,
    num: int = 101, names=None, colorbar: bool = True, minimum: bool = True,
):  # fmt: skip
    """Draw the loss contours (slice over b and w_j) on ``ax``; return the contour set.

    ``half_width`` is one number or a pair ``(hb, hw)``; with a pair of unequal
    half-widths the levels are log-spaced (see ``contour_levels``).
    """
    hb, hw = split_half_width(half_width)
    bs, ws, losses = q.grid(center=center, half_width=(hb, hw), num=num, j=j)
    if hb == hw:
        style = {"levels": contour_levels(losses, q.min_loss), "cmap": "viridis"}
    else:
        levels = contour_levels(losses, q.min_loss, spacing="log")
        colors = [tuple(c) for c in colormaps["viridis"](np.linspace(0.0, 1.0, len(levels)))]
        style = {"levels": levels, "colors": colors}
    cs = ax.contour(bs, ws, losses, **style)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label="loss (MSE)", shrink=0.9)
    if minimum:
        b_star, w_star = q.minimum()
        ax.plot([b_star], [w_star[j]], linestyle="none", label="minimum", **MIN_STYLE)
    start = as_start(start)
    if start is not None:
        ax.plot([start[0]], [start[1][j]], linestyle="none", label="start", **START_STYLE)
    ax.set_xlabel("b")
    ax.set_ylabel(w_label(q, j, names))
    return cs


def auto_half_width(q: QuadraticLoss, start=None, j: int = 0, half_width=None):
    """``half_width`` if given, else ``(hb, hw)`` that holds ``start`` (see
    ``QuadraticLoss.fit_half_width``): 3 each way when it lies within 3 of the minimum."""
    if half_width is not None:
        return half_width
    start = as_start(start)
    if start is None:
        return q.fit_half_width(j=j)
    return q.fit_half_width([start[0]], [start[1][j]], j=j)


def loss_surface(
    q: QuadraticLoss, start=None, j: int = 0, half_width=None, num: int = 101,
    names=None,
):  # fmt: skip
    """The loss over b and w (minimum +- ``half_width``) as a 3-D surface and contours.

    Returns ``(fig, (ax3d, ax_contours))``. ``start`` is ``(b, w)``, marked on both.
    ``half_width`` (one number or ``(hb, hw)``) defaults to 3 each way, widened per
    axis to hold ``start`` (see ``auto_half_width``).
    """
    half_width = auto_half_width(q, start, j, half_width)
    fig = NotebookFigure(figsize=(13, 5.8))
    # computed_zorder=False: draw the markers over the surface, not hidden under it
    ax3d = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    ax2d = fig.add_subplot(1, 2, 2)
    bs, ws, losses = q.grid(half_width=half_width, num=num, j=j)
    ax3d.plot_surface(
        bs, ws, losses, cmap="viridis", alpha=0.75, linewidth=0, rstride=2, cstride=2, zorder=1
    )
    b_star, w_star = q.minimum()
    ax3d.scatter([b_star], [w_star[j]], [q.min_loss], c="red", marker="*", s=200, label="minimum",
                 zorder=5)  # fmt: skip
    start = as_start(start)
    if start is not None:
        loss0 = float(q.slice_loss(start[0], start[1][j], j=j))
        ax3d.scatter([start[0]], [start[1][j]], [loss0], c="black", s=60, label="start",
                     zorder=5)  # fmt: skip
    ax3d.set_xlabel("b")
    ax3d.set_ylabel(w_label(q, j, names))
    # the z axis is short on screen: five ticks at most, or their labels run together,
    # and long tick labels (a loss in the thousands) would run into the z label
    ax3d.zaxis.set_major_locator(MaxNLocator(5))
    digits = len(f"{float(np.max(losses)):.0f}")
    ax3d.set_zlabel("loss (MSE)", **({"labelpad": 4 * digits - 4} if digits > 3 else {}))
    ax3d.view_init(elev=30, azim=-60)
    ax3d.set_box_aspect(None, zoom=0.85)
    ax3d.legend(loc="upper left")
    ax3d.set_title("Loss surface")
    draw_contours(ax2d, q, j=j, start=start, half_width=half_width, num=num, names=names)
    ax2d.legend(loc="lower right")
    ax2d.set_title("Loss contours")
    note = slice_note(q, j)
    if note:
        fig.suptitle(note)
    fig.tight_layout()
    return FigureAxes(fig, (ax3d, ax2d))


def loss_contours(
    q: QuadraticLoss, start=None, j: int = 0, half_width=None, num: int = 101,
    names=None, ax=None,
):  # fmt: skip
    """The contours alone, with the minimum and ``start`` marked. Returns ``(fig, ax)``.

    ``half_width`` defaults as in ``loss_surface``; ``ax``: an existing Axes to draw on
    (its figure gets the colorbar beside it).
    """
    half_width = auto_half_width(q, start, j, half_width)
    fig, ax, own = new_figure(ax, figsize=(7.5, 6))
    draw_contours(ax, q, j=j, start=start, half_width=half_width, num=num, names=names)
    ax.legend(loc="upper right")
    note = slice_note(q, j)
    ax.set_title("Loss contours" + (f"\n{note}" if note else ""))
    if own:
        fig.tight_layout()
    return FigureAxes(fig, ax)
