"""The NumPy engine: the document's printed values and independent oracles."""

import math

import numpy as np
import pytest

import gradstep
from gradstep import GradstepError, least_squares, make_data, steps
from gradstep.api import initial_params

DATA = make_data()
X_TRAIN, Y_TRAIN = DATA.x_train, DATA.y_train


def first_step():
    b, w = initial_params("random", d=1, seed=42)
    y_hat = steps.predict(b, w, X_TRAIN)
    error = y_hat - Y_TRAIN
    return b, w, y_hat, error


def test_initial_values_print_as_in_document(global_rng_guard):
    b, w = initial_params("random", d=1, seed=42)
    assert f"{np.array([b])} {w}" == "[0.49671415] [-0.1382643]"


def test_gradients_equal_document_printed_values():
    _, _, _, error = first_step()
    b_grad, w_grad = steps.gradients(X_TRAIN, error)
    assert repr(b_grad) == "-3.044811379650508"
    assert repr(float(w_grad[0])) == "-1.8337537171510832"


def test_first_update_prints_as_in_document():
    b, w, _, error = first_step()
    b_grad, w_grad = steps.gradients(X_TRAIN, error)
    b_new, w_new = steps.update(b, w, b_grad, w_grad, lr=0.1)
    assert f"{np.array([b_new])} {w_new}" == "[0.80119529] [0.04511107]"


def test_first_loss_follows_the_code_not_the_document_print():
    """The blog repost of the chapter prints 2.720278897826747, which its code does not give;
    the book and its notebook print 2.7421577700550976, the value the code gives.

    Oracle: an exactly-rounded sum (math.fsum) of squared errors computed one
    point at a time with Python floats.
    """
    b, w, y_hat, _ = first_step()
    loss = steps.mse_loss(y_hat, Y_TRAIN)
    errors = [
        b + float(w[0]) * float(x) - float(y) for x, y in zip(X_TRAIN[:, 0], Y_TRAIN, strict=True)
    ]
    oracle = math.fsum(e * e for e in errors) / len(errors)
    assert loss == pytest.approx(oracle, rel=1e-14)
    assert loss == pytest.approx(2.7421577700550976, rel=1e-15)
    assert abs(loss - 2.720278897826747) > 0.02


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = rng.normal(size=30)
    b, w = 0.3, np.array([0.1, -0.2, 0.5])
    b_grad, w_grad = steps.gradients(x, steps.predict(b, w, x) - y)
    h = 1e-6

    def loss(b_, w_):
        return steps.mse_loss(steps.predict(b_, w_, x), y)

    assert b_grad == pytest.approx((loss(b + h, w) - loss(b - h, w)) / (2 * h), rel=1e-7)
    for j in range(3):
        step = np.eye(3)[j] * h
        fd = (loss(b, w + step) - loss(b, w - step)) / (2 * h)
        assert w_grad[j] == pytest.approx(fd, rel=1e-7)


def test_batch_descent_reaches_closed_form():
    cf_b, cf_w = least_squares(X_TRAIN, Y_TRAIN)
    result = gradstep.fit(X_TRAIN, Y_TRAIN, lr=0.1, epochs=1000)
    # After the document's 1000 epochs the descent is within 1e-6 of least squares...
    assert abs(result.intercept - cf_b) < 1e-6
    assert abs(result.coef[0] - cf_w[0]) < 1e-6
    # ...and keeps closing in: 5000 epochs reach the closed form to ~1e-13.
    longer = gradstep.fit(X_TRAIN, Y_TRAIN, lr=0.1, epochs=5000)
    np.testing.assert_allclose(
        [longer.intercept, longer.coef[0]], [cf_b, cf_w[0]], rtol=0, atol=1e-12
    )


def test_batch_history_is_the_document_loop():
    """Oracle: the document's loop written out literally (arrays of shape (80, 1))."""
    b, w = np.array([0.4967141530112327]), np.array([-0.13826430117118466])
    x_train, y_train = X_TRAIN, Y_TRAIN[:, None]
    losses = []
    for _ in range(50):
        error = (b + w * x_train) - y_train
        losses.append((error**2).mean())
        b_grad, w_grad = 2 * error.mean(), 2 * (x_train * error).mean()
        b, w = b - 0.1 * b_grad, w - 0.1 * w_grad
    result = gradstep.fit(X_TRAIN, Y_TRAIN, lr=0.1, epochs=50)
    np.testing.assert_allclose(result.history.train_loss, losses, rtol=1e-13)
    np.testing.assert_allclose([result.intercept, result.coef[0]], [b[0], w[0]], rtol=1e-13)


@pytest.mark.parametrize(
    "batch_size, lr, epochs, tol", [(16, 0.1, 300, 2e-3), (1, 0.01, 200, 2e-2)]
)
def test_minibatch_and_stochastic_converge(batch_size, lr, epochs, tol):
    cf_b, cf_w = least_squares(X_TRAIN, Y_TRAIN)
    result = gradstep.fit(X_TRAIN, Y_TRAIN, lr=lr, epochs=epochs, batch_size=batch_size)
    assert abs(result.intercept - cf_b) < tol
    assert abs(result.coef[0] - cf_w[0]) < tol
    assert result.history.train_loss[-1] < result.history.train_loss[0] / 50


def test_minibatch_uses_seeded_reshuffles():
    a = gradstep.fit(X_TRAIN, Y_TRAIN, epochs=5, batch_size=16, seed=3, record_steps=True)
    b = gradstep.fit(X_TRAIN, Y_TRAIN, epochs=5, batch_size=16, seed=3, record_steps=True)
    c = gradstep.fit(X_TRAIN, Y_TRAIN, epochs=5, batch_size=16, seed=4, init=(a.init_b, a.init_w))
    assert np.array_equal(a.history.step_w, b.history.step_w)
    assert a.history.step_b.shape == (5 * 5 + 1,)
    assert a.history.step_w.shape == (26, 1)
    assert a.intercept != c.intercept


def test_d_feature_fit_matches_least_squares():
    data = make_data(n=400, true_b=0.5, true_w=[1.0, -2.0, 3.0, 0.25], seed=1)
    cf_b, cf_w = least_squares(data.x_train, data.y_train)
    result = gradstep.fit(data.x_train, data.y_train, lr=0.3, epochs=4000)
    np.testing.assert_allclose(result.coef, cf_w, rtol=1e-8)
    assert result.intercept == pytest.approx(cf_b, rel=1e-8)


def test_validation_loss_and_explicit_init():
    result = gradstep.fit(
        X_TRAIN, Y_TRAIN, epochs=3, init={"b": 0.0, "w": [0.0]}, x_val=DATA.x_val, y_val=DATA.y_val
    )
    assert result.init_b == 0.0
    expected = np.mean((result.intercept + DATA.x_val[:, 0] * result.coef[0] - DATA.y_val) ** 2)
    assert result.history.val_loss[-1] == pytest.approx(expected, rel=1e-14)
    assert [row["epoch"] for row in result.history.rows()] == [1, 2, 3]
    np.testing.assert_allclose(
        result.predict(DATA.x_val), result.intercept + DATA.x_val @ result.coef
    )


def test_divergence_raises_at_first_non_finite_value():
    with pytest.raises(gradstep.DivergenceError, match=r"epoch \d+, step 1.*smaller learning rate"):
        gradstep.fit(X_TRAIN * 1e3, Y_TRAIN, lr=10.0, epochs=1000)


X1, Y1 = np.arange(5.0), np.arange(5.0)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"lr": 0}, "lr=0"),
        ({"lr": -0.1}, "positive"),
        ({"lr": float("nan")}, "finite"),
        ({"lr": float("inf")}, "finite"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.5}, "whole number"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 6}, "from 1 to the 5"),
        ({"engine": "fortran"}, "engine='fortran'"),
        ({"init": "ones"}, "init='ones'"),
        ({"init": (0.0, [1.0, 2.0])}, "one per feature"),
        ({"x_val": X1}, "both x_val and y_val"),
        ({"x_val": np.ones((3, 2)), "y_val": np.ones(3)}, "same columns"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(GradstepError, match=None) as info:
        gradstep.fit(X1, Y1, **kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "x, y, fragment",
    [
        ([1.0], [1.0], "at least 2"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "3 rows but y has 2"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], "NaN at row 1"),
        ([1.0, 2.0, 3.0], [1.0, np.inf, 3.0], "inf at row 1"),
        (np.ones((3, 2, 2)), np.ones(3), "shape (3, 2, 2)"),
        (np.ones((3, 1)), np.ones((3, 2)), "one target per row"),
        (["a", "b"], [1.0, 2.0], "numeric"),
    ],
)
def test_bad_data(x, y, fragment):
    with pytest.raises(GradstepError) as info:
        gradstep.fit(x, y)
    assert fragment in str(info.value)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_continuing_from_start_epoch_is_exact(batch_size):
    whole = gradstep.fit(X_TRAIN, Y_TRAIN, epochs=20, batch_size=batch_size, seed=7)
    first = gradstep.fit(X_TRAIN, Y_TRAIN, epochs=10, batch_size=batch_size, seed=7)
    rest = gradstep.fit(
        X_TRAIN, Y_TRAIN, epochs=10, batch_size=batch_size, seed=7,
        init=(first.intercept, first.coef), start_epoch=10,
    )  # fmt: skip
    assert rest.intercept == whole.intercept
    assert np.array_equal(rest.coef, whole.coef)
    assert rest.history.rows()[0]["epoch"] == 11
    assert np.array_equal(rest.history.train_loss, whole.history.train_loss[10:])


def test_tolerance_stops_early_and_reports_convergence():
    cf_b, cf_w = least_squares(X_TRAIN, Y_TRAIN)
    result = gradstep.fit(X_TRAIN, Y_TRAIN, lr=0.1, epochs=100_000, tol=1e-12)
    assert result.history.converged is True
    assert 1000 < result.history.epochs < 100_000
    np.testing.assert_allclose([result.intercept, *result.coef], [cf_b, *cf_w], rtol=1e-9)
    capped = gradstep.fit(X_TRAIN, Y_TRAIN, lr=0.1, epochs=50, tol=1e-12)
    assert capped.history.converged is False and capped.history.epochs == 50
    assert gradstep.fit(X_TRAIN, Y_TRAIN, epochs=5).history.converged is None


@pytest.mark.parametrize(
    "kwargs, fragment", [({"tol": 0}, "tol=0"), ({"seed": -1}, "seed=-1"), ({"seed": 1.5}, "seed")]
)
def test_bad_tol_and_seed(kwargs, fragment):
    with pytest.raises(GradstepError) as info:
        gradstep.fit(X1, Y1, **kwargs)
    assert fragment in str(info.value)
