r"""The document's steps, as functions a learner can call on any sensible shapes.

For d features and n points, with error :math:`e = \hat y - y`:

* predict:   :math:`\hat y = b + X w`
* loss:      :math:`L = \frac1n \sum e_i^2`
* gradients: :math:`\partial L/\partial b = 2\,\overline{e}`,
  :math:`\partial L/\partial w = \frac2n X^\top e`
* update:    :math:`b \leftarrow b - \eta\,\partial L/\partial b`,
  :math:`w \leftarrow w - \eta\,\partial L/\partial w`

Shapes (the same rules for NumPy arrays and torch tensors):

* ``x``: (n,) is n points of one feature; (n, d) is n points of d features.
* ``w``: a number (one feature), (d,) or the column (d, 1); ``b``: a number or shape (1,).
* ``y``, ``y_hat`` and ``error``: one value per point, (n,) or the column (n, 1).
* ``predict`` computes ``b + x @ w`` as linear algebra does: flat (n,) predictions for
  a number or (d,) ``w``, a column (n, 1) for a column ``w`` (d, 1). It never sees ``y``,
  so it cannot follow y's shape: with the book's column ``y`` (n, 1), pass ``w`` as a
  column (``w.reshape(-1, 1)``) or flatten ``y`` (``y.reshape(-1)``), so that
  ``error = y_hat - y`` is one value per point.
* ``mse_loss`` pairs (n,) with (n, 1) point by point, never as an n-by-n table.
* ``gradients`` gives ``w_grad`` as (d,), or (d, 1) when ``error`` is a column.
* ``update`` returns ``b`` and ``w`` in the shapes (and types) they came in.

Anything else (a row ``w``, mismatched lengths, an (n, n) error from subtracting a
column from a flat vector) raises :class:`~gradstep.GradstepError` naming the shapes;
nothing is broadcast silently. Torch tensors in give torch tensors out (the loss and
``b_grad`` as 0-d tensors, so ``loss.backward()`` works); torch is imported only when
a tensor is passed. The engines call the unchecked ``fast_*`` functions below.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import numpy as np

from gradstep.errors import DivergenceError, GradstepError


def predict(b, w, x):
    """Step 1, the forward pass: ``b + x @ w``.

    Parameters
    ----------
    b : a number or shape (1,).
    w : a number (one feature), (d,) or the column (d, 1).
    x : (n,) for one feature, or (n, d).

    Returns
    -------
    The n predictions: flat (n,), or a column (n, 1) when ``w`` is a column (d, 1).
    """
    b, w, x = _same_kind(b=b, w=w, x=x)
    x2 = _matrix(x)
    w_vec = _weights(w, x2.shape[1], "w", f"x has shape {_shape(x)}, {x2.shape[1]} feature(s)")
    y_hat = _one_value(b, "b") + x2 @ w_vec
    return y_hat.reshape(-1, 1) if w.ndim == 2 else y_hat


def mse_loss(y_hat, y):
    """Step 2: the mean squared error, ``mean((y_hat - y) ** 2)`` over the n points.

    ``y_hat`` and ``y`` are (n,) or (n, 1) each, in any combination (paired point by
    point). Returns a float, or a 0-d tensor for tensors (``loss.backward()`` works).
    """
    y_hat, y = _same_kind(y_hat=y_hat, y=y)
    pred, target = _points(y_hat, "y_hat"), _points(y, "y")
    if pred.shape[0] != target.shape[0]:
        raise GradstepError(
            f"y_hat has {pred.shape[0]} values (shape {_shape(y_hat)}) but y has "
            f"{target.shape[0]} (shape {_shape(y)}); pass one prediction per target"
        )
    loss = ((pred - target) ** 2).mean()
    return float(loss) if isinstance(loss, (np.generic, np.ndarray)) else loss


def gradients(x, error):
    """Step 3: ``(b_grad, w_grad)`` of the MSE given ``error = y_hat - y``.

    ``error`` is (n,) or (n, 1), one value per row of ``x``. ``b_grad`` is a float (a 0-d
    tensor for tensors); ``w_grad`` is (d,), or the column (d, 1) when ``error`` is one.
    """
    x, error = _same_kind(x=x, error=error)
    x2 = _matrix(x)
    n = x2.shape[0]
    if error.ndim == 2 and error.shape[0] == n and error.shape[1] > 1:
        raise GradstepError(
            f"error has shape {_shape(error)} for the {n} points of x: a flat (n,) and a "
            "column (n, 1) were subtracted and broadcast into a table; compute y_hat - y "
            "from two flat arrays (y.reshape(-1)) or two columns (w.reshape(-1, 1))"
        )
    err = _points(error, "error")
    if err.shape[0] != n:
        raise GradstepError(
            f"error has {err.shape[0]} values (shape {_shape(error)}) but x has {n} rows "
            f"(shape {_shape(x)}); pass error = y_hat - y, one value per row of x"
        )
    b_grad = 2 * err.mean()
    w_grad = 2 * (x2.T @ err) / n
    if isinstance(b_grad, np.generic):
        b_grad = float(b_grad)
    return b_grad, (w_grad.reshape(-1, 1) if error.ndim == 2 else w_grad)


def update(b, w, b_grad, w_grad, lr):
    """Step 4: move against the gradient, ``b - lr * b_grad`` and ``w - lr * w_grad``.

    ``w_grad`` needs one value per weight ((d,) or (d, 1), whatever the shape of ``w``).
    ``b`` and ``w`` come back in the shapes they came in (numbers as floats). Tensors are
    updated under ``torch.no_grad()`` into new tensors that require grad as ``b`` and
    ``w`` did; the ones passed are left as they are.
    """
    rate = _rate(lr)
    numbers = (_is_number(b), _is_number(w))
    named = _same_kind(b=b, w=w, b_grad=b_grad, w_grad=w_grad)
    b_arr, w_arr, b_step, w_step = named
    _one_value(b_arr, "b")
    b_step = _one_value(b_step, "b_grad")
    d = int(np.prod(tuple(w_arr.shape)))
    if tuple(w_arr.shape) not in ((), (d,), (d, 1)) or d == 0:
        raise GradstepError(
            f"w has shape {_shape(w_arr)}; pass the weights as a number, shape (d,) or (d, 1)"
        )
    where = f"w has shape {_shape(w_arr)}, {d} value(s)"
    w_step = _weights(w_step, d, "w_grad", where).reshape(w_arr.shape)
    if isinstance(b_arr, np.ndarray):
        new_b, new_w = b_arr - rate * b_step, w_arr - rate * w_step
        return (
            float(new_b) if numbers[0] else new_b,
            float(new_w) if numbers[1] else new_w,
        )
    import torch

    with torch.no_grad():
        new_b, new_w = b_arr - rate * b_step, w_arr - rate * w_step
    return new_b.requires_grad_(b_arr.requires_grad), new_w.requires_grad_(w_arr.requires_grad)


# The engines' inner loops: no checks, x (n, d), w (d,), error (n,), NumPy only.


def fast_predict(b: float, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``b + x @ w`` for x (n, d) and w (d,), unchecked (the engines' hot path)."""
    return b + x @ w


def fast_mse_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    """The MSE of two arrays of one shape, unchecked."""
    error = y_hat - y
    return float((error**2).mean())


def fast_gradients(x: np.ndarray, error: np.ndarray) -> tuple[float, np.ndarray]:
    """``(b_grad, w_grad)`` for x (n, d) and error (n,), unchecked."""
    b_grad = 2 * error.mean()
    w_grad = 2 * (x.T @ error) / len(error)
    return float(b_grad), w_grad


def fast_update(
    b: float, w: np.ndarray, b_grad: float, w_grad: np.ndarray, lr: float
) -> tuple[float, np.ndarray]:
    """``(b - lr * b_grad, w - lr * w_grad)``, unchecked."""
    return b - lr * b_grad, w - lr * w_grad


def _shape(value) -> tuple:
    return tuple(value.shape)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _rate(lr) -> float:
    try:
        rate = float(lr)
    except (TypeError, ValueError):
        rate = math.nan
    if isinstance(lr, bool) or not math.isfinite(rate) or rate <= 0:
        raise GradstepError(f"lr={lr!r} must be a positive finite number, e.g. lr=0.1")
    return rate


def _matrix(x):
    """x as (n, d): a flat x is n points of one feature."""
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    elif x.ndim != 2:
        raise GradstepError(
            f"x has shape {_shape(x)}; pass one feature as shape (n,) or d features as (n, d)"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise GradstepError(f"x has shape {_shape(x)}; pass at least one point and one feature")
    return x


def _weights(w, d: int, name: str, where: str):
    """``w`` as (d,): a number (d = 1), (d,) or (d, 1); anything else is refused."""
    shape = _shape(w)
    if shape in ((d,), (d, 1)) or (shape == () and d == 1):
        return w.reshape(d)
    number = " (or a number)" if d == 1 else ""
    raise GradstepError(
        f"{name} has shape {shape} but {where}; pass {d} value(s) as shape ({d},) or ({d}, 1)"
        f"{number}"
    )


def _one_value(value, name: str):
    """A number or shape (1,), as a 0-d value that adds to anything without broadcasting."""
    if _shape(value) not in ((), (1,)):
        raise GradstepError(
            f"{name} has shape {_shape(value)}; pass one number, a scalar or shape (1,)"
        )
    return value.reshape(())


def _points(values, name: str):
    """One value per point, (n,) or (n, 1), as (n,)."""
    if values.ndim == 1:
        return values
    if values.ndim == 2 and values.shape[1] == 1:
        return values.reshape(-1)
    raise GradstepError(
        f"{name} has shape {_shape(values)}; pass one value per point, shape (n,) or (n, 1)"
    )


def _same_kind(**named) -> list:
    """NumPy float arrays, or, when any value is a tensor, tensors of one dtype and device.

    torch is looked up in ``sys.modules``: if it was never imported, nothing is a tensor.
    """
    torch = sys.modules.get("torch")
    if torch is not None and any(isinstance(v, torch.Tensor) for v in named.values()):
        return _tensors(torch, named)
    return [_real_array(value, name) for name, value in named.items()]


def _real_array(value, name: str) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise GradstepError(f"{name} must be numbers or an array of them: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise GradstepError(
            f"{name} must hold real numbers, not {arr.dtype} ({type(value).__name__}); "
            "pass a float array"
        )
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _tensors(torch, named: dict) -> list:
    tensors = {k: v for k, v in named.items() if isinstance(v, torch.Tensor)}
    floats = {k: v for k, v in tensors.items() if v.is_floating_point()}
    ref_name, ref = next(iter(floats.items() or tensors.items()))
    dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
    out = []
    for name, value in named.items():
        if name not in tensors:
            out.append(torch.as_tensor(_real_array(value, name), dtype=dtype, device=ref.device))
            continue
        if value.device != ref.device:
            raise GradstepError(
                f"{name} is on {value.device} but {ref_name} is on {ref.device}; "
                f"move them to one device (e.g. {name}.to({str(ref.device)!r}))"
            )
        if name in floats and value.dtype != dtype:
            raise GradstepError(
                f"{name} is {value.dtype} but {ref_name} is {dtype}; give every tensor one "
                "dtype (e.g. .double() for all, or .float())"
            )
        out.append(value if name in floats else value.to(dtype))
    return out


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
    error = DivergenceError(
        f"the descent diverged: {what} became {value} at epoch {epoch}, step {step} "
        f"(lr={lr:g}); try a smaller learning rate (e.g. lr={lr / 10:g}) or scale the features"
    )
    error.epoch, error.step = int(epoch), int(step)
    return error
