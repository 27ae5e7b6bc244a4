"""The answer gradient descent should reach: ordinary least squares."""

from __future__ import annotations

import numpy as np

from gradstep.data import as_xy


def least_squares(x, y) -> tuple[float, np.ndarray]:
    """``(intercept, coef)`` minimising the MSE, by ``numpy.linalg.lstsq`` on ``[1, x]``."""
    x_arr, y_arr = as_xy(x, y)
    design = np.column_stack([np.ones(len(x_arr)), x_arr])
    solution, *_ = np.linalg.lstsq(design, y_arr, rcond=None)
    return float(solution[0]), solution[1:]


def sklearn_least_squares(x, y) -> tuple[float, np.ndarray]:
    """The same answer from scikit-learn's ``LinearRegression`` (the document's check)."""
    from sklearn.linear_model import LinearRegression

    x_arr, y_arr = as_xy(x, y)
    model = LinearRegression().fit(x_arr, y_arr)
    return float(model.intercept_), np.asarray(model.coef_, dtype=np.float64)
