"""Synthetic data, the train/validation split, and input validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradstep import reprs
from gradstep.errors import GradstepError


@dataclass(frozen=True)
class SyntheticData:
    """The document's data: features ``x`` (n, d), labels ``y`` (n,), and the split."""

    x: np.ndarray
    y: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    true_b: float
    true_w: np.ndarray

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        n, d = self.x.shape
        rows = [
            ("true b", reprs.number(self.true_b)),
            ("true w", reprs.vector(self.true_w)),
            ("split", f"{len(self.train_idx)} train, {len(self.val_idx)} validation"),
            ("x, y", f"shapes {self.x.shape} and {self.y.shape}"),
        ]
        return f"SyntheticData: {n} points, {d} feature(s)", rows

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    @property
    def x_train(self) -> np.ndarray:
        return self.x[self.train_idx]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.train_idx]

    @property
    def x_val(self) -> np.ndarray:
        return self.x[self.val_idx]

    @property
    def y_val(self) -> np.ndarray:
        return self.y[self.val_idx]


def make_data(
    n: int = 100,
    true_b: float = 1.0,
    true_w: float | list[float] | np.ndarray = 2.0,
    noise: float = 0.1,
    seed: int = 42,
    train_fraction: float = 0.8,
) -> SyntheticData:
    """Generate ``y = true_b + x @ true_w + noise * eps`` exactly as the document does.

    One ``RandomState(seed)`` stream supplies, in the document's order, ``rand`` for
    x, ``randn`` for the noise and the shuffle of the indices, so with the defaults
    the numbers equal the document's ``np.random.seed(42)`` code; NumPy's global
    random state is never touched. ``true_w`` of length d gives d features.
    """
    true_w_arr = np.atleast_1d(np.asarray(true_w, dtype=np.float64))
    if true_w_arr.ndim != 1:
        raise GradstepError(f"true_w must be a number or a flat list, got shape {true_w_arr.shape}")
    if int(n) != n or n < 2:
        raise GradstepError(f"n={n!r} is too small: synthetic data needs at least 2 points")
    if not 0.0 < train_fraction < 1.0:
        raise GradstepError(
            f"train_fraction={train_fraction!r} must be strictly between 0 and 1, e.g. 0.8"
        )
    n_train = int(n * train_fraction)
    if n_train < 1 or n_train >= n:
        raise GradstepError(
            f"train_fraction={train_fraction} leaves an empty train or validation set for n={n}"
        )
    d = true_w_arr.size
    rng = np.random.RandomState(seed)
    x = rng.rand(n, d)
    epsilon = noise * rng.randn(n, 1)
    y = (true_b + x @ true_w_arr[:, None] + epsilon)[:, 0]
    idx = np.arange(n)
    rng.shuffle(idx)
    return SyntheticData(x, y, idx[:n_train], idx[n_train:], float(true_b), true_w_arr)


def as_xy(
    x, y, what: str = "training", *, keep_float32: bool = False, finite: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float64 ``x`` of shape (n, d) and ``y`` of shape (n,).

    A 1-D ``x`` is one feature; ``y`` may be (n,) or (n, 1). ``keep_float32``: float32
    arrays stay float32 (no copy; the engines accumulate in float64). ``finite=False``
    leaves the NaN/inf check to the caller (the statistics pass finds them for free).
    """
    for name, value in (("x", x), ("y", y)):
        if np.iscomplexobj(value):
            raise GradstepError(
                f"{what} {name} holds complex numbers; pass real values (e.g. the .real part)"
            )
    try:
        x_arr = _as_float(x, keep_float32)
        y_arr = _as_float(y, keep_float32)
    except (TypeError, ValueError) as exc:
        raise GradstepError(f"{what} data must be numeric arrays: {exc}") from None
    if x_arr.ndim == 1:
        x_arr = x_arr[:, None]
    if x_arr.ndim != 2:
        raise GradstepError(
            f"{what} x has shape {x_arr.shape}; pass a 1-D array (one feature) or 2-D (n, d)"
        )
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise GradstepError(
            f"{what} y has shape {y_arr.shape}; pass one target per row, shape (n,) or (n, 1)"
        )
    if x_arr.shape[0] != y_arr.shape[0]:
        raise GradstepError(
            f"{what} x has {x_arr.shape[0]} rows but y has {y_arr.shape[0]}; "
            "pass one target per row"
        )
    if x_arr.shape[1] < 1:
        raise GradstepError(f"{what} x has no feature columns; pass at least one")
    if x_arr.shape[0] < 2:
        raise GradstepError(
            f"{what} data has {x_arr.shape[0]} point(s); gradient descent needs at least 2"
        )
    if finite:
        check_finite(x_arr, y_arr, what)
    return x_arr, y_arr


def _as_float(value, keep_float32: bool) -> np.ndarray:
    if keep_float32 and isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value
    return np.asarray(value, dtype=np.float64)


def check_finite(x: np.ndarray, y: np.ndarray, what: str = "training") -> None:
    """Refuse NaN or inf in ``x`` or ``y``, naming the first one."""
    _check_finite(x, f"{what} x")
    _check_finite(y, f"{what} y")


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(arr[tuple(where)]) else "inf"
        loc = f"row {where[0]}" + (f", column {where[1]}" if arr.ndim == 2 else "")
        raise GradstepError(
            f"{name} contains {kind} at {loc} ({int(bad.sum())} non-finite value(s)); "
            "drop or impute those rows first"
        )
