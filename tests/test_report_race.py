"""The optimizer race of a run report, from ``quadratic.json`` alone
(``gradstep.racing.race_from_quadratic``): each racer's iterates are
``gradstep.fit(optimizer=...)``'s on the training rows, to 1e-9 relative."""

import numpy as np
import pytest
from run_folder_fixture import make_run_folder

import gradstep
from gradstep.quadratic import QuadraticLoss
from gradstep.racing import moments_from_quadratic, race_from_quadratic
from gradstep.report.page import RACE_MAX_EPOCHS, race_epochs, run_report_input
from gradstep.runs.folder import read_run

from conftest import run_cli

RTOL = 1e-9
OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adam"]


def fit_theta(x, y, start, lr, epochs, tol, optimizer) -> tuple[np.ndarray, bool | int]:
    """The start and every epoch's parameters, and whether ``tol`` was certified; for a fit
    that diverges, the epochs before and the epoch it diverged at."""
    try:
        return _fit_theta(x, y, start, lr, epochs, tol, optimizer)
    except gradstep.DivergenceError as exc:
        theta, _ = _fit_theta(x, y, start, lr, exc.epoch - 1, tol, optimizer)
        return theta, int(exc.epoch)


def _fit_theta(x, y, start, lr, epochs, tol, optimizer) -> tuple[np.ndarray, bool]:
    fit = gradstep.fit(x, y, lr=lr, epochs=epochs, tol=tol, init=(start[0], start[1:]),
                       optimizer=optimizer)  # fmt: skip
    theta = np.vstack([start, np.column_stack([fit.history.b, fit.history.w])])
    return theta, bool(fit.history.converged)


# rmsprop at a constant rate never settles: near the minimum its steps stay about lr long
# (g / sqrt(mean g^2)), it bounces around and rounding decides where (gradstep's own numpy
# and stats engines part there as well), so only its approach is comparable
SETTLING = {"rmsprop": 100}


def assert_settling_agrees(got, want, epochs: int) -> None:
    assert max_relative(got[: epochs + 1], want[: epochs + 1]) < RTOL


def max_relative(got, want) -> float:
    """The largest difference of an epoch's parameters relative to their largest magnitude
    (a coordinate crossing zero would make an entrywise ratio meaningless)."""
    scale = np.maximum(np.max(np.abs(want), axis=1), 1e-300)
    return float(np.max(np.max(np.abs(got - want), axis=1) / scale))


@pytest.fixture(scope="module")
def three():
    return gradstep.make_data(n=120, true_w=[2.0, -1.0, 0.5], seed=7)


def test_moments_from_quadratic_round_trip(three):
    from gradstep.moments import Moments

    q = QuadraticLoss.from_data(three.x_train, three.y_train)
    got, want = moments_from_quadratic(q), Moments.from_data(three.x_train, three.y_train)
    for name in ("mean_x", "mean_y", "sxx", "sxy", "syy"):
        assert np.allclose(getattr(got, name), getattr(want, name), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("lr", [0.05, 0.2])
def test_each_racer_is_its_fit(three, lr):
    q = QuadraticLoss.from_data(three.x_train, three.y_train)
    start = np.r_[0.3, 0.5, -0.2, 0.1]
    race = race_from_quadratic(q, start, OPTIMIZERS, lr, epochs=1500, tol=1e-8)
    for racer, name in zip(race.racers, OPTIMIZERS, strict=True):
        want, converged = fit_theta(three.x_train, three.y_train, start, lr, 1500, 1e-8, name)
        assert racer.optimizer == gradstep.fit(three.x_train, three.y_train, lr=lr, epochs=1,
                                               optimizer=name).extra["optimizer"]  # fmt: skip
        if name in SETTLING:
            assert_settling_agrees(racer.theta, want, SETTLING[name])
            continue
        assert racer.theta.shape == want.shape, racer.label
        assert max_relative(racer.theta, want) < RTOL, racer.label
        assert racer.reason == ("tol" if converged else "epochs")


def test_divergence_at_the_epoch_fit_raises(three):
    q = QuadraticLoss.from_data(three.x_train, three.y_train)
    start = np.r_[0.3, 0.5, -0.2, 0.1]
    racer = race_from_quadratic(q, start, ["sgd"], 3.0, epochs=400, tol=None).racers[0]
    with pytest.raises(gradstep.DivergenceError) as info:
        gradstep.fit(three.x_train, three.y_train, lr=3.0, epochs=400,
                     init=(start[0], start[1:]))  # fmt: skip
    assert racer.reason == "diverged" and racer.diverged_at == info.value.epoch
    assert racer.epochs_run == info.value.epoch - 1
    want, _ = fit_theta(three.x_train, three.y_train, start, 3.0, racer.epochs_run, None, "sgd")
    assert max_relative(racer.theta[:50], want[:50]) < RTOL


def test_bad_start_is_one_line():
    q = QuadraticLoss.from_data(np.arange(5.0), np.arange(5.0))
    with pytest.raises(gradstep.GradstepError, match="start has 3 value"):
        race_from_quadratic(q, [0.0, 1.0, 2.0])


def test_the_epochs_are_capped():
    assert race_epochs(100_000, 2) == RACE_MAX_EPOCHS
    assert race_epochs(300, 11) == 300
    assert 50 <= race_epochs(100_000, 501) < RACE_MAX_EPOCHS


def test_fixture_run_report_races(tmp_path):
    folder, _ = make_run_folder(tmp_path / "run", true_w=(2.0, -1.0, 0.5), epochs=20)
    inp = run_report_input(read_run(folder))
    assert [r.label for r in inp.race.racers] == [f"{n}, lr 0.2" for n in OPTIMIZERS]
    assert "quadratic.json" in inp.race_note and "mini-batches of" not in inp.race_note
    assert inp.paths is not None and "steps.csv" in inp.paths_note


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    from sklearn.datasets import load_diabetes

    base = tmp_path_factory.mktemp("diabetes")
    bunch = load_diabetes(scaled=False)
    table = base / "diabetes.csv"
    rows = np.column_stack([bunch.data, bunch.target])
    np.savetxt(table, rows, delimiter=",", header=",".join([*bunch.feature_names, "target"]),
               comments="", fmt="%.10g")  # fmt: skip
    proc = run_cli("train", table, "--target", "target", "--out", base / "run", "--no-report")
    assert proc.returncode == 0, proc.stderr
    return base / "run"


def training_rows(run):
    """The standardised training rows the run descended on (as report.rows re-reads them)."""
    from gradstep.runs.train import prepare
    from gradstep.table import read_table, select

    options = run.config["options"]
    table = read_table(options["data"], None)
    selection = select(table, None, options["target"], False)
    problem = prepare(selection, 0.2, 42, options["scale"], table.source)
    return problem.z_train, problem.y_train


def test_diabetes_race_equals_fit_on_the_training_rows(diabetes_run):
    run = read_run(diabetes_run)
    inp = run_report_input(run)
    race = inp.race
    x, y = training_rows(run)
    assert race.epochs == RACE_MAX_EPOCHS and "capped at 2000" in inp.race_note
    assert inp.scaler is not None and "scale" in inp.scaler
    start = np.r_[run.start[0], run.start[1]]
    for racer, name in zip(race.racers, OPTIMIZERS, strict=True):
        want, converged = fit_theta(x, y, start, racer.lr, race.epochs, race.tol, name)
        if name in SETTLING:
            assert_settling_agrees(racer.theta, want, SETTLING[name])
            continue
        assert racer.theta.shape == want.shape, racer.label
        assert max_relative(racer.theta, want) < RTOL, racer.label
        if racer.reason == "diverged":
            assert racer.diverged_at == converged  # the epoch fit raised at
        else:
            assert racer.reason == ("tol" if converged is True else "epochs")
    assert "No steps.csv" not in inp.paths_note and "no steps.csv" in inp.paths_note
