r"""The document's steps as pure NumPy functions, and the loop that repeats them.

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
from gradstep.result import History


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
    order = np.random.default_rng([seed, epoch]).permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def divergence_error(what: str, value, epoch: int, step: int, lr: float) -> DivergenceError:
    return DivergenceError(
        f"the descent diverged: {what} became {value} at epoch {epoch}, step {step} "
        f"(lr={lr:g}); try a smaller learning rate (e.g. lr={lr / 10:g}) or scale the features"
    )


def run(
    x: np.ndarray,
    y: np.ndarray,
    b: float,
    w: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None,
    seed: int,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    record_steps: bool = False,
    tol: float | None = None,
    start_epoch: int = 0,
) -> History:
    """Repeat steps 1-4 from ``(b, w)`` for up to ``epochs`` epochs; return the history.

    ``start_epoch`` numbers the first epoch (0-based) when continuing a run. With
    ``tol``, stop after the first epoch in which no parameter moved by more than
    ``tol * max(1, max|parameter|)`` (``History.converged`` says whether that happened).
    """
    n, d = x.shape
    b_hist = np.empty(epochs)
    w_hist = np.empty((epochs, d))
    train_loss = np.empty(epochs)
    val_loss = np.empty(epochs) if x_val is not None else None
    steps_b, steps_w = ([b], [w.copy()]) if record_steps else (None, None)
    converged = False if tol is not None else None
    run_epochs = epochs
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(epochs):
            b_start, w_start = b, w
            loss_sum, n_batches = 0.0, 0
            batches = batch_indices(n, batch_size, seed, start_epoch + epoch)
            for step, idx in enumerate(batches, start=1):
                x_b, y_b = x[idx], y[idx]
                error = predict(b, w, x_b) - y_b
                loss = float((error**2).mean())
                if not np.isfinite(loss):
                    raise divergence_error("the loss", loss, start_epoch + epoch + 1, step, lr)
                b_grad, w_grad = gradients(x_b, error)
                b, w = update(b, w, b_grad, w_grad, lr)
                if not (np.isfinite(b) and np.isfinite(w).all()):
                    raise divergence_error(
                        "a parameter", "non-finite", start_epoch + epoch + 1, step, lr
                    )
                loss_sum += loss
                n_batches += 1
                if record_steps:
                    steps_b.append(b)
                    steps_w.append(w)
            b_hist[epoch], w_hist[epoch] = b, w
            train_loss[epoch] = loss_sum / n_batches
            if val_loss is not None:
                val_loss[epoch] = mse_loss(predict(b, w, x_val), y_val)
            if tol is not None and parameters_settled(b_start, w_start, b, w, tol):
                converged, run_epochs = True, epoch + 1
                break
    return History(
        b_hist[:run_epochs],
        w_hist[:run_epochs],
        train_loss[:run_epochs],
        None if val_loss is None else val_loss[:run_epochs],
        np.array(steps_b) if record_steps else None,
        np.array(steps_w) if record_steps else None,
        converged=converged,
        first_epoch=start_epoch + 1,
    )


def parameters_settled(b_old: float, w_old, b_new: float, w_new, tol: float) -> bool:
    """True when no parameter moved by more than ``tol * max(1, max|parameter|)``."""
    change = max(abs(b_new - b_old), float(np.max(np.abs(np.asarray(w_new) - w_old))))
    scale = max(1.0, abs(b_new), float(np.max(np.abs(w_new))))
    return change <= tol * scale
