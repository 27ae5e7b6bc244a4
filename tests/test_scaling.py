import numpy as np
import pytest

from gradstep import GradstepError, least_squares
from gradstep.scaling import Standardizer


def test_round_trip_and_equivalent_model():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[100.0, -3.0], scale=[50.0, 0.01], size=(200, 2))
    y = 4.0 + x @ [0.2, 30.0] + rng.normal(size=200)
    scaler = Standardizer.fit(x)
    z = scaler.transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    b_z, w_z = least_squares(z, y)
    b, w = scaler.to_original(b_z, w_z)
    b_ref, w_ref = least_squares(x, y)
    np.testing.assert_allclose([b, *w], [b_ref, *w_ref], rtol=1e-8)
    b_back, w_back = scaler.to_scaled(b, w)
    np.testing.assert_allclose([b_back, *w_back], [b_z, *w_z], rtol=1e-10)


def test_constant_feature_is_named():
    x = np.column_stack([np.arange(5.0), np.full(5, 3.0)])
    with pytest.raises(GradstepError, match="'rooms' is constant"):
        Standardizer.fit(x, names=["area", "rooms"])
