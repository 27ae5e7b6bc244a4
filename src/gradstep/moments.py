r"""The sufficient statistics of a linear model under squared error.

For rows :math:`(x_i, y_i)`, :math:`i = 1..n`, with means :math:`\mu, \bar y` and
centred rows :math:`\tilde x_i = x_i - \mu`, :math:`\tilde y_i = y_i - \bar y`:

.. math::

    S_{xx} = \tfrac1n \sum \tilde x_i \tilde x_i^\top,\quad
    s_{xy} = \tfrac1n \sum \tilde x_i \tilde y_i,\quad
    s_{yy} = \tfrac1n \sum \tilde y_i^2 .

With the mean residual :math:`r = b + \mu\cdot w - \bar y`, the whole full-batch
descent depends on the data only through these:

.. math::

    L(b, w) = r^2 + w^\top S_{xx} w - 2 w^\top s_{xy} + s_{yy},\qquad
    \partial L/\partial b = 2r,\qquad
    \partial L/\partial w = 2(\mu r + S_{xx} w - s_{xy}).

They are kept *centred* (not :math:`X^\top X`): a feature near 1.7e9 (a timestamp)
would otherwise lose every digit of its spread to cancellation. One pass over the
data computes them (:func:`gradstep.engines.kernels.chunk_moments`: per chunk, the
means and then the centred sums, merged in table order by Chan's formula), so the
result does not depend on the number of threads, and in float64 whatever the
input dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradstep.errors import GradstepError

# up to this many values (rows x features) the moments are computed in NumPy
SMALL = 100_000


@dataclass(frozen=True, eq=False)
class Moments:
    n: int
    mean_x: np.ndarray  # (d,)
    mean_y: float
    sxx: np.ndarray  # (d, d)
    sxy: np.ndarray  # (d,)
    syy: float

    @classmethod
    def from_data(cls, x: np.ndarray, y: np.ndarray, what: str = "training") -> Moments:
        """One pass over ``x`` (n, d) and ``y`` (n,), float32 or float64.

        Refuses non-finite data with the first bad row (found only when the sums
        say there is one, so clean data is read once).
        """
        if x.shape[0] * x.shape[1] <= SMALL:
            result = cls._from_small(x, y)
        else:
            from gradstep.engines.kernels import moments

            result = cls(*moments(x, y))
        if not result.finite:
            _refuse_non_finite(x, y, what)
        return result

    @classmethod
    def _from_small(cls, x: np.ndarray, y: np.ndarray) -> Moments:
        """Two passes in NumPy: for small data, not worth loading the compiled kernel."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean_x, mean_y = x.mean(axis=0), float(y.mean())
            xc, yc = x - mean_x, y - mean_y
            n = x.shape[0]
            return cls(n, mean_x, mean_y, xc.T @ xc / n, xc.T @ yc / n, float(yc @ yc / n))

    @property
    def d(self) -> int:
        return self.mean_x.shape[0]

    @property
    def finite(self) -> bool:
        return bool(
            np.isfinite(self.mean_x).all()
            and np.isfinite(self.sxx).all()
            and np.isfinite(self.sxy).all()
            and np.isfinite([self.mean_y, self.syy]).all()
        )

    def combine(self, other: Moments) -> Moments:
        """The moments of both sets of rows together (Chan et al.'s pairwise update)."""
        n = self.n + other.n
        wa, wb = self.n / n, other.n / n
        dx, dy = other.mean_x - self.mean_x, other.mean_y - self.mean_y
        cross = wa * wb
        return Moments(
            n,
            self.mean_x + wb * dx,
            self.mean_y + wb * dy,
            wa * self.sxx + wb * other.sxx + cross * np.outer(dx, dx),
            wa * self.sxy + wb * other.sxy + cross * dx * dy,
            wa * self.syy + wb * other.syy + cross * dy * dy,
        )

    # -- the loss and its gradient, for many parameter vectors at once -----------
    def residual_mean(self, b, w) -> np.ndarray:
        """``r = b + mean_x . w - mean_y`` for ``b`` (k,) and ``w`` (k, d)."""
        return np.asarray(b) + np.asarray(w) @ self.mean_x - self.mean_y

    def loss(self, b, w) -> np.ndarray:
        """The exact MSE at ``(b, w)``; ``b`` (k,), ``w`` (k, d)."""
        w = np.atleast_2d(w)
        r = self.residual_mean(b, w)
        spread = np.einsum("kj,jl,kl->k", w, self.sxx, w) - 2 * w @ self.sxy + self.syy
        return r**2 + np.maximum(spread, 0.0)

    def gradient(self, b, w) -> tuple[np.ndarray, np.ndarray]:
        """``(dL/db (k,), dL/dw (k, d))`` at ``b`` (k,), ``w`` (k, d)."""
        w = np.atleast_2d(w)
        r = self.residual_mean(b, w)
        return 2 * r, 2 * (r[:, None] * self.mean_x + w @ self.sxx - self.sxy)

    def hessian(self) -> np.ndarray:
        r""":math:`H = 2\,[[1, \mu^\top], [\mu, S_{xx} + \mu\mu^\top]]`, the same at every point."""
        d = self.d
        h = np.empty((d + 1, d + 1))
        h[0, 0] = 1.0
        h[0, 1:] = h[1:, 0] = self.mean_x
        h[1:, 1:] = self.sxx + np.outer(self.mean_x, self.mean_x)
        return 2.0 * h

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        """Of the Hessian, ascending."""
        return np.linalg.eigvalsh(self.hessian())

    def minimum(self) -> tuple[float, np.ndarray]:
        """``(b*, w*)``: least squares, from the centred normal equations."""
        w_star = np.linalg.lstsq(self.sxx, self.sxy, rcond=None)[0]
        return float(self.mean_y - self.mean_x @ w_star), w_star


def _refuse_non_finite(x: np.ndarray, y: np.ndarray, what: str) -> None:
    from gradstep.data import check_finite

    check_finite(x, y, what)  # names the first NaN or inf, if that is what it is
    raise GradstepError(
        f"the {what} data is too large to sum in float64 (its squares overflow); "
        "rescale the columns (e.g. divide them by a power of ten)"
    )
