import numpy as np
import pytest

from gradstep import least_squares, make_data, sklearn_least_squares


def test_lstsq_agrees_with_sklearn_and_normal_equations():
    data = make_data(n=200, true_w=[2.0, -1.0], seed=5)
    b, w = least_squares(data.x, data.y)
    sk_b, sk_w = sklearn_least_squares(data.x, data.y)
    design = np.column_stack([np.ones(200), data.x])
    normal = np.linalg.solve(design.T @ design, design.T @ data.y)
    np.testing.assert_allclose([b, *w], normal, rtol=1e-10)
    np.testing.assert_allclose([sk_b, *sk_w], normal, rtol=1e-10)


def test_document_data_close_to_truth():
    data = make_data()
    b, w = least_squares(data.x_train, data.y_train)
    assert b == pytest.approx(1.0, abs=0.05) and w[0] == pytest.approx(2.0, abs=0.05)


def test_least_squares_from_moments_matches_lstsq_on_columns_of_different_sizes():
    """The normal equations in correlation form: a column near 1e100 beside one near 1."""
    from gradstep.closed_form import least_squares_from_moments
    from gradstep.moments import Moments

    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3)) * [1e100, 1.0, 1e-50] + [0.0, 5.0, 0.0]
    y = 1.0 + x @ [3e-100, -2.0, 4e50] + rng.normal(size=500)
    b, w = least_squares_from_moments(Moments.from_data(x, y))
    scale = x.std(axis=0)
    lb, lw = least_squares(x / scale, y)
    np.testing.assert_allclose([b, *w], [lb, *(lw / scale)], rtol=1e-12)


def test_least_squares_from_moments_leaves_constant_columns_and_refuses_collinear():
    from gradstep.closed_form import least_squares_from_moments
    from gradstep.moments import Moments

    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    y = 2.0 + 3.0 * a + rng.normal(size=200)
    with_constant = Moments.from_data(np.column_stack([a, np.full(200, 7.0)]), y)
    b, w = least_squares_from_moments(with_constant, np.array([False, True]))
    lb, lw = least_squares(a[:, None], y)
    np.testing.assert_allclose([b, *w], [lb, lw[0], 0.0], rtol=1e-12, atol=0)
    # correlation 1 - 1e-10: condition number ~1e10, past what the normal equations hold
    collinear = np.column_stack([a, a + 1e-5 * rng.normal(size=200)])
    assert least_squares_from_moments(Moments.from_data(collinear, y)) is None
