"""The sufficient statistics: the compiled one-pass kernel against float64 NumPy."""

import numpy as np
import pytest

from gradstep import GradstepError
from gradstep.engines.kernels import moments as kernel_moments
from gradstep.moments import Moments


def oracle(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    mx, my = x.mean(axis=0), y.mean()
    xc, yc = x - mx, y - my
    n = len(y)
    return mx, my, xc.T @ xc / n, xc.T @ yc / n, yc @ yc / n


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_equals_float64_numpy(d, dtype):
    rng = np.random.default_rng(d)
    n = 300_001  # several chunks and a ragged last one
    x = (rng.normal(size=(n, d)) * np.arange(1, d + 1) + [5.0, -3.0, 1e3][:d]).astype(dtype)
    y = (x.astype(np.float64) @ np.arange(1.0, d + 1) + rng.normal(size=n)).astype(dtype)
    got = kernel_moments(x, y)
    assert got[0] == n
    for value, expected in zip(got[1:], oracle(x, y), strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-11, atol=1e-11)


def test_timestamps_keep_their_spread():
    """Raw sums of squares of values near 1.7e9 would lose the spread to cancellation."""
    rng = np.random.default_rng(0)
    x = 1.7e9 + rng.uniform(0, 3.0e7, size=(200_000, 1))
    y = 3.0 + 2e-6 * x[:, 0] + rng.normal(size=200_000)
    got = Moments.from_data(x, y)
    mx, my, sxx, sxy, syy = oracle(x, y)
    np.testing.assert_allclose(got.sxx, sxx, rtol=1e-10)
    np.testing.assert_allclose(got.sxy, sxy, rtol=1e-9)
    np.testing.assert_allclose(got.mean_x, mx, rtol=1e-15)


def test_combine_equals_the_moments_of_all_rows():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(1000, 2)) + 10, rng.normal(size=1000)
    whole = Moments.from_data(x, y)
    parts = Moments.from_data(x[:300], y[:300]).combine(Moments.from_data(x[300:], y[300:]))
    for name in ("mean_x", "mean_y", "sxx", "sxy", "syy"):
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12)


@pytest.mark.parametrize("n", [50, 200_000])
def test_non_finite_data_is_named(n):
    x, y = np.ones((n, 2)), np.ones(n)
    x[n - 7, 1] = np.nan
    with pytest.raises(GradstepError, match=f"training x contains NaN at row {n - 7}, column 1"):
        Moments.from_data(x, y)
