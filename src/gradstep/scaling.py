r"""Standardisation, and the way back to the original units.

Fitting :math:`y = b' + z w'` on standardised features :math:`z = (x - \mu)/\sigma`
is the same model as :math:`y = b + x w` with :math:`w = w'/\sigma` and
:math:`b = b' - \mu \cdot w`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradstep.errors import GradstepError


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, names: list[str] | None = None) -> Standardizer:
        """Learn mean and standard deviation per column (of the training rows only)."""
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        constant = np.flatnonzero(scale <= 1e-12 * np.maximum(1.0, np.abs(mean)))
        if constant.size:
            j = int(constant[0])
            label = names[j] if names else f"column {j}"
            raise GradstepError(
                f"feature {label!r} is constant ({mean[j]:g}) and cannot be standardised; "
                "drop it (the intercept already covers a constant)"
            )
        return cls(mean, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def to_original(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Parameters fitted on standardised features, in the original units."""
        w_orig = np.asarray(w) / self.scale
        return float(b - self.mean @ w_orig), w_orig

    def to_scaled(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Original-unit parameters, expressed for standardised features."""
        w = np.asarray(w, dtype=np.float64)
        return float(b + self.mean @ w), w * self.scale
