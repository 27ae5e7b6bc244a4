"""GDRegressor: scikit-learn's own checks, the least-squares oracle, Pipeline and search."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import gradstep
from gradstep import GradstepError, least_squares
from gradstep.estimator import GDRegressor

from conftest import ROOT


@parametrize_with_checks(
    [
        GDRegressor(),
        GDRegressor(batch_size=4, early_stopping=True, validation_fraction=0.2),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def diabetes():
    return load_diabetes(return_X_y=True)


def unscaled_regression():
    x, y = make_regression(200, 8, noise=5.0, random_state=0)
    scales = np.array([1, 10, 100, 1000, 1e-3, 0.1, 5, 50])
    return x * scales + [0, 100, -5, 1e4, 1, 3, 0, 7], y


def correlated_features():
    rng = np.random.RandomState(0)
    x = rng.randn(300, 1) + 0.1 * rng.randn(300, 5)  # pairwise correlation 0.99
    return x, x @ [1.0, -2.0, 3.0, 0.5, 1.0] + rng.randn(300)


def relative_error(model, x, y):
    b, w = least_squares(x, y)
    reference = np.r_[b, w]
    return np.linalg.norm(np.r_[model.intercept_, model.coef_] - reference) / np.linalg.norm(
        reference
    )


@pytest.mark.parametrize("make", [diabetes, unscaled_regression, correlated_features])
def test_defaults_land_on_least_squares(make, global_rng_guard):
    x, y = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDRegressor().fit(x, y)
    # asked for: about 1e-4; the defaults (tol=1e-6, certified) give < 1e-6
    assert relative_error(model, x, y) < 1e-5
    assert model.converged_ and model.stop_reason_ == "tol"
    assert 1 <= model.n_iter_ < 20_000
    reference = LinearRegression().fit(x, y)
    np.testing.assert_allclose(model.predict(x), reference.predict(x), atol=1e-6 * np.std(y))
    assert model.score(x, y) == pytest.approx(reference.score(x, y), abs=1e-9)


def test_nearly_collinear_columns_warn_but_predict_like_least_squares():
    rng = np.random.RandomState(0)
    x = rng.randn(100, 3)
    x[:, 2] = x[:, 0] + 1e-7 * rng.randn(100)  # condition number ~4e14
    y = x @ [1.0, 2.0, 3.0] + 0.1 * rng.randn(100)
    with pytest.warns(ConvergenceWarning, match="condition number"):
        model = GDRegressor(max_iter=2000).fit(x, y)
    assert model.score(x, y) == pytest.approx(LinearRegression().fit(x, y).score(x, y), abs=1e-9)


def test_history_is_in_original_units():
    x, y = unscaled_regression()
    model = GDRegressor().fit(x, y)
    history = model.history_
    assert history.epochs == model.n_iter_ and history.converged is True
    assert history.b[-1] == pytest.approx(model.intercept_, rel=1e-12)
    np.testing.assert_allclose(history.w[-1], model.coef_, rtol=1e-12)
    # full batch: the loss of the last epoch is the MSE at the parameters before it
    before = history.b[-2] + x @ history.w[-2]
    assert history.train_loss[-1] == pytest.approx(np.mean((before - y) ** 2), rel=1e-8)
    assert np.all(np.diff(history.train_loss) <= 1e-9 * history.train_loss[0])


def test_not_converging_warns_and_says_so():
    x, y = diabetes()
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=50"):
        model = GDRegressor(max_iter=50).fit(x, y)
    assert (model.converged_, model.stop_reason_, model.n_iter_) == (False, "max_iter", 50)
    assert model.history_.converged is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = GDRegressor(max_iter=50, tol=None).fit(x, y)  # fixed epochs: no warning
    assert fixed.n_iter_ == 50 and fixed.history_.converged is None
    np.testing.assert_array_equal(fixed.coef_, model.coef_)


def test_pipeline_with_standard_scaler_matches_linear_regression():
    x, y = unscaled_regression()
    for model in (GDRegressor(), GDRegressor(standardize=False)):
        pipe = make_pipeline(StandardScaler(), model).fit(x, y)
        reference = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
        np.testing.assert_allclose(pipe.predict(x), reference.predict(x), atol=1e-6 * np.std(y))
    assert pipe[-1].scaler_ is None


def test_grid_search_cv():
    x, y = diabetes()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GDRegressor()),
        {"gdregressor__batch_size": [None, 64], "gdregressor__early_stopping": [False, True]},
        cv=3,
    ).fit(x, y)
    assert set(search.cv_results_["params"][0]) == {
        "gdregressor__batch_size",
        "gdregressor__early_stopping",
    }
    assert len(search.cv_results_["mean_test_score"]) == 4
    reference = cross_val_score(LinearRegression(), x, y, cv=3).mean()
    assert search.best_score_ == pytest.approx(reference, abs=0.01)
    best = search.best_estimator_
    assert best[-1].converged_
    assert search.score(x, y) == pytest.approx(best.score(x, y))


def test_warm_start_continues_the_descent_exactly():
    x, y = diabetes()
    for batch_size in (None, 32):
        once = GDRegressor(max_iter=100, tol=None, batch_size=batch_size).fit(x, y)
        twice = GDRegressor(max_iter=60, tol=None, batch_size=batch_size, warm_start=True)
        twice.fit(x, y).set_params(max_iter=40).fit(x, y)
        np.testing.assert_array_equal(twice.coef_, once.coef_)
        assert twice.intercept_ == once.intercept_
        assert twice.n_iter_ == 40 and twice.history_.epochs == 100
        np.testing.assert_array_equal(twice.history_.w, once.history_.w)


def test_warm_start_on_new_data_starts_from_the_previous_answer():
    x, y = diabetes()
    model = GDRegressor(warm_start=True).fit(x[:300], y[:300])
    cold_epochs = GDRegressor().fit(x, y).n_iter_
    model.fit(x, y)
    assert relative_error(model, x, y) < 1e-6
    assert model.n_iter_ < cold_epochs
    with pytest.raises(GradstepError, match="warm_start: X has 3 feature"):
        model.fit(x[:, :3], y)


def test_partial_fit_is_one_epoch_of_the_same_descent():
    x, y = diabetes()
    for batch_size in (None, 50):
        fitted = GDRegressor(max_iter=30, tol=None, batch_size=batch_size).fit(x, y)
        stepped = GDRegressor(batch_size=batch_size)
        for _ in range(30):
            stepped.partial_fit(x, y)
        np.testing.assert_array_equal(stepped.coef_, fitted.coef_)
        assert stepped.intercept_ == fitted.intercept_
        assert stepped.n_iter_ == 1 and stepped.history_.epochs == 30
        assert stepped.history_.first_epoch == 1


def test_partial_fit_keeps_the_first_scaling_and_checks_features():
    x, y = unscaled_regression()
    model = GDRegressor().partial_fit(x[:100], y[:100])
    scale = model.scaler_.x_scale.copy()
    lr = model.lr_
    for _ in range(200):
        model.partial_fit(x[100:], y[100:])
    np.testing.assert_array_equal(model.scaler_.x_scale, scale)
    assert model.lr_ <= lr
    assert model.score(x, y) > 0.99
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(x[:, :3], y)


def test_constant_column_gets_coefficient_zero():
    x, y = unscaled_regression()
    x = np.column_stack([x[:, :2], np.full(len(x), 7.5), x[:, 2:]])
    model = GDRegressor().fit(x, y)
    assert model.coef_[2] == 0.0 and model.scaler_.x_scale[2] == 1.0
    reference = LinearRegression().fit(x, y).predict(x)
    np.testing.assert_allclose(model.predict(x), reference, atol=1e-6 * np.std(y))
    only_constant = GDRegressor().fit(np.ones((5, 2)), [1.0, 2, 3, 4, 5])
    np.testing.assert_allclose(only_constant.predict(np.zeros((2, 2))), 3.0)
    np.testing.assert_array_equal(only_constant.coef_, 0.0)


def test_constant_target():
    x, _ = unscaled_regression()
    model = GDRegressor().fit(x, np.full(len(x), -4.0))
    np.testing.assert_allclose(model.predict(x[:5]), -4.0)


def test_early_stopping_uses_a_validation_split():
    x, y = diabetes()
    model = GDRegressor(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3)
    model.fit(x, y)
    assert model.stop_reason_ == "val_loss" and model.converged_
    val_loss = model.history_.val_loss
    assert val_loss is not None and len(val_loss) == model.n_iter_
    best_before = val_loss[:-3].min()  # the last 3 epochs improved on it by < tol
    assert np.all(val_loss[-3:] >= best_before * (1 - model.tol))
    assert np.any(val_loss[-4:-3] < val_loss[:-4].min() * (1 - model.tol))
    with pytest.raises(GradstepError, match="validation_fraction"):
        GDRegressor(early_stopping=True, validation_fraction=0.5).fit(x[:3], y[:3])


def test_mini_batches_stop_at_the_noise_level():
    x, y = unscaled_regression()
    model = GDRegressor(batch_size=16).fit(x, y)
    assert model.stop_reason_ == "train_loss" and model.converged_
    assert model.score(x, y) == pytest.approx(LinearRegression().fit(x, y).score(x, y), abs=1e-3)


def test_random_state_options_are_reproducible_or_fresh(global_rng_guard):
    x, y = unscaled_regression()
    first = GDRegressor(batch_size=16, random_state=3).fit(x, y)
    again = GDRegressor(batch_size=16, random_state=3).fit(x, y)
    np.testing.assert_array_equal(first.coef_, again.coef_)
    GDRegressor(batch_size=16, random_state=None, max_iter=3, tol=None).fit(x, y)
    GDRegressor(batch_size=16, random_state=np.random.RandomState(1), max_iter=3, tol=None).fit(
        x, y
    )


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"lr": 0}, "lr=0"),
        ({"lr": "fast"}, "lr='fast'"),
        ({"max_iter": 0}, "max_iter=0"),
        ({"tol": -1.0}, "tol=-1.0"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"validation_fraction": 1.0}, "validation_fraction=1.0"),
        ({"n_iter_no_change": 0}, "n_iter_no_change=0"),
        ({"random_state": -1}, "random_state=-1"),
        ({"engine": "fortran"}, "engine='fortran'"),
    ],
)
def test_bad_hyperparameters_are_named(params, fragment):
    x, y = unscaled_regression()
    with pytest.raises(GradstepError) as info:
        GDRegressor(**params).fit(x, y)
    assert fragment in str(info.value)


def test_too_large_learning_rate_reports_divergence():
    x, y = diabetes()
    with pytest.raises(gradstep.DivergenceError, match="smaller learning rate"):
        GDRegressor(lr=5.0).fit(x, y)


def test_feature_names_from_an_arrow_table():
    pa = pytest.importorskip("pyarrow")
    x, y = unscaled_regression()
    names = [f"col_{j}" for j in range(x.shape[1])]
    table = pa.table(dict(zip(names, x.T, strict=True)))
    model = GDRegressor().fit(table, y)
    assert list(model.feature_names_in_) == names
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_allclose(model.predict(table), model.predict(x))


def test_torch_engine_agrees_with_numpy():
    pytest.importorskip("torch")
    x, y = unscaled_regression()
    numpy_model = GDRegressor().fit(x, y)
    torch_model = GDRegressor(engine="torch-autograd", device="cpu").fit(x, y)
    assert torch_model.n_iter_ == numpy_model.n_iter_
    np.testing.assert_allclose(torch_model.coef_, numpy_model.coef_, rtol=1e-10)


def test_importing_gradstep_does_not_import_sklearn():
    code = (
        "import sys, gradstep\n"
        "before = 'sklearn' in sys.modules\n"
        "model = gradstep.GDRegressor()\n"
        "print(before, 'sklearn' in sys.modules, type(model).__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "True", "gradstep.estimator"], proc.stderr


def test_readme_example_prints_what_the_readme_says():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## GDRegressor: gradient descent in scikit-learn", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = section.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == printed


def test_sample_weight_is_refused_in_one_line():
    from sklearn.utils.validation import has_fit_parameter

    X, y = load_diabetes(return_X_y=True)
    weights = np.ones(len(y))
    for call in (
        lambda: GDRegressor().fit(X, y, sample_weight=weights),
        lambda: GDRegressor().partial_fit(X, y, sample_weight=weights),
        lambda: cross_val_score(
            GDRegressor(), X, y, cv=2, params={"sample_weight": weights}, error_score="raise"
        ),  # fmt: skip
    ):
        with pytest.raises(GradstepError, match="does not support sample_weight") as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(GradstepError, match="takes only X and y; drop coef_init"):
        GDRegressor().fit(X, y, coef_init=np.zeros(10))
    # meta-estimators see that it takes no weights, as for scikit-learn's own such estimators
    assert not has_fit_parameter(GDRegressor(), "sample_weight")


def test_user_workflow_on_unscaled_tables(global_rng_guard):
    """clone, pickle, cross_val_score and set_output, as a user of LinearRegression would."""
    import pickle

    from sklearn.base import clone

    X, y = load_diabetes(return_X_y=True, scaled=False)
    fitted = GDRegressor().fit(X, y)
    copy = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(copy.predict(X), fitted.predict(X))
    assert clone(fitted).get_params() == fitted.get_params()
    assert not hasattr(clone(fitted), "coef_")
    ours = cross_val_score(GDRegressor(), X, y, cv=3)
    theirs = cross_val_score(LinearRegression(), X, y, cv=3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    pipe = make_pipeline(StandardScaler(), GDRegressor()).set_output(transform="default")
    assert pipe.fit(X, y).score(X, y) == pytest.approx(LinearRegression().fit(X, y).score(X, y))
    with pytest.raises(ValueError, match="Expected 2D array"):
        GDRegressor().fit(X[:, 0], y)
