r"""The rules every front door shares (``gradstep.fit``, ``GDRegressor``, ``gradstep train``).

One of each, chosen here and nowhere else:

* **Scaling** (:class:`Scaler`): features centred and divided by their standard
  deviation, the target likewise (``GDRegressor``; ``gradstep train`` scales the
  features only, so its run folder shows losses in the target's own units). A
  **constant column** gets coefficient 0 — the intercept already covers it — and
  is reported, not refused.
* **Step size** (:func:`auto_lr`), from the Hessian of the MSE,
  :math:`H = \tfrac2n A^\top A` with :math:`A = [1, X]`, largest eigenvalue
  :math:`L`, smallest positive :math:`\mu`: full batch
  :math:`\min(2/(L + \mu), 1.5/L)` — :math:`2/(L+\mu)` is the fastest fixed step
  for a quadratic, the cap keeps the stiffest direction damped when
  :math:`\mu/L \to 0`; mini-batches of :math:`k` rows
  :math:`1/(2\mathcal L(k))` with the expected smoothness
  :math:`\mathcal L(k) = \frac{n(k-1)}{k(n-1)} L + \frac{n-k}{k(n-1)} L_{\max}`,
  :math:`L_{\max} = \max_i 2\lVert a_i\rVert^2` (Gower et al., 2019), taken for the
  smallest batch of the epoch.
* **What ``tol`` means** (:class:`Certificate`): a *certified* accuracy. The descent
  stops after the first epoch at which every parameter is provably within
  ``tol * max(1, max|parameter|)`` of the least-squares answer, using
  :math:`\lVert\theta - \theta^*\rVert_2 \le \lVert\nabla L(\theta)\rVert_2/\lambda_{\min}(H)`.
  ``converged`` is True only then. When :math:`H` is too ill-conditioned for that
  bound to mean anything (:math:`\lambda_{\max}/\lambda_{\min} >` :data:`MAX_CONDITION`,
  e.g. an unscaled timestamp feature, or two equal columns) nothing can be certified:
  the descent runs to its epoch cap and says why. Default :data:`DEFAULT_TOL`.
* **Patience** (:class:`Patience`): stop when a monitored loss has not reached a
  new best for ``patience`` epochs; the best epoch is remembered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradstep.defaults import DEFAULT_TOL, MAX_CONDITION
from gradstep.moments import Moments

__all__ = ["DEFAULT_TOL", "MAX_CONDITION", "Certificate", "Patience", "Scaler", "auto_lr"]


# ------------------------------------------------------------------- scaling


@dataclass(frozen=True, eq=False)
class Scaler:
    """Centre and scale the features (and, when asked, the target).

    ``constant`` marks features with no spread; they become 0 in the scaled data, so
    their coefficient stays 0. An identity scaler (``Scaler.identity(d)``) leaves
    everything as it is.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    constant: np.ndarray
    y_mean: float = 0.0
    y_scale: float = 1.0

    @classmethod
    def identity(cls, d: int) -> Scaler:
        return cls(np.zeros(d), np.ones(d), np.zeros(d, bool))

    @classmethod
    def learn(cls, m: Moments, *, features: bool = True, target: bool = True) -> Scaler:
        """From the training rows' moments (so no extra pass over the data).

        Constant columns are found (and zeroed) even when ``features`` is False.
        """
        std = np.sqrt(np.maximum(np.diag(m.sxx), 0.0))
        # a spread of a few units in the last place is rounding, not data (the moments are
        # centred, so integers near 2**53 two apart still show their real spread)
        constant = std <= 4 * np.finfo(float).eps * np.abs(m.mean_x)
        x_mean = m.mean_x.copy() if features else np.zeros(m.d)
        x_scale = np.where(constant, 1.0, std) if features else np.ones(m.d)
        y_mean, y_scale = 0.0, 1.0
        if target:
            y_std = float(np.sqrt(max(m.syy, 0.0)))
            y_mean = m.mean_y
            y_scale = 1.0 if y_std <= 4 * np.finfo(float).eps * abs(y_mean) or y_std == 0 else y_std
        return cls(x_mean, x_scale, constant, y_mean, y_scale)

    @property
    def is_identity(self) -> bool:
        return (
            not self.x_mean.any()
            and (self.x_scale == 1).all()
            and not self.constant.any()
            and (self.y_mean, self.y_scale) == (0.0, 1.0)
        )

    def x(self, x: np.ndarray) -> np.ndarray:
        """Features as the descent sees them (float64)."""
        if self.is_identity:
            return x
        z = (np.asarray(x, dtype=np.float64) - self.x_mean) / self.x_scale
        z[:, self.constant] = 0.0
        return z

    def y(self, y: np.ndarray) -> np.ndarray:
        if self.is_identity:
            return y
        return (np.asarray(y, dtype=np.float64) - self.y_mean) / self.y_scale

    def to_original(self, b, w) -> tuple[np.ndarray, np.ndarray]:
        """Scaled ``b`` and ``w`` (one set, or a history: (k,), (k, d)) in original units."""
        w_orig = self.y_scale * np.where(self.constant, 0.0, np.asarray(w) / self.x_scale)
        return self.y_mean + self.y_scale * np.asarray(b) - w_orig @ self.x_mean, w_orig

    def to_scaled(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        w = np.asarray(w, dtype=np.float64)
        w_scaled = np.where(self.constant, 0.0, w * self.x_scale / self.y_scale)
        b_scaled = (b + self.x_mean @ w - self.y_mean) / self.y_scale
        return float(b_scaled), w_scaled

    def loss_to_original(self, loss):
        return np.asarray(loss) * self.y_scale**2

    def to_dict(self) -> dict:
        return {
            "mean": [float(v) for v in self.x_mean],
            "scale": [float(v) for v in self.x_scale],
            "constant": [bool(v) for v in self.constant],
            "target_mean": float(self.y_mean),
            "target_scale": float(self.y_scale),
        }


# ----------------------------------------------------------------- step size


def curvature(m: Moments, active: np.ndarray | None = None) -> tuple[float, float]:
    """``(L, mu)``: the largest and smallest positive eigenvalue of the Hessian.

    ``active`` leaves out columns that are identically zero (constant, after scaling).
    Eigenvalues below ``L * (d + 1) * eps`` count as zero (directions the data
    cannot determine).
    """
    eig = _restricted(m, active).eigenvalues
    top = float(eig[-1])
    positive = eig[eig > top * len(eig) * np.finfo(float).eps]
    return top, float(positive[0]) if positive.size else top


def auto_lr(m: Moments, batch_size: int | None, l_max: float | None = None,
            active: np.ndarray | None = None) -> float:  # fmt: skip
    """The step size ``lr="auto"`` picks (see the module docstring).

    ``l_max`` (mini-batches only): :func:`largest_row_curvature` of the data.
    """
    top, mu = curvature(m, active)
    if batch_size is None or batch_size >= m.n:
        return min(2.0 / (top + mu), 1.5 / top)
    n = m.n
    smallest = n % batch_size or batch_size  # the last, smallest batch is the least smooth
    expected = (n * (smallest - 1) * top + (n - smallest) * l_max) / (smallest * (n - 1))
    return 1.0 / (2.0 * expected)


def largest_row_curvature(x: np.ndarray) -> float:
    r""":math:`L_{\max} = \max_i 2\lVert(1, x_i)\rVert^2`, in blocks (no copy of ``x``)."""
    block = 1 << 16
    top = 0.0
    for start in range(0, x.shape[0], block):
        part = np.asarray(x[start : start + block], dtype=np.float64)
        top = max(top, float((part * part).sum(axis=1).max()))
    return 2.0 * (1.0 + top)


def _restricted(m: Moments, active: np.ndarray | None) -> Moments:
    if active is None or active.all():
        return m
    return Moments(m.n, m.mean_x[active], m.mean_y, m.sxx[np.ix_(active, active)],
                   m.sxy[active], m.syy)  # fmt: skip


# ----------------------------------------------------------------------- tol


class Certificate:
    """How far the parameters can be from least squares: the meaning of ``tol``."""

    def __init__(self, m: Moments, active: np.ndarray | None = None):
        self.moments = m
        self.active = np.ones(m.d, bool) if active is None else np.asarray(active, bool)
        eig = _restricted(m, self.active).eigenvalues
        self.condition = float(eig[-1] / eig[0]) if eig[0] > 0 else np.inf
        self.certifiable = self.condition <= MAX_CONDITION
        self.lambda_min = float(eig[0])

    def relative_bound(self, b, w) -> np.ndarray:
        """Per parameter set (``b`` (k,), ``w`` (k, d)): the certified bound on
        ``max|theta - theta*|`` over ``max(1, max|theta|)``; inf when not certifiable."""
        b, w = np.atleast_1d(b), np.atleast_2d(w)
        if not self.certifiable:
            return np.full(b.shape, np.inf)
        grad_b, grad_w = self.moments.gradient(b, w)
        grad_w = grad_w[:, self.active]
        norm = np.sqrt(grad_b**2 + (grad_w**2).sum(axis=1))
        scale = np.maximum(1.0, np.maximum(np.abs(b), np.abs(w).max(axis=1, initial=0.0)))
        return norm / self.lambda_min / scale

    def first_met(self, b, w, tol: float) -> int | None:
        """Index of the first parameter set certified within ``tol``, or None."""
        hits = np.flatnonzero(self.relative_bound(b, w) <= tol)
        return int(hits[0]) if hits.size else None

    def advice(self) -> str:
        """Why nothing can be certified, and what to do (for messages)."""
        return (
            f"the features are too ill-conditioned to certify convergence (condition number "
            f"{self.condition:.3g}); centre and scale them (e.g. --scale true), or drop "
            "nearly duplicate columns"
        )


# ------------------------------------------------------------------ patience


class Patience:
    """Stop when a loss has not reached a new best for ``patience`` epochs.

    Stateful across chunks: feed each chunk's losses in order to :meth:`first_stop`.
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best, self.best_index, self.seen = np.inf, None, 0

    def first_stop(self, losses: np.ndarray) -> int | None:
        """Index into ``losses`` of the epoch after which to stop, or None."""
        for i, loss in enumerate(np.asarray(losses, dtype=np.float64)):
            if loss < self.best:
                self.best, self.best_index = float(loss), self.seen + i
            elif self.seen + i - self.best_index >= self.patience:
                self.seen += i + 1
                return i
        self.seen += len(losses)
        return None

    @property
    def best_epoch_index(self) -> int | None:
        """0-based index (over everything fed so far) of the best loss."""
        return self.best_index
