"""The HTML report: self-contained, escaped, and holding the run's values."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from run_folder_fixture import make_run_folder

from gradstep.report import build_report, demo_report_input, run_report_input, write_demo_report
from gradstep.report.figures import log_decades, loss_figure
from gradstep.report.html import script_json
from gradstep.runs.folder import read_run
from gradstep.tutorial.walkthrough import run_walkthrough

from conftest import assert_one_line_error, run_cli

EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


class Resources(HTMLParser):
    """Collects every URL-bearing attribute and the raw text of each <script>."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.scripts: list[dict] = []
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for name in ("src", "href", "data", "action", "poster", "srcset", "formaction"):
            if name in attrs:
                self.urls.append((tag, name, attrs[name] or ""))
        if tag == "script":
            self._in_script = {"attrs": attrs, "text": ""}
            self.scripts.append(self._in_script)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["text"] += data


# every plotly figure a report draws, demo or run
REPORT_FIGURES = {
    "plot-surface",
    "plot-path",
    "plot-line",
    "plot-losses",
    "plot-excess",
    "plot-live",
    "plot-live-loss",
    "plot-live-line",
    "plot-race-paths",
    "plot-race-losses",
    "plot-slope-0",
    "plot-slope-1",
    "plot-scaling",
    "plot-paths",
}


def parse(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


def page_data(html: str) -> dict:
    scripts = parse(html).scripts
    (data,) = [s for s in scripts if s["attrs"].get("id") == "gradstep-data"]
    return json.loads(data["text"])


@pytest.fixture(scope="module")
def walk():
    return run_walkthrough()


@pytest.fixture(scope="module")
def race(walk):
    """The demo's optimizers race, as ``gradstep demo`` passes it to the report."""
    from gradstep.tutorial.demo_runs import run_demo_runs

    return run_demo_runs(walk).race


@pytest.fixture(scope="module")
def demo_html(walk, race, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    (out / "graph.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>loss</text></svg>'
    )
    path = write_demo_report(walk, out, race=race)
    return path.read_text(encoding="utf-8"), path


def assert_self_contained(html: str):
    res = parse(html)
    for tag, attr, url in res.urls:
        assert url.startswith(("#", "data:")), (tag, attr, url[:80])
    assert "link" not in res.tags and "iframe" not in res.tags
    for script in res.scripts:
        assert "src" not in script["attrs"], script["attrs"]
    style = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert style and all("url(" not in s and "@import" not in s for s in style)
    # plotly.js is embedded, once, and no CDN loader is configured
    assert sum("plotly.js v" in s["text"][:200] for s in res.scripts) == 1
    assert "cdn.plot.ly/plotly" not in html.split("</head>")[1]


def test_demo_report_is_self_contained(demo_html):
    html, path = demo_html
    assert html.startswith("<!DOCTYPE html>")
    assert_self_contained(html)
    assert path.stat().st_size < 8_000_000  # plotly.js is about 4.8 MB of it


def test_demo_report_holds_the_walkthrough(demo_html, walk):
    html, _ = demo_html
    for value in ("[0.49671415] [-0.1382643]", "-3.044811379650508 -1.8337537171510832",
                  "[0.80119529] [0.04511107]", repr(walk.first_loss),
                  repr(walk.closed_form[0]), repr(walk.sklearn[0]),
                  repr(walk.trained.intercept)):  # fmt: skip
        assert value in html, value
    for anchor in ("walkthrough", "surface", "descent", "losses", "optimizers", "graph",
                   "closed-form", "config", "slopes", "scaling", "paths"):  # fmt: skip
        assert f'<section id="{anchor}">' in html
    assert 'src="data:image/svg+xml;base64,' in html


def test_demo_report_data(demo_html, walk):
    html, _ = demo_html
    data = page_data(html)
    assert set(data["figures"]) == REPORT_FIGURES
    assert set(data["lessons"]) == {"slopes", "scaling"}
    path = data["path"]
    hist = walk.trained.history
    assert path["epoch"] == list(range(0, 1001))
    assert path["b"][0] == walk.init_b and path["b"][-1] == hist.b[-1]
    assert path["w"][10] == hist.w[9, 0]
    assert path["loss"][0] == pytest.approx(walk.first_loss, rel=1e-12)
    for fig_id, names in (("plot-surface", "current"), ("plot-path", "current"),
                          ("plot-line", "current line"), ("plot-losses", "current")):  # fmt: skip
        assert names in [t.get("name") for t in data["figures"][fig_id]["data"]], fig_id
    yaxis = data["figures"]["plot-losses"]["layout"]["yaxis"]
    # the losses span 2.5 decades: powers of ten labelled, not 2 and 5 in each decade
    assert yaxis["type"] == "log" and yaxis["dtick"] == 1
    assert data["line_x"] == [0.0, 1.0]
    assert 'max="1000"' in html


def test_demo_report_races_the_optimizers(demo_html, race):
    """The optimizers section draws every racer's path and loss, its square where tol was
    certified and its cross where it diverged."""
    html, _ = demo_html
    figures = page_data(html)["figures"]
    paths, losses = figures["plot-race-paths"], figures["plot-race-losses"]
    assert paths["data"][0]["type"] == "contour"
    assert {r.reason for r in race.racers} == {"tol", "epochs", "diverged"}
    for racer in race.racers:
        name = f"{racer.label}: {racer.outcome}"
        assert name in html
        (line,) = [t for t in paths["data"] if t.get("name") == name and t.get("showlegend") is
                   not False]  # fmt: skip
        if racer.reason != "diverged":
            assert np.allclose(typed(line["x"]), racer.theta[:, 0], rtol=0, atol=0)
            assert np.allclose(typed(line["y"]), racer.theta[:, 1], rtol=0, atol=0)
        (curve,) = [t for t in losses["data"] if t.get("name") == name and t["mode"] == "lines"]
        assert len(typed(curve["y"])) == racer.epochs_run
        ends = [t for t in losses["data"] if t.get("name") == name and t["mode"] == "markers"]
        if racer.reason == "epochs":
            assert ends == []
        else:
            symbol = "x" if racer.reason == "diverged" else "square"
            (end,) = ends
            assert end["marker"]["symbol"] == symbol
            x = racer.diverged_at if racer.reason == "diverged" else racer.epochs_run
            assert typed(end["x"])[0] == x
    assert losses["layout"]["yaxis"]["type"] == "log"


def typed(value) -> np.ndarray:
    """A plotly array from the page's JSON: a list, or a typed array ``{"dtype", "bdata"}``."""
    if isinstance(value, dict):
        import base64

        raw = base64.b64decode(value["bdata"])
        return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).astype(np.float64)
    return np.array([np.nan if v is None else v for v in value], dtype=np.float64)


def test_log_ticks_only_when_the_losses_span_a_decade():
    span = loss_figure([1, 2, 3], [2.0, 0.5, 0.3], None, (3, 0.3))["layout"]["yaxis"]
    assert span["type"] == "log" and "dtick" not in span  # under one decade: plotly's ticks
    wide = loss_figure([1, 2], [5.0, 0.01], [np.nan, 0.02], (2, 0.01))["layout"]["yaxis"]
    assert wide["dtick"] == 1
    assert log_decades([100.0, 0.0, -1.0, np.inf], None, [0.1]) == pytest.approx(3.0)
    assert log_decades(None) == 0.0


def test_script_json_cannot_close_the_script():
    text = script_json({"a": EVIL, "b": "\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": EVIL, "b": "\u2028&"}


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("evil")
    folder, result = make_run_folder(
        base / "run <b>bold</b> & co", true_w=(2.0, -1.0), names=[EVIL, "x & <y>"],
        target='"><svg onload=alert(2)>', config_extra={"data": EVIL, "note": "a & b"},
    )  # fmt: skip
    return folder, result


def test_user_strings_are_escaped(evil_run):
    folder, _ = evil_run
    html = build_report(run_report_input(read_run(folder), j=0))
    assert_self_contained(html)
    body = html.split("</head>", 1)[1]
    for raw in (EVIL, '"><svg onload=alert(2)>', "x & <y>", "<b>bold</b>"):
        assert raw not in body, raw
    assert "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body
    assert "run &lt;b&gt;bold&lt;/b&gt; &amp; co" in body  # folder name, in the title
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in body  # in the tables
    # only our four scripts after the head (data, live descent, lessons, page), whatever the
    # names held
    assert len(parse(body).scripts) == 4
    data = page_data(html)
    assert data["figures"]["plot-path"]["layout"]["yaxis"]["title"]["text"].startswith(
        "w_0 (&lt;/script&gt;"
    )
    # WebGL text shows entities literally: the 3-D axis leaves such a name out
    scene = data["figures"]["plot-surface"]["layout"]["scene"]
    assert scene["yaxis"]["title"]["text"] == "w_0"


def test_run_report_values_and_closed_form(tmp_path):
    folder, result = make_run_folder(tmp_path / "run")
    run = read_run(folder)
    html = build_report(run_report_input(run))
    data = page_data(html)
    assert data["path"]["epoch"][0] == 0 and data["path"]["epoch"][-1] == 60
    assert data["path"]["b"][-1] == result.history.b[-1]
    b_star, _ = run.quadratic.minimum()
    assert repr(b_star) in html
    assert "closed form (from quadratic.json)" in html
    assert set(data["figures"]) == REPORT_FIGURES
    assert "Computation graph" not in html  # no graph: no (empty) section
    assert "options.lr" in html  # config.json flattened


def test_run_report_d_features(tmp_path):
    folder, _ = make_run_folder(tmp_path / "run3", true_w=(2.0, -1.0, 0.5), names=["a", "b", "c"])
    html = build_report(run_report_input(read_run(folder), j=2))
    data = page_data(html)
    assert "plot-line" not in data["figures"]
    assert data["w_name"] == "w_2" and len(data["path"]["w_all"][0]) == 3
    assert data["live"]["axes"] == [0, 3]  # --feature c: the slice over b and w_2
    assert "other coefficients at their optimum" in html


def test_run_report_with_metrics_only(tmp_path):
    folder, _ = make_run_folder(tmp_path / "bare", steps=False, optional=False)
    html = build_report(run_report_input(read_run(folder)))
    assert_self_contained(html)
    data = page_data(html)
    assert set(data["figures"]) == {"plot-losses"}
    assert "No quadratic.json" in html and "No configuration recorded" in html


def test_long_runs_are_thinned_for_the_slider(walk):
    inp = demo_report_input(walk)
    n = 5001
    inp.epochs = np.arange(n)
    inp.b = np.linspace(0, 1, n)
    inp.w = np.linspace(0, 1, n)[:, None]
    m = 20_000
    inp.loss_epochs, inp.train_loss, inp.val_loss = np.arange(1, m + 1), np.ones(m), None
    data = page_data(build_report(inp))
    epochs = data["path"]["epoch"]
    assert len(epochs) <= 2001 and epochs[:200] == list(range(200)) and epochs[-1] == n - 1
    (curve, _) = data["figures"]["plot-losses"]["data"]
    assert len(curve["x"]) <= 5001 and curve["x"][0] == 1 and curve["x"][-1] == m


def test_report_cli(tmp_path):
    folder, _ = make_run_folder(tmp_path / "run")
    proc = run_cli("report", folder)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "report.html").is_file() and "report.html" in proc.stdout
    proc = run_cli("report", folder, "--out", tmp_path / "elsewhere" / "r.html")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "elsewhere" / "r.html").is_file()
    assert_one_line_error(run_cli("report", tmp_path / "missing"), "does not exist")
    (folder / "quadratic.json").write_text("{not json")
    assert_one_line_error(run_cli("report", folder), "quadratic.json")


def test_run_name_overrides_a_temporary_folder_name(tmp_path):
    folder, _ = make_run_folder(tmp_path / ".run.x1y2.tmp", optional=False)
    html = build_report(run_report_input(read_run(folder), name="my-run"))
    assert "<title>gradstep run: my-run</title>" in html and ".x1y2.tmp" not in html
