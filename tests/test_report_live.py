"""The report's live descent in Chromium, against Python oracles.

The page's JavaScript reruns the full-batch descent from the quadratic form it carries;
its iterates must be gradstep's: ``gradstep.fit(engine="numpy")`` for the plain descent
and ``torch.optim.SGD(momentum=mu)`` in float64 for the heavy ball, to 1e-9 relative.
Then the controls: the sliders redraw the path, a click on the contours moves the start,
and at 1366 x 768 the contours, the controls and the moving point are in view together.
Screenshots go to pytest's tmp_path, or to docs/images/ with GRADSTEP_UPDATE_DOCS=1.
"""

import os

import numpy as np
import pytest
from run_folder_fixture import make_run_folder
from test_report_browser import DOCS_IMAGES

import gradstep
from gradstep.report import write_demo_report, write_run_report
from gradstep.runs.folder import read_run
from gradstep.tutorial.walkthrough import run_walkthrough

from conftest import run_cli

pytestmark = pytest.mark.browser

RTOL = 1e-9
LAPTOP = {"width": 1366, "height": 768}


def open_report(browser, path, viewport=LAPTOP):
    page = browser.new_page(viewport=viewport)
    page.errors, page.outside = [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def offline(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def walk():
    return run_walkthrough()


@pytest.fixture(scope="module")
def demo(browser, walk, tmp_path_factory):
    page = open_report(browser, write_demo_report(walk, tmp_path_factory.mktemp("demo")))
    yield page
    assert page.errors == [] and page.outside == []
    page.close()


def js_run(page, lr, momentum, epochs, start) -> np.ndarray:
    theta = page.evaluate(
        "([lr, mu, n, s]) => window.gradstepLive.run(lr, mu, n, s).theta",
        [lr, momentum, epochs, [float(v) for v in start]],
    )
    return np.asarray(theta, dtype=np.float64)


def max_relative(got, want) -> float:
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))


@pytest.mark.parametrize(
    ("lr", "epochs", "start"),
    [(0.1, 1000, None), (0.7, 300, (3.0, -2.0)), (0.8, 150, (-1.0, 4.0)), (0.01, 2000, (0, 0))],
)
def test_plain_descent_equals_the_numpy_engine(demo, walk, lr, epochs, start):
    data = gradstep.make_data()  # the demo's data
    b0, w0 = (walk.init_b, float(walk.init_w[0])) if start is None else start
    fit = gradstep.fit(data.x_train, data.y_train, lr=lr, epochs=epochs, init=(b0, [w0]),
                       engine="numpy")  # fmt: skip
    want = np.column_stack([fit.history.b, fit.history.w])
    got = js_run(demo, lr, 0.0, epochs, (b0, w0))
    assert got.shape == (epochs + 1, 2)
    assert got[0].tolist() == [b0, w0]
    assert max_relative(got[1:], want) < RTOL


def torch_heavy_ball(x, y, lr, momentum, epochs, start) -> np.ndarray:
    import torch

    design = torch.tensor(np.column_stack([np.ones(len(y)), x]), dtype=torch.float64)
    target = torch.tensor(np.asarray(y).ravel(), dtype=torch.float64)
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=lr, momentum=momentum)
    out = []
    for _ in range(epochs):
        opt.zero_grad()
        ((design @ theta - target) ** 2).mean().backward()
        opt.step()
        out.append(theta.detach().numpy().copy())
    return np.array(out)


@pytest.mark.parametrize(("lr", "momentum", "epochs"), [(0.1, 0.9, 500), (0.3, 0.5, 300),
                                                        (0.05, 0.99, 400)])  # fmt: skip
def test_heavy_ball_equals_torch_sgd_momentum(demo, walk, lr, momentum, epochs):
    data = gradstep.make_data()
    start = (walk.init_b, float(walk.init_w[0]))
    want = torch_heavy_ball(data.x_train, data.y_train, lr, momentum, epochs, start)
    got = js_run(demo, lr, momentum, epochs, start)
    assert max_relative(got[1:], want) < RTOL


def test_three_features_from_a_run_folder(browser, tmp_path):
    """A run report's live descent: all d + 1 coordinates, from quadratic.json alone."""
    folder, _ = make_run_folder(tmp_path / "run3", true_w=(2.0, -1.0, 0.5), epochs=20)
    page = open_report(browser, write_run_report(read_run(folder)))
    try:
        data = gradstep.make_data(n=120, true_w=[2.0, -1.0, 0.5], seed=7)  # the fixture's
        start = (0.3, [0.5, -0.2, 0.1])
        fit = gradstep.fit(data.x_train, data.y_train, lr=0.2, epochs=400, init=start,
                           engine="numpy")  # fmt: skip
        want = np.column_stack([fit.history.b, fit.history.w])
        got = js_run(page, 0.2, 0.0, 400, [start[0], *start[1]])
        assert max_relative(got[1:], want) < RTOL
        assert page.errors == [] and page.outside == []
    finally:
        page.close()


def live_path(page):
    return page.evaluate(
        """() => { const t = document.getElementById('plot-live').data
                     .find(t => t.name === 'live path');
                   return [Array.from(t.x), Array.from(t.y)]; }"""
    )


def test_sliders_redraw_the_path(demo):
    demo.evaluate("() => window.gradstepLive.reset()")
    before = live_path(demo)
    state = demo.evaluate("() => window.gradstepLive.state()")
    assert len(before[0]) == state["epochs"] + 1  # 1000 epochs, every one drawn
    demo.locator("#live-lr").fill(str(0.5))
    demo.wait_for_function("() => window.gradstepLive.state().lr === 0.5")
    path_x1 = "document.getElementById('plot-live').data.find(t => t.name === 'live path').x[1]"
    demo.wait_for_function(f"() => {path_x1} !== {before[0][1]!r}")
    after = live_path(demo)
    want = js_run(demo, 0.5, 0.0, state["epochs"], state["start"])
    assert after[0] == want[:, 0].tolist() and after[1] == want[:, 1].tolist()
    demo.locator("#live-momentum").fill("0.9")
    demo.wait_for_function("() => window.gradstepLive.state().momentum === 0.9")
    demo.wait_for_timeout(100)
    assert live_path(demo) != after
    assert "2(1+\u03bc)" in demo.inner_text("#live-threshold")
    epochs = round(state["max_epochs"] ** 0.5)  # the epochs slider is logarithmic
    demo.locator("#live-epochs").fill("500")
    demo.wait_for_function(f"() => window.gradstepLive.state().epochs === {epochs}")
    demo.wait_for_timeout(100)
    assert len(live_path(demo)[0]) == epochs + 1
    assert demo.inner_text("#live-epochs-value") == str(epochs)


def test_threshold_marked_and_divergence_said(demo):
    demo.evaluate("() => window.gradstepLive.reset()")
    state = demo.evaluate("() => window.gradstepLive.state()")
    assert state["threshold"] == pytest.approx(2 / state["lam_max"], rel=1e-15)
    assert f"{state['threshold']:.6g}" in demo.inner_text("#live-threshold")
    tick = demo.locator("#live-tick").bounding_box()
    track = demo.locator("#live-lr").bounding_box()
    lr_max = float(demo.get_attribute("#live-lr", "max"))
    expect = track["x"] + 8 + (track["width"] - 16) * state["threshold"] / lr_max
    assert abs(tick["x"] + tick["width"] / 2 - expect) < 3
    demo.evaluate("() => window.gradstepLive.set({lr: 1.02 * window.gradstepLive.state()"
                  ".threshold, epochs: 100000})")  # fmt: skip
    assert "DIVERGES" in demo.inner_text("#live-readout")
    demo.evaluate("() => window.gradstepLive.set({lr: 10})")  # overflows to inf
    assert "DIVERGED: not finite at epoch" in demo.inner_text("#live-readout")
    demo.evaluate("() => window.gradstepLive.reset()")
    assert "DIVERGE" not in demo.inner_text("#live-readout")


def test_click_on_the_contours_sets_the_start(demo):
    demo.evaluate("() => window.gradstepLive.reset()")
    demo.locator("#live").scroll_into_view_if_needed()
    box = demo.locator("#plot-live .nsewdrag").bounding_box()
    px, py = 0.2 * box["width"], 0.75 * box["height"]
    demo.mouse.click(box["x"] + px, box["y"] + py)
    demo.wait_for_timeout(200)
    want, pixel = demo.evaluate(
        """([px, py]) => { const fl = document.getElementById('plot-live')._fullLayout;
                           return [[fl.xaxis.p2c(px), fl.yaxis.p2c(py)],
                                   [fl.xaxis.p2c(px + 1) - fl.xaxis.p2c(px),
                                    fl.yaxis.p2c(py) - fl.yaxis.p2c(py + 1)]]; }""",
        [px, py],
    )
    start = demo.evaluate("() => window.gradstepLive.state().start")
    # where the mouse went, to the pixel (mouse events carry whole pixels)
    assert abs(start[0] - want[0]) <= 1.5 * pixel[0] and abs(start[1] - want[1]) <= 1.5 * pixel[1]
    start_trace = demo.evaluate(
        """() => { const t = document.getElementById('plot-live').data
                     .find(t => t.name === 'start'); return [t.x[0], t.y[0]]; }"""
    )
    assert start_trace == start
    assert live_path(demo)[0][0] == start[0]


def in_view(page, selector) -> bool:
    box = page.locator(selector).bounding_box()
    if not box:
        return False
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    return (
        box["x"] >= 0 and box["y"] >= 0 and right <= LAPTOP["width"] and bottom <= LAPTOP["height"]
    )


def check_fits_laptop(page):
    page.evaluate("() => window.gradstepLive.reset()")
    page.evaluate("() => window.scrollTo(0, document.getElementById('live').offsetTop)")
    page.wait_for_timeout(200)
    for selector in ("#live-lr", "#live-momentum", "#live-epochs", "#live-reset",
                     "#plot-live", "#plot-live-loss", "#plot-live-line", "#live-readout",
                     "#live-threshold"):  # fmt: skip
        assert in_view(page, selector), selector
    # the moving point: the "current" marker's drawn point on the contours
    point = page.evaluate(
        """() => { const gd = document.getElementById('plot-live');
                   const i = gd.data.findIndex(t => t.name === 'current');
                   const r = gd.querySelectorAll('.scatterlayer .trace')[i - 1]
                              .querySelector('.point').getBoundingClientRect();
                   return [r.x, r.y, r.width]; }"""
    )
    assert 0 <= point[0] <= LAPTOP["width"] and 0 <= point[1] <= LAPTOP["height"] and point[2] > 0
    assert page.evaluate("() => document.documentElement.scrollWidth") <= LAPTOP["width"]


def test_demo_fits_a_laptop_screen(demo, tmp_path):
    check_fits_laptop(demo)
    target = DOCS_IMAGES if os.environ.get("GRADSTEP_UPDATE_DOCS") == "1" else tmp_path
    demo.screenshot(path=str(target / "report-demo.png"))
    assert (target / "report-demo.png").stat().st_size > 20_000


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    from sklearn.datasets import load_diabetes

    base = tmp_path_factory.mktemp("diabetes")
    bunch = load_diabetes(scaled=False)
    table = base / "diabetes.csv"
    rows = np.column_stack([bunch.data, bunch.target])
    np.savetxt(table, rows, delimiter=",", header=",".join([*bunch.feature_names, "target"]),
               comments="", fmt="%.10g")  # fmt: skip
    proc = run_cli("train", table, "--target", "target", "--out", base / "run")
    assert proc.returncode == 0, proc.stderr
    return base / "run"


def test_diabetes_run_report_teaches(browser, diabetes_run, tmp_path):
    """The report `gradstep train` wrote: the slice follows the descent (b and s1, not
    age), predicted-versus-actual from the re-read rows, no empty section; it fits."""
    run = read_run(diabetes_run)
    theta = np.column_stack([run.metrics.b, run.metrics.w])
    moved = np.abs(theta[-1] - np.r_[run.start[0], run.start[1]])
    page = open_report(browser, diabetes_run / "report.html")
    try:
        state = page.evaluate("() => window.gradstepLive.state()")
        expected = sorted(np.argsort(-moved)[:2].tolist())
        assert state["axes"] == expected and expected[0] == 0  # b moves most: mean y ~ 150
        ytitle = page.evaluate("() => document.querySelector('#plot-path .ytitle').textContent")
        j = expected[1] - 1
        assert ytitle == f"w_{j} ({run.feature_names[j]})" and j != 0  # not age (w ~ 0)
        for plot_id in ("plot-predicted", "plot-residuals", "plot-excess"):
            assert page.evaluate("id => !!document.getElementById(id)._fullLayout", plot_id)
        assert page.evaluate("() => document.getElementById('plot-losses')._fullLayout"
                             ".xaxis.type") == "log"  # fmt: skip
        empty = page.evaluate(
            """() => Array.from(document.querySelectorAll('section')).filter(s =>
                 s.innerText.replace(s.querySelector('h2').innerText, '').trim().length < 20
                 && !s.querySelector('.plot, .js-plotly-plot')).map(s => s.id)"""
        )
        assert empty == [] and page.locator("#graph").count() == 0
        intercept = run.summary["closed_form"]["intercept"]  # original units
        assert f"{intercept:.6g}" in page.inner_text("#closed-form")
        check_fits_laptop(page)
        target = DOCS_IMAGES if os.environ.get("GRADSTEP_UPDATE_DOCS") == "1" else tmp_path
        page.screenshot(path=str(target / "report-diabetes.png"))
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
