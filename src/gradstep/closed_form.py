"""The answer gradient descent should reach: ordinary least squares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gradstep.data import as_xy

if TYPE_CHECKING:
    from gradstep.moments import Moments

# Above this condition number of the correlation matrix, solving the normal equations
# (whose error grows with it, ~ cond * 1e-16 relative) is left to lstsq on the data.
MAX_NORMAL_CONDITION = 1e8


def least_squares(x, y) -> tuple[float, np.ndarray]:
    """``(intercept, coef)`` minimising the MSE, by ``numpy.linalg.lstsq`` on ``[1, x]``."""
    x_arr, y_arr = as_xy(x, y)
    design = np.column_stack([np.ones(len(x_arr)), x_arr])
    solution, *_ = np.linalg.lstsq(design, y_arr, rcond=None)
    return float(solution[0]), solution[1:]


def least_squares_from_moments(
    m: Moments, constant: np.ndarray | None = None, *, ill_conditioned: str = "none"
) -> tuple[float, np.ndarray] | None:
    r"""``(intercept, coef)`` of least squares from the centred statistics, or None.

    Solves the centred normal equations :math:`S_{xx} w = s_{xy}` in correlation form:
    with :math:`D = \operatorname{diag}(S_{xx})^{1/2}`, :math:`C = D^{-1} S_{xx} D^{-1}`
    (unit diagonal) and :math:`C v = D^{-1} s_{xy}`, :math:`w = D^{-1} v`, so columns of
    very different sizes (1e100 beside 1) stay as accurate as columns of one size. Then
    :math:`b = \bar y - \mu \cdot w`. ``constant`` features (no spread) get coefficient 0.

    When :math:`C` is too ill-conditioned for the normal equations (condition number
    above ``MAX_NORMAL_CONDITION``): None (``ill_conditioned="none"``; then solve on the
    data, :func:`least_squares`), or, when there are no rows to solve on (a streamed run),
    ``ill_conditioned="lstsq"``: the minimum-norm solution of :math:`C v = D^{-1} s_{xy}`.
    """
    active = np.ones(m.d, bool) if constant is None else ~np.asarray(constant, bool)
    spread = np.sqrt(np.maximum(np.diag(m.sxx), 0.0))
    active &= spread > 0
    w = np.zeros(m.d)
    if active.any():
        s = spread[active]
        corr = m.sxx[np.ix_(active, active)] / np.outer(s, s)
        eig = np.linalg.eigvalsh(corr)
        if eig[0] > eig[-1] / MAX_NORMAL_CONDITION:
            w[active] = np.linalg.solve(corr, m.sxy[active] / s) / s
        elif ill_conditioned == "lstsq":
            w[active] = np.linalg.lstsq(corr, m.sxy[active] / s, rcond=None)[0] / s
        else:
            return None
    return float(m.mean_y - m.mean_x @ w), w


def sklearn_least_squares(x, y) -> tuple[float, np.ndarray]:
    """The same answer from scikit-learn's ``LinearRegression`` (the document's check)."""
    from sklearn.linear_model import LinearRegression

    x_arr, y_arr = as_xy(x, y)
    model = LinearRegression().fit(x_arr, y_arr)
    return float(model.intercept_), np.asarray(model.coef_, dtype=np.float64)
