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


def regression_metrics_in_blocks(y, predictions) -> dict[str, float]:
    """:func:`regression_metrics` of ``y`` and the predictions of its consecutive rows,
    given block by block (``predictions`` yields arrays): no temporary larger than a block.

    The sums are taken per block and added, so the last digits may differ from
    :func:`regression_metrics` on the whole arrays.
    """
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    mean = float(y_arr.mean()) if y_arr.size else 0.0
    sse = sae = total = 0.0
    done = 0
    for block in predictions:
        pred = np.asarray(block, dtype=np.float64).reshape(-1)
        truth = y_arr[done : done + pred.size]
        done += pred.size
        if truth.size != pred.size:
            break
        error = pred - truth
        sse += float(np.sum(error * error))
        sae += float(np.sum(np.abs(error)))
        centred = truth - mean
        total += float(np.sum(centred * centred))
    if done != y_arr.size or done == 0:
        raise GradstepError(
            f"metrics need as many predictions as targets (got {done} and {y_arr.size})"
        )
    mse = sse / done
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": sae / done, "r2": _r2(sse, total)}


def r2_score(y: np.ndarray, error: np.ndarray) -> float:
    return _r2(float(np.sum(error**2)), float(np.sum((y - y.mean()) ** 2)))


def _r2(residual: float, total: float) -> float:
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total
