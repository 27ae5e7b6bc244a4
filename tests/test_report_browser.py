"""The demo's report in a real headless Chromium (Debian's, driven by Playwright).

No browser is downloaded: the test uses /usr/bin/chromium (``make test`` installs it
through apt when running as root) and is skipped, saying why, where there is none.
The screenshots go to pytest's tmp_path, or to docs/images/ with GRADSTEP_UPDATE_DOCS=1.
"""

import os
import shutil
from pathlib import Path

import pytest

from gradstep.report import write_demo_report
from gradstep.tutorial.walkthrough import run_walkthrough

pytestmark = pytest.mark.browser

DOCS_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
PLOTS = ["plot-surface", "plot-path", "plot-line", "plot-losses"]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The demo's report as `gradstep demo` writes it (graph included when it can be drawn)."""
    out = tmp_path_factory.mktemp("demo")
    walk = run_walkthrough()
    if shutil.which("dot"):
        from gradstep.tutorial.graph import render_graph

        render_graph(out)
    return write_demo_report(walk, out), walk


@pytest.fixture(scope="module")
def page(browser, demo_report):
    path, _ = demo_report
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def offline(route):  # the report must need nothing but its own file
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.errors, page.outside_requests = errors, requests
    yield page
    context.close()


def readout(page) -> str:
    return page.inner_text("#epoch-readout")


def test_no_console_errors_and_no_network(page):
    assert page.errors == []
    assert page.outside_requests == []


def test_every_plot_rendered(page):
    for plot_id in PLOTS:
        rendered = page.evaluate(
            """id => { const el = document.getElementById(id);
                       return !!(el && el._fullLayout && el.querySelector('.main-svg')
                                 && el.getBoundingClientRect().height > 200); }""",
            plot_id,
        )
        assert rendered, plot_id
    assert page.evaluate("() => !!document.querySelector('#plot-surface canvas')")
    assert page.evaluate("() => document.querySelectorAll('#plot-path .contour').length") > 0
    assert page.evaluate("() => document.querySelector('#graph img').naturalWidth") > 0


def current(page, plot_id: str, name: str, axis: str):
    return page.evaluate(
        """([id, name, axis]) => { const t = document.getElementById(id).data
                                     .find(t => t.name === name); return Array.from(t[axis]); }""",
        [plot_id, name, axis],
    )


def test_slider_moves_epoch_point_and_line(page, demo_report):
    _, walk = demo_report
    hist = walk.trained.history
    assert readout(page).startswith("epoch 1000 of 1000")
    page.locator("#epoch-slider").fill("10")
    text = readout(page)
    b10, w10 = float(hist.b[9]), float(hist.w[9, 0])
    assert text.startswith("epoch 10 of 1000")
    assert f"b = {b10:.8g}," in text and f"w = {w10:.8g}," in text  # toPrecision(8)
    assert current(page, "plot-path", "current", "x") == [b10]
    assert current(page, "plot-path", "current", "y") == [w10]
    assert current(page, "plot-surface", "current", "x") == [b10]
    assert current(page, "plot-line", "current line", "y") == pytest.approx([b10, b10 + w10])
    assert current(page, "plot-losses", "current", "x") == [10]
    page.locator("#epoch-slider").fill("0")
    assert readout(page).startswith("epoch 0 of 1000:  b = 0.49671415")
    assert current(page, "plot-line", "current line", "y") == pytest.approx(
        [walk.init_b, walk.init_b + float(walk.init_w[0])]
    )


def test_play_button_advances_the_slider(page):
    page.locator("#epoch-slider").fill("0")
    page.click("#play")
    page.wait_for_function("() => Number(document.getElementById('epoch-slider').value) > 0")
    page.evaluate("() => document.getElementById('play').click()")  # pause, mid-animation
    assert page.inner_text("#play") == "Play"
    value = int(page.input_value("#epoch-slider"))
    assert readout(page).startswith(f"epoch {value} of 1000")
    assert page.errors == []


def test_screenshots(page, tmp_path):
    target = DOCS_IMAGES if os.environ.get("GRADSTEP_UPDATE_DOCS") == "1" else tmp_path
    page.locator("#epoch-slider").fill("25")
    page.locator("#descent").screenshot(path=str(target / "report.png"))
    page.locator("#surface").screenshot(path=str(target / "report_surface.png"))
    assert page.errors == []
    for name in ("report.png", "report_surface.png"):
        assert (target / name).stat().st_size > 10_000


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "</script><b>x"]


def test_hostile_names_run_no_script_and_show_as_text(browser, tmp_path):
    """A 3-feature run whose column names are markup: nothing runs, every plot draws,
    and the names appear as the literal text the user typed."""
    from run_folder_fixture import make_run_folder

    from gradstep.report import write_run_report
    from gradstep.runs.folder import read_run

    folder, _ = make_run_folder(tmp_path / "evil", true_w=(2.0, -1.0, 0.5), names=HOSTILE,
                                target="<i>y</i>", epochs=20)  # fmt: skip
    path = write_run_report(read_run(folder), j=0)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, dialogs = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    try:
        assert errors == [] and dialogs == []
        assert page.evaluate("() => document.querySelectorAll('img[src=x], b').length") == 0
        for plot_id in ("plot-surface", "plot-path", "plot-losses"):
            assert page.evaluate("id => !!document.getElementById(id)._fullLayout", plot_id)
        body = page.inner_text("body")
        for name in HOSTILE:
            assert name in body, name  # the tables show the literal names
        axis = page.evaluate("() => document.querySelector('#plot-path .ytitle').textContent")
        assert axis == f"w_0 ({HOSTILE[0]})"  # plotly shows the literal name too
        live = page.inner_text("#live-readout")
        assert f"w_0 ({HOSTILE[0]})" in live  # the live readout too (textContent)
    finally:
        page.close()
