"""The run report's optimizer race and the slope, scaling and path lessons in Chromium.

The race drawn in a run report is checked against ``gradstep.fit(optimizer=...)`` on the
training rows; the slope slider moves the secant to the forward difference it says; the
scaling toggle swaps the contours; each section fits a 1366 x 768 screen. Screenshots go
to pytest's tmp_path, or to docs/images/ with GRADSTEP_UPDATE_DOCS=1.
"""

import os

import numpy as np
import pytest
from run_folder_fixture import make_run_folder
from test_report_browser import DOCS_IMAGES
from test_report_live import LAPTOP, diabetes_run, open_report  # noqa: F401 (fixture)

import gradstep
from gradstep.report import run_report_input, write_demo_report, write_run_report
from gradstep.runs.folder import read_run
from gradstep.tutorial.walkthrough import run_walkthrough

pytestmark = pytest.mark.browser

RTOL = 1e-9
SECTIONS = ("slopes", "scaling", "paths", "optimizers")


def shots_dir(tmp_path):
    return DOCS_IMAGES if os.environ.get("GRADSTEP_UPDATE_DOCS") == "1" else tmp_path


@pytest.fixture(scope="module")
def three_run(tmp_path_factory):
    folder, _ = make_run_folder(tmp_path_factory.mktemp("run3") / "run",
                                true_w=(2.0, -1.0, 0.5), epochs=40)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def run_page(browser, three_run):  # noqa: F811
    page = open_report(browser, write_run_report(read_run(three_run)))
    yield page
    assert page.errors == [] and page.outside == []
    page.close()


def trace(page, plot_id, name):
    return page.evaluate(
        """([id, name]) => { const t = document.getElementById(id)._fullData
                               .find(t => t.name === name);
                             return t ? [Array.from(t.x), Array.from(t.y)] : null; }""",
        [plot_id, name],
    )


def test_race_in_a_run_report_is_gradstep_fit(run_page, three_run):
    run = read_run(three_run)
    data = gradstep.make_data(n=120, true_w=[2.0, -1.0, 0.5], seed=7)  # the fixture's rows
    b0, w0 = run.start
    p, r = run_report_input(run).race.most_moved()  # the slice the race is drawn on
    assert run_page.evaluate("() => !!document.getElementById('plot-race-losses')._fullLayout")
    names = run_page.evaluate(
        "() => document.getElementById('plot-race-paths').data.map(t => t.name)"
    )
    checked = 0
    for name in ("sgd", "momentum", "nesterov", "adam"):
        label = next(n for n in names if n.startswith(f"{name}, lr 0.2:"))
        fit = gradstep.fit(data.x_train, data.y_train, lr=0.2, epochs=2000, tol=1e-8,
                           init=(b0, w0), optimizer=name)  # fmt: skip
        want = np.vstack([np.r_[b0, w0], np.column_stack([fit.history.b, fit.history.w])])
        x, y = trace(run_page, "plot-race-paths", label)
        got = np.column_stack([x, y])
        assert got.shape[0] == want.shape[0], label
        expected = want[:, [p, r]]
        assert np.max(np.abs(got - expected)) <= RTOL * np.max(np.abs(expected)), label
        assert ("certified" in label) == bool(fit.history.converged)
        checked += 1
    assert checked == 4
    note = run_page.inner_text("#optimizers")
    assert "quadratic.json" in note and "rmsprop, lr 0.2" in note


def secant_slope(page, plot_id):
    x, y = trace(page, plot_id, "secant")
    return (y[1] - y[0]) / (x[1] - x[0])


def test_slope_slider_moves_the_secant(run_page):
    before = [secant_slope(run_page, "plot-slope-0"), secant_slope(run_page, "plot-slope-1")]
    state = run_page.evaluate("() => window.gradstepSlopes.state()")
    for got, panel in zip(before, state, strict=True):
        assert got == pytest.approx(panel["grad"] + panel["curv"] * panel["delta"], rel=1e-9)
        assert abs(got - panel["grad"]) > 1e-3 * abs(panel["grad"])  # a visible step
    run_page.locator("#slope-delta").fill("700")  # a step about 1e-3 of the first
    run_page.wait_for_function(
        f"() => window.gradstepSlopes.state()[0].delta < {state[0]['delta'] / 100}"
    )
    after = [secant_slope(run_page, "plot-slope-0"), secant_slope(run_page, "plot-slope-1")]
    small = run_page.evaluate("() => window.gradstepSlopes.state()")
    for got, old, panel in zip(after, before, small, strict=True):
        assert got != old
        assert abs(got - panel["grad"]) < abs(old - panel["grad"]) / 100  # nearer the tangent
    points = trace(run_page, "plot-slope-0", "secant points")
    assert points[0][1] - points[0][0] == pytest.approx(small[0]["delta"], rel=1e-6)
    assert "forward difference" in run_page.inner_text("#slope-readout")


def contour_signature(page):
    return page.evaluate(
        """() => { const t = document.getElementById('plot-scaling')._fullData[0];
                   const n = t.x.length - 1;
                   return [t.x[0], t.x[n], t.y[0], t.y[t.y.length - 1], t.z[3][5]]; }"""
    )


def test_scaling_toggle_changes_the_contours(run_page):
    assert run_page.evaluate("() => window.gradstepScaling.state()") == "original"
    before = contour_signature(run_page)
    text = run_page.inner_text("#scaling-readout")
    run_page.locator("input[name=scaling-view][value=standardised]").check()
    run_page.wait_for_function("() => window.gradstepScaling.state() === 'standardised'")
    run_page.wait_for_function(
        "() => document.getElementById('scaling-readout').textContent.startsWith('standard')"
    )
    after = contour_signature(run_page)
    assert after != before
    assert run_page.inner_text("#scaling-readout") != text
    title = run_page.evaluate("() => document.getElementById('plot-scaling').layout.title.text")
    assert "standardised" in title
    run_page.locator("input[name=scaling-view][value=original]").check()
    run_page.wait_for_function("() => window.gradstepScaling.state() === 'original'")


def test_paths_section_draws_steps_csv(run_page, three_run):
    run = read_run(three_run)
    x, y = trace(run_page, "plot-paths", "recorded updates (steps.csv)")
    assert len(x) == len(run.steps.index)
    p, r = run_report_input(run).shown
    steps = np.column_stack([run.steps.b, run.steps.w])
    assert x == steps[:, p].tolist() and y == steps[:, r].tolist()


def section_fits(page, anchor) -> tuple[float, float]:
    page.evaluate(f"() => window.scrollTo(0, document.getElementById('{anchor}').offsetTop)")
    page.wait_for_timeout(150)
    box = page.locator(f"#{anchor}").bounding_box()
    return box["width"], box["height"]


def check_sections(page, tmp_path, prefix):
    for anchor in SECTIONS:
        width, height = section_fits(page, anchor)
        assert width <= LAPTOP["width"] and height <= LAPTOP["height"], (anchor, height)
        page.locator(f"#{anchor}").screenshot(path=str(tmp_path / f"{prefix}-{anchor}.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= LAPTOP["width"]


def test_run_sections_fit_a_laptop(run_page, tmp_path):
    check_sections(run_page, tmp_path, "run")


def test_demo_sections_fit_a_laptop(browser, tmp_path):  # noqa: F811
    out = tmp_path / "demo"
    out.mkdir()
    walk = run_walkthrough()
    race = gradstep.race(walk.data.x_train, walk.data.y_train,
                         optimizers=["sgd", "momentum", "adam"], lr=0.1, epochs=300,
                         tol=1e-6, init=(walk.init_b, walk.init_w))  # fmt: skip
    page = open_report(browser, write_demo_report(walk, out, race=race))
    try:
        check_sections(page, shots_dir(tmp_path), "report-lesson")
        names = [t for t in page.evaluate(
            "() => document.getElementById('plot-paths').data.map(t => t.name)")]  # fmt: skip
        assert {"batch", "mini-batch (16)", "stochastic (1)"} <= set(names)
        assert page.errors == [] and page.outside == []
    finally:
        page.close()


def test_diabetes_run_report_race_and_lessons(browser, diabetes_run, tmp_path):  # noqa: F811
    page = open_report(browser, diabetes_run / "report.html")
    try:
        text = page.inner_text("#paths")
        assert "no steps.csv" in text and page.locator("#plot-paths").count() == 0
        assert page.evaluate("() => window.gradstepScaling.state()") == "standardised"
        check_sections(page, shots_dir(tmp_path), "report-diabetes")
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
