r"""Regression metrics: MSE, RMSE, MAE and R², as scikit-learn defines them.

With errors :math:`e_i = \hat y_i - y_i`:
:math:`\mathrm{MSE} = \frac1n\sum e_i^2`, :math:`\mathrm{RMSE} = \sqrt{\mathrm{MSE}}`,
:math:`\mathrm{MAE} = \frac1n\sum |e_i|` and
:math:`R^2 = 1 - \sum e_i^2 / \sum (y_i - \bar y)^2`. When ``y`` is constant R² is
undefined; like scikit-learn's ``r2_score`` it is then 1.0 for a perfect fit and
0.0 otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from gradstep.errors import GradstepError

METRICS = ("mse", "rmse", "mae", "r2")


def regression_metrics(y, y_hat) -> dict[str, float]:
    """``{"mse", "rmse", "mae", "r2"}`` of predictions ``y_hat`` for targets ``y``."""
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    pred = np.asarray(y_hat, dtype=np.float64).reshape(-1)
    if y_arr.shape != pred.shape or y_arr.size == 0:
        raise GradstepError(
            f"metrics need as many predictions as targets (got {pred.size} and {y_arr.size})"
        )
    error = pred - y_arr
    mse = float(np.mean(error**2))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2_score(y_arr, error),
    }


def r2_score(y: np.ndarray, error: np.ndarray) -> float:
    residual = float(np.sum(error**2))
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total
