"""Optimizers raced on the same loss surface: their paths over the contours and their loss
per epoch, where each stopped (certified ``tol``) or diverged.

The race is run by :func:`gradstep.race` (``gradstep.racing``); this module only draws it.
"""

from __future__ import annotations

import numpy as np

from gradstep.plots.figure import FigureAxes, NotebookFigure
from gradstep.plots.surface import MIN_STYLE, START_STYLE, contour_levels, tex_safe

COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown",
          "tab:pink", "tab:olive", "tab:cyan", "tab:gray")  # fmt: skip
DIVERGED_STYLE = {"marker": "X", "markersize": 11, "markeredgecolor": "black", "zorder": 7}
STOP_STYLE = {"marker": "s", "markersize": 7, "markeredgecolor": "black", "zorder": 7}


def coord_label(k: int, d: int, names=None) -> str:
    """``b`` for coordinate 0 of ``theta = (b, w_0, ...)``, else ``w`` / ``w_j (name)``."""
    if k == 0:
        return "b"
    base = "w" if d == 1 else f"w_{k - 1}"
    return f"{base} ({tex_safe(names[k - 1])})" if names else base


def race_figure(race, names=None, axes=None):
    """The race drawn in two panels: paths over the loss contours, and the loss above its
    minimum per epoch (log scale). Returns ``(fig, (ax_paths, ax_loss))``.

    ``race`` is :func:`gradstep.race`'s result. ``axes`` is the pair of coordinates of
    ``theta = (b, w_0, ...)`` the contours show (default ``(0, 1)``, b and w, for one
    feature; for more, the two the racers moved most), the others held at their optimum.
    A square marks where a racer was certified within ``tol``; a cross where it diverged (on
    the contours: its last point in view; on the loss: the epoch, at the panel's top when
    the loss is beyond it).
    """
    q = race.quadratic
    if axes is None:
        axes = (0, 1) if q.d == 1 else race.most_moved()
    fig = NotebookFigure(figsize=(13.5, 6.8), layout="constrained")
    ax_paths, ax_loss = fig.subplots(1, 2, width_ratios=[1.0, 1.15])
    window = _draw_surface(ax_paths, race, axes, names)
    for i, racer in enumerate(race.racers):
        color = COLORS[i % len(COLORS)]
        label = f"{tex_safe(racer.label)}: {racer.outcome}"
        _draw_path(ax_paths, racer, axes, color, window)
        _draw_loss(ax_loss, race, racer, color, label)
    _finish_loss_axes(ax_loss, race)
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(3, len(race.racers)), fontsize=9)  # fmt: skip
    tol = "" if race.tol is None else f", tol {race.tol:g}"
    batch = "full batch" if race.batch_size is None else f"mini-batches of {race.batch_size}"
    title = f"Optimizers raced from the same start ({batch}, at most {race.epochs} epochs{tol})"
    if q.d > 1:
        title += (f"\ncontours over {coord_label(axes[0], q.d, names)} and "
                  f"{coord_label(axes[1], q.d, names)}, the other {q.d - 1} coefficient(s) "
                  "at their optimum")  # fmt: skip
    fig.suptitle(title)
    return FigureAxes(fig, (ax_paths, ax_loss))


def _draw_surface(ax, race, axes, names):
    """Contours of the slice over ``axes`` holding every finite path of a racer that did
    not diverge (and every start); return the window ``(u0, u1, v0, v1)``."""
    from gradstep.report.slices import pair_grid

    q = race.quadratic
    p, r = axes
    kept = [rc.theta for rc in race.racers if rc.reason != "diverged"]
    points = np.vstack([race.start[None, :], *kept])
    u_axis, v_axis, losses = pair_grid(q, axes, points[:, p], points[:, r], margin=1.1)
    square = np.isclose(u_axis[-1] - u_axis[0], v_axis[-1] - v_axis[0], rtol=1e-12)
    levels = contour_levels(losses, q.min_loss, spacing="sqrt" if square else "log")
    ax.contour(u_axis, v_axis, losses, levels=levels, cmap="viridis", linewidths=0.8, alpha=0.8)
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    ax.plot([star[p]], [star[r]], linestyle="none", label="minimum", **MIN_STYLE)
    ax.plot([race.start[p]], [race.start[r]], linestyle="none", label="start", **START_STYLE)
    ax.set_xlim(u_axis[0], u_axis[-1])
    ax.set_ylim(v_axis[0], v_axis[-1])
    if square:
        ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(coord_label(p, q.d, names))
    ax.set_ylabel(coord_label(r, q.d, names))
    ax.set_title("Paths on the loss contours (one point per epoch)")
    ax.legend(loc="upper right", fontsize=9)
    return u_axis[0], u_axis[-1], v_axis[0], v_axis[-1]


def _draw_path(ax, racer, axes, color, window) -> None:
    p, r = axes
    u, v = racer.theta[:, p], racer.theta[:, r]
    last = None
    if racer.reason == "diverged":
        # up to where it leaves the window for good (the rest only zigzags further out)
        u0, u1, v0, v1 = window
        inside = np.flatnonzero((u >= u0) & (u <= u1) & (v >= v0) & (v <= v1))
        last = int(inside[-1]) if inside.size else 0
        u, v = u[: last + 2], v[: last + 2]
    many = len(u) > 60
    ax.plot(u, v, color=color, linewidth=1.0 if many else 1.4, marker=None if many else ".",
            markersize=4, alpha=0.9, zorder=4)  # fmt: skip
    if last is not None:
        ax.plot(u[last], v[last], color=color, linestyle="none", **DIVERGED_STYLE)
    elif racer.reason == "tol":
        ax.plot(u[-1], v[-1], color=color, linestyle="none", **STOP_STYLE)


def _draw_loss(ax, race, racer, color, label) -> None:
    excess = race.excess(racer)
    epochs = np.arange(1, excess.size + 1)
    # a diverging loss near the float range's end only overflows the log axis' transform
    shown = np.where(np.isfinite(excess) & (excess > 0) & (excess < 1e100), excess, np.nan)
    ax.plot(epochs, shown, color=color, linewidth=1.4, label=label)
    if racer.reason == "tol" and excess.size:
        ax.plot(epochs[-1], max(excess[-1], 1e-300), color=color, linestyle="none", **STOP_STYLE)


def _finish_loss_axes(ax, race) -> None:
    """Log scale, limits that hold every racer that did not diverge (a diverging loss runs
    to 1e300 and would flatten the others), a cross where each diverging one did: at its
    last loss, or on the top edge when that left the panel."""
    ax.set_yscale("log")
    curves = [race.excess(rc) for rc in race.racers]
    kept = [c for c, rc in zip(curves, race.racers, strict=True) if rc.reason != "diverged"]
    values = np.concatenate(kept or curves)
    values = values[np.isfinite(values) & (values > 0) & (values < 1e100)]
    if values.size:
        # room above for a diverging loss to be seen leaving: four powers of ten
        room = 1e4 if len(kept) < len(curves) else 5.0
        ax.set_ylim(values.min() / 5, values.max() * room)
    low, high = ax.get_ylim()
    for i, (racer, curve) in enumerate(zip(race.racers, curves, strict=True)):
        if racer.reason != "diverged":
            continue
        last = curve[-1] if curve.size and np.isfinite(curve[-1]) else high
        y = last if last < high / 3 else high / 3  # inside the panel, below its top edge
        ax.plot(
            racer.diverged_at, y, color=COLORS[i % len(COLORS)], linestyle="none", **DIVERGED_STYLE
        )
    ax.set_ylim(low, high)
    ax.set_xlim(0, race.epochs * 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss above its minimum (log scale)")
    ax.set_title("Loss per epoch (square: certified tol; cross: diverged)")
