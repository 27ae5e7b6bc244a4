"""Cross-sections of the loss through the start, and the slope that is the gradient.

A cross-section holds all parameters at the start but one: at fixed w the loss
is a parabola in b, at fixed b a parabola in w_j. Its slope at the start is the
partial derivative — shown next to a finite difference, which approaches it as
the step shrinks (a central difference is exact for a parabola).
"""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, NotebookFigure
from gradstep.plots.surface import START_STYLE, as_start, w_label, wrap_title
from gradstep.quadratic import QuadraticLoss


def section(q: QuadraticLoss, start, which: str, j: int = 0):
    """The loss along one parameter through ``start``.

    Returns ``(f, p0, slope, name)``: ``f(values)`` gives the loss with only
    ``b`` (``which="b"``) or ``w_j`` (``which="w"``) changed, ``p0`` is that
    parameter's start value and ``slope`` the analytic partial derivative there.
    """
    b0, w0 = as_start(start)
    b_grad, w_grad = q.gradient(b0, w0 if q.d > 1 else w0[0])
    w_grad = np.atleast_1d(w_grad)

    if which == "b":
        return (lambda v: q.slice_loss(v, w0[j], j=j, at=w0)), b0, float(b_grad), "b"

    def along_w(v):
        return q.slice_loss(b0, v, j=j, at=w0)

    return along_w, float(w0[j]), float(w_grad[j]), "w" if q.d == 1 else f"w_{j}"


def section_low(q: QuadraticLoss, start, which: str, j: int = 0) -> float:
    """Where the cross-section through ``start`` is lowest: ``p0 - slope / (2 k)``.

    ``k`` is the section's curvature, the diagonal entry of the gram matrix.
    """
    _, p0, slope, _ = section(q, start, which, j)
    curvature = q.gram[0, 0] if which == "b" else q.gram[1 + j, 1 + j]
    return p0 - slope / (2 * curvature)


def section_range(low: float, points, margin: float = 1.3, least: float = 1.0) -> np.ndarray:
    """x-values for a cross-section: centred on its lowest point ``low``, wide enough
    for every point in ``points`` (times ``margin``), and at least ``least`` each way."""
    half = max(least, margin * max(abs(p - low) for p in points))
    return np.linspace(low - half, low + half, 301)


def _labels(q, which, j, names, start):
    b0, w0 = as_start(start)
    wl = w_label(q, j, names)
    if which == "b":
        fixed = f"{wl} = {w0[j]:.4f}" if q.d == 1 else "all w at the start"
        return "b", f"Fixed {fixed}: loss along b"
    return wl, f"Fixed b = {b0:.4f}: loss along {wl}" + (
        "" if q.d == 1 else ", others at the start"
    )


def cross_sections(q: QuadraticLoss, start, j: int = 0, names=None):
    """The loss along b (w fixed) and along w (b fixed), through ``start``.

    Returns ``(fig, (ax_b, ax_w))``.
    """
    fig = NotebookFigure(figsize=(13, 5.5))
    axes = fig.subplots(1, 2)
    for ax, which in zip(axes, ("b", "w"), strict=True):
        f, p0, _, _ = section(q, start, which, j)
        xs = section_range(section_low(q, start, which, j), [p0])
        losses = f(xs)
        ax.plot(xs, losses, color="tab:blue", label="loss")
        i_min = int(np.argmin(losses))
        ax.plot([xs[i_min]], [losses[i_min]], "r*", markersize=12,
                label=f"lowest on this section ({xs[i_min]:.3f})")  # fmt: skip
        ax.plot([p0], [f(p0)], linestyle="none", label=f"start ({p0:.4f})", **START_STYLE)
        ax.axvline(p0, color="gray", linestyle=":", linewidth=1)
        xlabel, title = _labels(q, which, j, names, start)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss (MSE)")
        ax.set_title(wrap_title(title))
        ax.legend(loc="upper center")
    fig.tight_layout()
    return FigureAxes(fig, tuple(axes))


def slopes(q: QuadraticLoss, start, j: int = 0, delta: float = 0.5, names=None):
    """The analytic gradient next to the finite-difference slope, on both cross-sections.

    Each panel shows the tangent at the start (slope = the partial derivative)
    and the secant over ``delta`` (slope = the forward difference
    ``(L(p + delta) - L(p)) / delta``, which differs by ``delta`` times the
    curvature). Returns ``(fig, (ax_b, ax_w))``.
    """
    fig = NotebookFigure(figsize=(13, 5.5))
    axes = fig.subplots(1, 2)
    for ax, which in zip(axes, ("b", "w"), strict=True):
        f, p0, grad, name = section(q, start, which, j)
        loss0 = float(f(p0))
        forward = (float(f(p0 + delta)) - loss0) / delta
        h = 1e-6 * max(1.0, abs(p0))
        central = (float(f(p0 + h)) - float(f(p0 - h))) / (2 * h)
        # Wide enough to show the curve's bend: at least to the section's minimum
        # (the section is a parabola, so its curvature is a second difference).
        curvature = float(f(p0 + 1.0)) + float(f(p0 - 1.0)) - 2 * loss0
        to_min = abs(grad) / curvature if curvature > 0 else 0.0
        half = max(1.5, 1.2 * to_min)
        xs = np.linspace(p0 - half, p0 + half, 201)
        ax.plot(xs, f(xs), color="tab:blue", label="loss")
        ax.plot(xs, loss0 + grad * (xs - p0), color="tab:red",
                label=f"tangent: dL/d{name} = {grad:.4f} (analytic)")  # fmt: skip
        secant = f"secant: dL/d{name} ~ {forward:.4f} (forward, delta = {delta:g})"
        ax.plot(xs, loss0 + forward * (xs - p0), color="tab:orange", linestyle="--", label=secant)
        ax.plot([p0, p0 + delta], [loss0, float(f(p0 + delta))], "o", color="tab:orange")
        ax.plot([p0], [loss0], linestyle="none", **START_STYLE)
        ax.plot([], [], " ", label=f"central difference (h = {h:.0e}): {central:.4f}")
        xlabel, title = _labels(q, which, j, names, start)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss (MSE)")
        ax.set_title(wrap_title(title.replace("loss along", "slope along")))
        ax.legend(loc="upper center", fontsize=9)
        lo, hi = f(xs).min(), f(xs).max()
        ax.set_ylim(lo - 0.15 * (hi - lo), hi + 0.45 * (hi - lo))
    fig.tight_layout()
    return FigureAxes(fig, tuple(axes))
