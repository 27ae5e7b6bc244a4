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
