"""The loss as a quadratic form, checked against direct MSE computations on the data."""

import json

import numpy as np
import pytest

from gradstep import GradstepError, least_squares, make_data
from gradstep.quadratic import QuadraticLoss
from gradstep.steps import gradients, mse_loss, predict

DOC_B, DOC_W = 0.4967141530112327, -0.13826430117118466


@pytest.fixture(scope="module")
def demo():
    data = make_data()
    return data, QuadraticLoss.from_data(data.x_train, data.y_train)


@pytest.fixture(scope="module")
def three():
    data = make_data(n=200, true_w=[2.0, -1.0, 0.5], seed=3)
    return data, QuadraticLoss.from_data(data.x_train, data.y_train)


def direct_mse(x, y, b, w) -> float:
    x = np.asarray(x).reshape(len(y), -1)
    return mse_loss(predict(b, np.atleast_1d(w), x), y)


def test_grid_equals_direct_mse_at_sampled_points(demo):
    data, q = demo
    bs, ws, losses = q.grid()
    assert bs.shape == ws.shape == losses.shape == (101, 101)
    b_star, w_star = q.minimum()
    assert bs[0, 0] == pytest.approx(b_star - 3) and bs[0, -1] == pytest.approx(b_star + 3)
    assert ws[0, 0] == pytest.approx(w_star[0] - 3) and ws[-1, 0] == pytest.approx(w_star[0] + 3)
    rng = np.random.default_rng(0)
    for r, c in rng.integers(0, 101, size=(40, 2)):
        want = direct_mse(data.x_train, data.y_train, bs[r, c], ws[r, c])
        assert losses[r, c] == pytest.approx(want, rel=1e-11, abs=1e-13)
    # corners and the centre too
    for r, c in [(0, 0), (0, 100), (100, 0), (100, 100), (50, 50)]:
        want = direct_mse(data.x_train, data.y_train, bs[r, c], ws[r, c])
        assert losses[r, c] == pytest.approx(want, rel=1e-11)


def test_document_values(demo):
    data, q = demo
    # the document's first loss (as its code computes it) and its printed gradients
    assert float(q.loss(DOC_B, DOC_W)) == pytest.approx(2.7421577700550976, rel=1e-12)
    b_grad, w_grad = q.gradient(DOC_B, DOC_W)
    assert float(b_grad) == pytest.approx(-3.044811379650508, rel=1e-12)
    assert float(w_grad) == pytest.approx(-1.8337537171510832, rel=1e-12)


def test_minimum_is_least_squares(demo, three):
    for data, q in (demo, three):
        b, w = least_squares(data.x_train, data.y_train)
        b_star, w_star = q.minimum()
        assert b_star == pytest.approx(b, rel=1e-10)
        np.testing.assert_allclose(w_star, w, rtol=1e-10)
        assert q.min_loss == pytest.approx(direct_mse(data.x_train, data.y_train, b, w), rel=1e-9)


def test_broadcasting_shapes(demo):
    _, q = demo
    assert np.shape(q.loss(1.0, 2.0)) == ()
    assert q.loss(np.zeros(5), 1.0).shape == (5,)
    assert q.loss(np.zeros((3, 1)), np.zeros((1, 4))).shape == (3, 4)


def test_d_features_slice_and_gradient(three):
    data, q = three
    assert q.d == 3
    _, w_star = q.minimum()
    bs, ws, losses = q.grid(j=1)
    for r, c in [(0, 0), (17, 80), (100, 3), (50, 50)]:
        w = w_star.copy()
        w[1] = ws[r, c]
        want = direct_mse(data.x_train, data.y_train, bs[r, c], w)
        assert losses[r, c] == pytest.approx(want, rel=1e-10)
    b, w = 0.3, np.array([0.1, -0.2, 0.4])
    error = predict(b, w, data.x_train) - data.y_train
    b_grad, w_grad = gradients(data.x_train, error)
    got_b, got_w = q.gradient(b, w)
    assert float(got_b) == pytest.approx(b_grad, rel=1e-10)
    np.testing.assert_allclose(got_w, w_grad, rtol=1e-10)
    at = np.array([1.0, 2.0, 3.0])
    w = at.copy()
    w[2] = -0.5
    assert float(q.slice_loss(0.7, -0.5, j=2, at=at)) == pytest.approx(
        direct_mse(data.x_train, data.y_train, 0.7, w), rel=1e-10
    )
    with pytest.raises(GradstepError, match="last axis"):
        q.loss(0.0, np.zeros(2))
    with pytest.raises(GradstepError, match="out of range"):
        q.slice_loss(0.0, 0.0, j=3)


def test_dict_round_trip_through_json(three):
    _, q = three
    back = QuadraticLoss.from_dict(json.loads(json.dumps(q.to_dict())))
    assert back.n == q.n and back.d == 3
    np.testing.assert_array_equal(back.gram, q.gram)
    np.testing.assert_array_equal(back.xty, q.xty)
    assert back.yty == q.yty
    assert set(q.to_dict()) == {"n", "gram", "xty", "yty"}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"gram": None}, "not a quadratic form"),
        ({"n": 0}, "n=0"),
        ({"n": True}, "n=True"),
        ({"gram": [[1.0, 0.5]]}, "gram has shape"),
        ({"xty": [1.0]}, "gram has shape"),
        ({"yty": float("nan")}, "NaN"),
    ],
)
def test_from_dict_rejects_bad_payloads(demo, change, fragment):
    _, q = demo
    payload = {**q.to_dict(), **change}
    if change.get("gram", 1) is None:
        del payload["gram"]
    with pytest.raises(GradstepError, match=fragment):
        QuadraticLoss.from_dict(payload, "run/quadratic.json")


def test_combine_chunks_equals_whole(three):
    data, q = three
    x, y = data.x_train, data.y_train
    parts = QuadraticLoss.from_data(x[:50], y[:50]).combine(QuadraticLoss.from_data(x[50:], y[50:]))
    assert parts.n == q.n
    np.testing.assert_allclose(parts.gram, q.gram, rtol=1e-13)
    np.testing.assert_allclose(parts.xty, q.xty, rtol=1e-13)
    assert parts.yty == pytest.approx(q.yty, rel=1e-13)


def test_from_moments_equals_from_data(three):
    from gradstep.moments import Moments

    data, want = three
    got = QuadraticLoss.from_moments(Moments.from_data(data.x_train, data.y_train))
    assert got.n == want.n
    np.testing.assert_allclose(got.gram, want.gram, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.xty, want.xty, rtol=1e-12, atol=1e-14)
    assert got.yty == pytest.approx(want.yty, rel=1e-12)


def test_singular_gram_still_has_a_minimum():
    rng = np.random.RandomState(0)
    x = rng.rand(30, 1)
    x2 = np.hstack([x, x])  # duplicated feature: singular gram
    y = 1 + 2 * x[:, 0] + 0.1 * rng.randn(30)
    q = QuadraticLoss.from_data(x2, y)
    b, w = q.minimum()
    assert direct_mse(x2, y, b, w) == pytest.approx(q.min_loss, abs=1e-12)
    assert float(w.sum()) == pytest.approx(least_squares(x, y)[1][0], rel=1e-8)


def test_grid_half_width_per_axis(demo):
    data, q = demo
    b_star, w_star = q.minimum()
    bs, ws, losses = q.grid(half_width=(150.0, 4.0), num=11)
    assert bs.shape == ws.shape == losses.shape == (11, 11)
    assert bs[0, 0] == pytest.approx(b_star - 150) and bs[0, -1] == pytest.approx(b_star + 150)
    assert ws[0, 0] == pytest.approx(w_star[0] - 4) and ws[-1, 0] == pytest.approx(w_star[0] + 4)
    np.testing.assert_allclose(losses, q.loss(bs, ws))
    with pytest.raises(GradstepError, match="half_width"):
        q.grid(half_width=(1.0, 2.0, 3.0))
    with pytest.raises(GradstepError, match="half_width"):
        q.grid(half_width=0.0)


def test_fit_half_width_holds_the_points(demo):
    _, q = demo
    b_star, w_star = q.minimum()
    # within 3 of the minimum (and no points): the document's +- 3 square
    assert q.fit_half_width() == (3.0, 3.0)
    assert q.fit_half_width([b_star + 2.5], [w_star[0] - 1.0]) == (3.0, 3.0)
    # far along b only: b widens to 1.15 times the furthest point, w stays 3
    hb, hw = q.fit_half_width([b_star - 150.0, b_star + 10.0, np.nan], [w_star[0], np.inf])
    assert hb == pytest.approx(1.15 * 150.0) and hw == 3.0
