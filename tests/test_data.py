"""The synthetic data against the document's own code, run literally."""

import numpy as np
import pytest

from gradstep import GradstepError, make_data


def document_data():
    """The document's section 3 verbatim, with the global state restored afterwards."""
    saved = np.random.get_state()
    try:
        true_b, true_w, N = 1, 2, 100
        np.random.seed(42)
        x = np.random.rand(N, 1)
        epsilon = 0.1 * np.random.randn(N, 1)
        y = true_b + true_w * x + epsilon
        idx = np.arange(N)
        np.random.shuffle(idx)
        train_idx = idx[: int(N * 0.8)]
        val_idx = idx[int(N * 0.8) :]
        return x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    finally:
        np.random.set_state(saved)


def test_same_numbers_as_document(global_rng_guard):
    x_train, y_train, x_val, y_val = document_data()
    data = make_data()
    assert np.array_equal(data.x_train, x_train)
    assert np.array_equal(data.y_train, y_train[:, 0])
    assert np.array_equal(data.x_val, x_val)
    assert np.array_equal(data.y_val, y_val[:, 0])


def test_parameters_and_d_features(global_rng_guard):
    data = make_data(n=50, true_b=-1, true_w=[1.0, 2.0, 3.0], noise=0.0, seed=7, train_fraction=0.6)
    assert data.x.shape == (50, 3) and data.y.shape == (50,)
    assert len(data.train_idx) == 30 and len(data.val_idx) == 20
    assert sorted(np.concatenate([data.train_idx, data.val_idx])) == list(range(50))
    np.testing.assert_allclose(data.y, -1 + data.x @ [1.0, 2.0, 3.0], rtol=0, atol=1e-14)
    assert not np.array_equal(make_data(seed=1).x, make_data(seed=2).x)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n": 1}, "at least 2"),
        ({"train_fraction": 1.0}, "between 0 and 1"),
        ({"n": 3, "train_fraction": 0.1}, "empty"),
        ({"true_w": [[1, 2]]}, "true_w"),
    ],
)
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(GradstepError, match=fragment):
        make_data(**kwargs)
