r"""The document's steps as pure NumPy functions (the engines repeat them).

For d features and n points, with error :math:`e = \hat y - y`:

* predict:   :math:`\hat y = b + X w`
* loss:      :math:`L = \frac1n \sum e_i^2`
* gradients: :math:`\partial L/\partial b = 2\,\overline{e}`,
  :math:`\partial L/\partial w = \frac2n X^\top e`
* update:    :math:`b \leftarrow b - \eta\,\partial L/\partial b`,
  :math:`w \leftarrow w - \eta\,\partial L/\partial w`
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gradstep.errors import DivergenceError


def predict(b: float, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Step 1, the forward pass: ``b + x @ w`` for x of shape (n, d)."""
    return b + x @ w


def mse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Step 2: the mean squared error."""
    error = y_hat - y
    return float((error**2).mean())


def gradients(x: np.ndarray, error: np.ndarray) -> tuple[float, np.ndarray]:
    """Step 3: ``(b_grad, w_grad)`` of the MSE given ``error = y_hat - y``."""
    b_grad = 2 * error.mean()
    w_grad = 2 * (x.T @ error) / len(error)
    return float(b_grad), w_grad


def update(
    b: float, w: np.ndarray, b_grad: float, w_grad: np.ndarray, lr: float
) -> tuple[float, np.ndarray]:
    """Step 4: move against the gradient by ``lr``."""
    return b - lr * b_grad, w - lr * w_grad


def batch_indices(
    n: int, batch_size: int | None, seed: int, epoch: int
) -> Iterator[np.ndarray | slice]:
    """The batches of epoch ``epoch`` (0-based): all points, or a permutation cut into slices.

    The permutation comes from a generator seeded with ``(seed, epoch)``, so every
    engine given the same seed sees the same batches in the same order, and a run
    resumed at epoch k needs only the parameters, the seed and k to continue
    exactly as if it had never stopped.
    """
    if batch_size is None or batch_size >= n:
        yield slice(None)
        return
    order = epoch_order(n, seed, epoch)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which mini-batch descent visits the n points in epoch ``epoch``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def divergence_error(what: str, value, epoch: int, step: int, lr: float) -> DivergenceError:
    return DivergenceError(
        f"the descent diverged: {what} became {value} at epoch {epoch}, step {step} "
        f"(lr={lr:g}); try a smaller learning rate (e.g. lr={lr / 10:g}) or scale the features"
    )
