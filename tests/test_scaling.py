"""The one scaler (gradstep.policies.Scaler), checked against least squares and NumPy."""

import numpy as np

from gradstep import least_squares
from gradstep.moments import Moments
from gradstep.policies import Scaler


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[100.0, -3.0], scale=[50.0, 0.01], size=(200, 2))
    y = 4.0 + x @ [0.2, 30.0] + rng.normal(size=200)
    return x, y


def test_round_trip_and_equivalent_model():
    x, y = _data()
    scaler = Scaler.learn(Moments.from_data(x, y))
    z, t = scaler.x(x), scaler.y(y)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose([t.mean(), t.std()], [0, 1], atol=1e-12)
    b_z, w_z = least_squares(z, t)
    b, w = scaler.to_original(b_z, w_z)
    b_ref, w_ref = least_squares(x, y)
    np.testing.assert_allclose([b, *w], [b_ref, *w_ref], rtol=1e-8)
    b_back, w_back = scaler.to_scaled(b, w)
    np.testing.assert_allclose([b_back, *w_back], [b_z, *w_z], rtol=1e-8, atol=1e-12)


def test_constant_feature_gets_coefficient_zero_with_or_without_scaling():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=50), np.full(50, 3.0)])
    y = 1.0 + 2.0 * x[:, 0] + rng.normal(size=50) * 0.1
    for features in (True, False):
        scaler = Scaler.learn(Moments.from_data(x, y), features=features, target=False)
        assert scaler.constant.tolist() == [False, True]
        z = scaler.x(x)
        assert (z[:, 1] == 0).all()
        _, w = scaler.to_original(0.5, np.r_[1.0, 5.0])
        assert w[1] == 0.0 and w[0] != 0.0
