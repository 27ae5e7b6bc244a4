r"""The training loss of a linear model as a quadratic form.

With :math:`A = [1, X]` (a column of ones, then the features) and
:math:`\theta = (b, w)`, the mean squared error is

.. math::

    L(\theta) = \tfrac1n \lVert A\theta - y \rVert^2
              = \theta^\top G \theta - 2\,\theta^\top c + s,
    \qquad G = \tfrac1n A^\top A,\; c = \tfrac1n A^\top y,\; s = \tfrac1n y^\top y .

``G``, ``c`` and ``s`` (plus ``n``) are all a loss surface needs: a 101 x 101 grid is
one broadcast expression, not 10 201 passes over the data, and a run folder stores
them as ``quadratic.json`` so plots and reports can draw the surface without the
data. The minimum solves :math:`G\theta^* = c` (the normal equations), and the loss
is evaluated as :math:`L^* + (\theta-\theta^*)^\top G (\theta-\theta^*)`, which
keeps the values near the minimum free of the cancellation of the expanded form.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradstep.data import as_xy
from gradstep.errors import GradstepError


def split_half_width(half_width) -> tuple[float, float]:
    """``(hb, hw)`` from one half-width for both axes or a pair ``(hb, hw)``."""
    arr = np.asarray(half_width, dtype=np.float64).reshape(-1)
    if arr.size not in (1, 2) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise GradstepError(
            f"half_width={half_width!r} must be one positive number or a pair (hb, hw)"
        )
    return float(arr[0]), float(arr[-1])


@dataclass(frozen=True, eq=False)
class QuadraticLoss:
    """The MSE of ``b + x @ w`` on one data set, as ``n``, ``gram``, ``xty``, ``yty``."""

    n: int
    gram: np.ndarray  # (d+1, d+1): [1,X]^T [1,X] / n
    xty: np.ndarray  # (d+1,): [1,X]^T y / n
    yty: float  # y^T y / n

    @classmethod
    def from_data(cls, x, y) -> QuadraticLoss:
        """Build the form from features ``x`` ((n,) or (n, d)) and targets ``y``."""
        x_arr, y_arr = as_xy(x, y, "training")
        n = x_arr.shape[0]
        design = np.hstack([np.ones((n, 1)), x_arr])
        return cls(
            n=n,
            gram=design.T @ design / n,
            xty=design.T @ y_arr / n,
            yty=float(y_arr @ y_arr / n),
        )

    @classmethod
    def from_moments(cls, m) -> QuadraticLoss:
        r"""The same form from the data's centred :class:`~gradstep.moments.Moments`:
        :math:`G = [[1, \mu^\top], [\mu, S_{xx} + \mu\mu^\top]]`,
        :math:`c = (\bar y, s_{xy} + \mu \bar y)`, :math:`s = s_{yy} + \bar y^2`
        (no pass over the data, no copy of it)."""
        d = m.d
        gram = np.empty((d + 1, d + 1))
        gram[0, 0] = 1.0
        gram[0, 1:] = gram[1:, 0] = m.mean_x
        gram[1:, 1:] = m.sxx + np.outer(m.mean_x, m.mean_x)
        xty = np.r_[m.mean_y, m.sxy + m.mean_x * m.mean_y]
        return cls(n=int(m.n), gram=gram, xty=xty, yty=float(m.syy + m.mean_y**2))

    def combine(self, other: QuadraticLoss) -> QuadraticLoss:
        """The form of the two data sets together (e.g. built chunk by chunk)."""
        if other.d != self.d:
            raise GradstepError(
                f"cannot combine quadratic forms of {self.d} and {other.d} feature(s)"
            )
        n = self.n + other.n
        a, b = self.n / n, other.n / n
        return QuadraticLoss(
            n, a * self.gram + b * other.gram, a * self.xty + b * other.xty,
            a * self.yty + b * other.yty,
        )  # fmt: skip

    @property
    def d(self) -> int:
        """Number of features (the form has ``d + 1`` parameters)."""
        return self.gram.shape[0] - 1

    # -- the minimum ------------------------------------------------------------
    @cached_property
    def _theta_star(self) -> np.ndarray:
        # lstsq, not solve: a constant or duplicated feature makes G singular, and
        # the normal equations are still consistent (c lies in the range of G).
        return np.linalg.lstsq(self.gram, self.xty, rcond=None)[0]

    def minimum(self) -> tuple[float, np.ndarray]:
        """``(b*, w*)``, the least-squares answer."""
        theta = self._theta_star
        return float(theta[0]), theta[1:].copy()

    @cached_property
    def min_loss(self) -> float:
        """The loss at the minimum, ``s - c . theta*`` (never below 0)."""
        return max(0.0, float(self.yty - self.xty @ self._theta_star))

    # -- evaluation -------------------------------------------------------------
    def _theta(self, b, w) -> np.ndarray:
        """Stack ``b`` (shape S) and ``w`` into parameters of shape ``S + (d+1,)``.

        For one feature ``w`` is any array that broadcasts with ``b``; for d
        features it has a trailing axis of length d.
        """
        b_arr = np.asarray(b, dtype=np.float64)
        w_arr = np.asarray(w, dtype=np.float64)
        if self.d == 1:
            w_arr = w_arr[..., None]
        elif w_arr.shape[-1:] != (self.d,):
            raise GradstepError(
                f"w has shape {w_arr.shape}; with {self.d} features its last axis must be {self.d}"
            )
        shape = np.broadcast_shapes(b_arr.shape, w_arr.shape[:-1])
        b_arr = np.broadcast_to(b_arr, shape)[..., None]
        w_arr = np.broadcast_to(w_arr, (*shape, self.d))
        return np.concatenate([b_arr, w_arr], axis=-1)

    def loss_theta(self, theta) -> np.ndarray:
        """The MSE at parameters ``theta`` of shape ``(..., d+1)``: ``(b, w_0, ...)``."""
        delta = np.asarray(theta, dtype=np.float64) - self._theta_star
        return self.min_loss + np.einsum("...i,ij,...j->...", delta, self.gram, delta)

    def loss(self, b, w) -> np.ndarray:
        """The MSE at ``(b, w)``, vectorised over any broadcastable grid."""
        return self.loss_theta(self._theta(b, w))

    def gradient(self, b, w) -> tuple[np.ndarray, np.ndarray]:
        """``(dL/db, dL/dw)``: ``2 (G theta - c)``, split into b and w parts."""
        grad = 2 * (self._theta(b, w) @ self.gram - self.xty)
        w_grad = grad[..., 1:]
        return grad[..., 0], (w_grad[..., 0] if self.d == 1 else w_grad)

    def slice_loss(self, b, wj, j: int = 0, at=None) -> np.ndarray:
        """The loss over ``b`` and ``w_j``, the other coefficients held at ``at``.

        ``at`` is a full ``w`` (length d), by default the optimum ``w*``. With one
        feature this is just ``loss(b, wj)``.
        """
        if not 0 <= j < self.d:
            raise GradstepError(f"feature index {j} is out of range for {self.d} feature(s)")
        base = self.minimum()[1] if at is None else np.asarray(at, dtype=np.float64).reshape(-1)
        b_arr, wj_arr = np.broadcast_arrays(
            np.asarray(b, dtype=np.float64), np.asarray(wj, dtype=np.float64)
        )
        theta = np.empty((*b_arr.shape, self.d + 1))
        theta[..., 0] = b_arr
        theta[..., 1:] = base
        theta[..., 1 + j] = wj_arr
        return self.loss_theta(theta)

    def grid(
        self, center=None, half_width=3.0, num: int = 101, j: int = 0, at=None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bs, ws, losses)`` on a ``num x num`` grid of b and w_j around ``center``.

        ``center`` is ``(b, w_j)``, by default the minimum; the grid spans
        ``center +- half_width`` in both, or ``b +- hb`` and ``w_j +- hw`` when
        ``half_width`` is a pair ``(hb, hw)``. ``bs`` and ``ws`` come from
        ``meshgrid`` (rows follow w, columns b).
        """
        hb, hw = split_half_width(half_width)
        b_star, w_star = self.minimum()
        cb, cw = (b_star, w_star[j]) if center is None else center
        b_axis = np.linspace(cb - hb, cb + hb, num)
        w_axis = np.linspace(cw - hw, cw + hw, num)
        bs, ws = np.meshgrid(b_axis, w_axis)
        return bs, ws, self.slice_loss(bs, ws, j=j, at=at)

    def fit_half_width(
        self, b=(), wj=(), j: int = 0, least: float = 3.0, margin: float = 1.15
    ) -> tuple[float, float]:
        """``(hb, hw)``: half-widths of a grid around the minimum that holds the points.

        ``b`` and ``wj`` are the points' coordinates (a start, a path); per axis
        the half-width is ``max(least, margin * max |coordinate - optimum|)``, so a
        start within ``least`` of the minimum keeps the ``+- least`` square grid.
        Non-finite coordinates are ignored.
        """
        b_star, w_star = self.minimum()
        halves = []
        for values, centre in ((b, b_star), (wj, w_star[j])):
            arr = np.asarray(values, dtype=np.float64).reshape(-1)
            arr = arr[np.isfinite(arr)]
            far = float(np.max(np.abs(arr - centre))) if arr.size else 0.0
            halves.append(max(float(least), margin * far))
        return halves[0], halves[1]

    # -- the run folder's quadratic.json ---------------------------------------
    def to_dict(self) -> dict:
        """Plain lists and floats, the content of a run folder's ``quadratic.json``."""
        return {
            "n": int(self.n),
            "gram": [[float(v) for v in row] for row in self.gram],
            "xty": [float(v) for v in self.xty],
            "yty": float(self.yty),
        }

    @classmethod
    def from_dict(cls, payload: dict, source: str = "quadratic.json") -> QuadraticLoss:
        """Read the form back, checking shapes and values; errors name ``source``."""
        try:
            n = payload["n"]
            gram = np.asarray(payload["gram"], dtype=np.float64)
            xty = np.asarray(payload["xty"], dtype=np.float64).reshape(-1)
            yty = float(payload["yty"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GradstepError(
                f"{source} is not a quadratic form ({exc!r}); it needs n, gram, xty and yty"
            ) from None
        k = xty.size
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise GradstepError(f"{source}: n={n!r} must be a whole number >= 1")
        if k < 2 or gram.shape != (k, k):
            raise GradstepError(
                f"{source}: gram has shape {gram.shape} and xty {k} value(s); "
                "expected a (d+1) x (d+1) gram and d+1 xty values, d >= 1"
            )
        if not (np.isfinite(gram).all() and np.isfinite(xty).all() and np.isfinite(yty)):
            raise GradstepError(f"{source} contains NaN or inf")
        return cls(n, gram, xty, yty)
