"""Two-coordinate slices of the loss: which two coordinates a report shows, and the grid.

The parameters are ``theta = (b, w_0, ..., w_{d-1})``; a slice is a pair of indices
into ``theta`` (0 is ``b``), the other coordinates held at the least-squares optimum.
"""

from __future__ import annotations

import numpy as np

from gradstep.quadratic import QuadraticLoss


def most_moved(start, end) -> tuple[int, int]:
    """The two coordinates of ``theta`` with the largest ``|end - start|``, in index order.

    Measured in the units the descent sees: with standardised features that is where
    the descent travelled, and so where its contours and path show something moving.
    Ties go to the lower index (``b``, then ``w_0``, ...).
    """
    moved = np.abs(np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64))
    moved = np.where(np.isfinite(moved), moved, -1.0)
    order = np.argsort(-moved, kind="stable")
    return tuple(sorted(int(k) for k in order[:2]))


def pair_grid(q: QuadraticLoss, axes, u=(), v=(), least: float = 3.0, margin: float = 1.15,
              num: int = 101):  # fmt: skip
    """``(u_axis, v_axis, losses)`` over the coordinates ``axes = (p, r)`` of ``theta``.

    The grid is centred on the optimum with half-widths ``max(least, margin * max |point -
    optimum|)`` per axis over the points ``u``, ``v``; ``losses[i, k]`` is the loss at
    ``(u_axis[k], v_axis[i])`` with every other coordinate at its optimum, computed as
    ``L* + delta^T G delta`` (no cancellation near the minimum).
    """
    p, r = axes
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    halves = []
    for values, k in ((u, p), (v, r)):
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        arr = arr[np.isfinite(arr)]
        far = float(np.max(np.abs(arr - star[k]))) if arr.size else 0.0
        halves.append(max(float(least), margin * far))
    u_axis = np.linspace(star[p] - halves[0], star[p] + halves[0], num)
    v_axis = np.linspace(star[r] - halves[1], star[r] + halves[1], num)
    du, dv = np.meshgrid(u_axis - star[p], v_axis - star[r])
    g = q.gram
    losses = q.min_loss + g[p, p] * du**2 + 2 * g[p, r] * du * dv + g[r, r] * dv**2
    return u_axis, v_axis, losses
