"""Every figure: drawn from the demo's runs, from a d-feature run, and from run folders."""

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from run_folder_fixture import make_run_folder

import gradstep
from gradstep.plots import save_figure
from gradstep.plots.demo_figures import DEMO_FIGURES, draw_demo_figures, write_demo_figures
from gradstep.plots.figure import FigureAxes, NotebookFigure, owned_by_pyplot
from gradstep.plots.lines import fitted_line, one_update
from gradstep.plots.losses import loss_curves
from gradstep.plots.paths import descent_paths, paths_half_width
from gradstep.plots.rates import first_step, learning_rates
from gradstep.plots.run_figures import draw_run_figures, skipped_run_figures, write_run_figures
from gradstep.plots.steps import cross_sections, slopes
from gradstep.plots.surface import auto_half_width, loss_contours, loss_surface
from gradstep.quadratic import QuadraticLoss
from gradstep.runs.folder import read_run
from gradstep.tutorial.demo_runs import run_demo_runs
from gradstep.tutorial.walkthrough import run_walkthrough

from conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def demo():
    walk = run_walkthrough()
    runs = run_demo_runs(walk)
    return walk, runs, draw_demo_figures(walk, runs)


@pytest.fixture(scope="module")
def three():
    """A 3-feature mini-batch run with its steps recorded."""
    data = gradstep.make_data(n=150, true_w=[2.0, -1.0, 0.5], seed=5)
    q = QuadraticLoss.from_data(data.x_train, data.y_train)
    result = gradstep.fit(data.x_train, data.y_train, lr=0.2, epochs=30, batch_size=16,
                          x_val=data.x_val, y_val=data.y_val, record_steps=True)  # fmt: skip
    return q, result, (result.init_b, result.init_w)


def texts_outside(fig) -> list[str]:
    """What sticks out of the figure once drawn: axes (with their titles, labels, tick
    labels and legends) and figure texts whose extent leaves the canvas."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    parts = [(ax.get_title() or ax.get_label(), ax.get_tightbbox(renderer)) for ax in fig.axes]
    parts += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append((fig._suptitle.get_text(), fig._suptitle.get_window_extent(renderer)))
    return [
        name
        for name, ext in parts
        if ext is not None
        and (
            ext.x0 < box.x0 - 1 or ext.y0 < box.y0 - 1 or ext.x1 > box.x1 + 1 or ext.y1 > box.y1 + 1
        )  # fmt: skip
    ]


def all_text(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def test_every_demo_figure_is_drawn_and_nothing_is_clipped(demo):
    _, _, figures = demo
    assert list(figures) == list(DEMO_FIGURES)
    for name, (fig, _) in figures.items():
        assert isinstance(fig, Figure), name
        assert texts_outside(fig) == [], name


def test_write_demo_figures_writes_readable_pngs(demo, tmp_path):
    walk, runs, _ = demo
    written = write_demo_figures(walk, tmp_path, runs=runs, dpi=40)
    assert set(written) == set(DEMO_FIGURES)
    for name, path in written.items():
        assert path == tmp_path / f"{name}.png"
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size[0] >= 300, name
    assert not list(tmp_path.glob(".*.tmp"))


def test_figure1_is_the_documents(demo):
    fig, ax = demo[2]["figure1"]
    assert [a.get_title() for a in ax] == ["Generated Data - Train", "Generated Data - Validation"]
    assert tuple(fig.get_size_inches()) == (12, 6)


def test_fitted_line_marks_one_points_error(demo):
    walk, _, figures = demo
    _, ax = figures["fitted_line"]
    data = walk.data
    error = walk.first_predictions - data.y_train
    i = int(np.argmax(np.abs(error)))
    assert f"error = yhat - y = {error[i]:.3f}" in all_text(ax.figure)
    segment = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"][0]
    np.testing.assert_allclose(segment.get_xdata(), [data.x_train[i, 0]] * 2)
    np.testing.assert_allclose(segment.get_ydata(), [data.y_train[i], walk.first_predictions[i]])
    fig, ax = fitted_line(data.x_train, data.y_train, 1.0, 2.0, point=3)
    assert "point 3" in all_text(fig)


def test_one_update_shows_before_and_after(demo):
    walk, _, figures = demo
    _, ax = figures["one_update"]
    text = all_text(ax.figure)
    assert "before: b = 0.4967, w = -0.1383" in text
    assert "after:  b = 0.8012, w = 0.0451" in text


def test_surface_marks_minimum_and_start(demo):
    walk, runs, figures = demo
    _, (ax3d, ax2d) = figures["loss_surface"]
    labels = [h.get_label() for h in ax2d.get_legend().legend_handles]
    assert labels == ["minimum", "start"]
    b_star, w_star = runs.quadratic.minimum()
    start = [ln for ln in ax2d.get_lines() if ln.get_label() == "start"][0]
    assert start.get_xdata()[0] == walk.init_b
    assert ax2d.get_xlim()[0] <= b_star - 3 + 1e-9 and ax2d.get_xlim()[1] >= b_star + 3 - 1e-9
    assert ax3d.get_zlabel() == "loss (MSE)"


def test_slopes_show_the_documents_gradients(demo):
    _, _, figures = demo
    text = all_text(figures["slopes"][0])
    assert "dL/db = -3.0448 (analytic)" in text
    assert "dL/dw = -1.8338 (analytic)" in text
    assert "central difference (h = 1e-06): -3.0448" in text


def test_cross_sections_pass_through_the_start(demo):
    walk, runs, figures = demo
    _, (ax_b, ax_w) = figures["cross_sections"]
    assert "Fixed w = -0.1383" in ax_b.get_title()
    assert "Fixed b = 0.4967" in ax_w.get_title()
    start = [ln for ln in ax_b.get_lines() if ln.get_label().startswith("start")][0]
    assert start.get_ydata()[0] == pytest.approx(walk.first_loss, rel=1e-12)


def test_learning_rates_overshoot_and_loss_going_up(demo):
    walk, runs, figures = demo
    _, axes = figures["learning_rates"]
    assert axes.shape == (3, 2)
    titles = [[ax.get_title() for ax in row] for row in axes]
    assert titles[0][0].startswith("lr = 0.2") and "overshoots" not in titles[0][0]
    assert "overshoots, loss goes down" in titles[1][0]
    assert "overshoots, loss goes UP" in titles[2][0]
    assert "loss goes down" in titles[2][1]
    start = (walk.init_b, walk.init_w)
    p0, p1, loss0, loss1 = first_step(runs.quadratic, start, "b", 1.1)
    assert p1 == pytest.approx(walk.init_b + 1.1 * 3.044811379650508, rel=1e-12)
    assert loss1 > loss0


def test_feature_scaling_same_steps_on_each(demo):
    _, runs, figures = demo
    _, axes = figures["feature_scaling"]
    assert [ax.get_title() for ax in axes] == [r.label for r in runs.scaling]
    assert "standardised" in axes[2].get_title() and "times 10" in axes[1].get_title()
    lengths = {len([ln for ln in ax.get_lines() if "steps" in ln.get_label()][0].get_xdata())
               for ax in axes}  # fmt: skip
    assert lengths == {41}
    # the standardised feature was fitted on the training rows only
    x = runs.scaling[2].x_train
    assert abs(x.mean()) < 1e-12 and x.std() == pytest.approx(1.0)


def test_descent_paths_are_the_recorded_steps(demo):
    _, runs, figures = demo
    _, axes = figures["descent_paths"]
    for ax, (label, result) in zip(axes, runs.paths.items(), strict=True):
        path = [ln for ln in ax.get_lines() if ln.get_label().startswith("path")][0]
        np.testing.assert_array_equal(path.get_xdata(), result.history.step_b)
        np.testing.assert_array_equal(path.get_ydata(), result.history.step_w[:, 0])
        assert ax.get_title().startswith(label)
    assert "1600 updates" in axes[2].get_title()


def test_loss_curves_log_scale(demo):
    walk, _, figures = demo
    _, ax = figures["loss_curves"]
    assert ax.get_yscale() == "log"
    train, val = ax.get_lines()[:2]
    np.testing.assert_array_equal(train.get_ydata(), walk.trained.history.train_loss)
    np.testing.assert_array_equal(val.get_ydata(), walk.trained.history.val_loss)
    assert train.get_xdata()[0] == 1 and train.get_xdata()[-1] == 1000


def test_d_feature_figures(three):
    q, result, start = three
    hist = result.history
    # long names: titles that hold them must wrap, not run off the figure
    names = ["floor area of the flat in square metres", "rooms $", "<script>alert(1)</script>"]
    figures = {
        "surface": loss_surface(q, start=start, j=1, names=names),
        "contours": loss_contours(q, start=start, j=2),
        "sections": cross_sections(q, start, j=1, names=names),
        "slopes": slopes(q, start, j=0, names=names),
        "rates": learning_rates(q, start, j=2, names=names),
        "paths": descent_paths(q, {"mini-batch": (hist.step_b, hist.step_w)}, j=1),
        "losses": loss_curves(hist.train_loss, hist.val_loss),
    }
    for name, (fig, _) in figures.items():
        assert texts_outside(fig) == [], name
    assert "other 2 coefficient(s) at their optimum" in all_text(figures["surface"][0])
    assert r"w_1 (rooms \$)" in all_text(figures["surface"][0])  # escaped: no mathtext
    assert "projected" in all_text(figures["paths"][0])
    assert "dL/dw_0 = " in all_text(figures["slopes"][0])  # which coefficient, with d > 1
    # the section through the start at j=1 holds the other coefficients at the start
    _, (ax_b, ax_w) = figures["sections"]
    start_line = [ln for ln in ax_w.get_lines() if ln.get_label().startswith("start")][0]
    assert start_line.get_xdata()[0] == start[1][1]
    assert start_line.get_ydata()[0] == pytest.approx(float(q.loss(start[0], start[1])))
    with pytest.raises(gradstep.GradstepError, match="one feature"):
        fitted_line(np.zeros((5, 3)), np.zeros(5), 0.0, np.zeros(3))
    with pytest.raises(gradstep.GradstepError, match="one feature"):
        one_update(np.zeros((5, 3)), np.zeros(5), (0.0, np.zeros(3)), (0.0, np.zeros(3)))


def test_run_folder_figures(tmp_path):
    folder, result = make_run_folder(tmp_path / "run", true_w=(2.0, -1.0), names=["a", "b2"])
    run = read_run(folder)
    assert run.d == 2 and run.start is not None
    written = write_run_figures(run, dpi=40)
    assert set(written) == {"loss_curves", "loss_surface", "descent_paths", "cross_sections",
                            "slopes", "learning_rates"}  # fmt: skip
    assert all(p.parent == folder / "figures" and p.is_file() for p in written.values())
    skipped = skipped_run_figures(run)
    assert set(skipped) == {"figure1", "fitted_line", "one_update", "feature_scaling"}


def test_plot_cli_three_features_with_long_markup_names(tmp_path):
    """`gradstep plot` on a d=3 run: every figure that applies, sliced at --feature,
    and no title, label or legend running off a figure whatever the names hold."""
    names = ["<script>alert(1)</script>", "floor area of the flat in square metres", "a$b"]
    folder, _ = make_run_folder(tmp_path / "run3", true_w=(2.0, -1.0, 0.5), names=names)
    run = read_run(folder)
    for name, (fig, _) in draw_run_figures(run, j=1).items():
        assert texts_outside(fig) == [], name
        if name != "loss_curves":
            assert "w_1 (floor area of the flat in square" in all_text(fig), name
    proc = run_cli("plot", folder, "--out", tmp_path / "png", "--dpi", "40",
                   "--feature", names[1])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert written == sorted(
        f"{n}.png"
        for n in (
            "loss_curves",
            "loss_surface",
            "descent_paths",
            "cross_sections",
            "slopes",
            "learning_rates",
        )
    )
    for png in (tmp_path / "png").iterdir():
        with Image.open(png) as img:
            assert img.format == "PNG" and img.width > 200, png.name


def test_run_folder_with_metrics_only(tmp_path):
    folder, _ = make_run_folder(tmp_path / "bare", steps=False, optional=False)
    run = read_run(folder)
    assert run.quadratic is None and run.start is None and run.config is None
    written = write_run_figures(run, tmp_path / "figs", dpi=40)
    assert set(written) == {"loss_curves"}
    assert skipped_run_figures(run)["loss_surface"] == "needs quadratic.json"


def test_plot_cli(tmp_path):
    folder, _ = make_run_folder(tmp_path / "run")
    proc = run_cli("plot", folder, "--out", tmp_path / "png", "--dpi", "40")
    assert proc.returncode == 0, proc.stderr
    assert "loss_surface: " in proc.stdout and "skipped figure1:" in proc.stdout
    assert (tmp_path / "png" / "descent_paths.png").is_file()
    assert_one_line_error(run_cli("plot", tmp_path / "nope"), "does not exist")
    assert_one_line_error(run_cli("plot", tmp_path), "no metrics.csv")
    assert_one_line_error(run_cli("plot", folder, "--feature", "zzz"), "--feature 'zzz'")


def test_bad_metrics_csv_names_line_and_column(tmp_path):
    folder, _ = make_run_folder(tmp_path / "run", optional=False)
    lines = (folder / "metrics.csv").read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[1], "oops", 1)
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(gradstep.GradstepError, match="line 4, column 'b'"):
        read_run(folder)
    (folder / "metrics.csv").write_text("epoch,loss\n1,2\n")
    with pytest.raises(gradstep.GradstepError, match="expected epoch, b, w_0"):
        read_run(folder)


def test_readme_figure_example_runs(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Figures and the report", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in ("surface.png", "rates.png"):
        with Image.open(tmp_path / name) as img:
            assert img.size[0] >= 1000


def typed_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata"}`` (base64) in plotly 6."""
    if isinstance(value, dict):
        import base64

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)


def inside(ax, xs, ys) -> bool:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    return bool(np.all((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)))


def test_demo_grid_is_still_the_minimum_plus_minus_3(demo):
    walk, runs, figures = demo
    q = runs.quadratic
    b_star, w_star = q.minimum()
    start = (walk.init_b, walk.init_w)
    paths = {k: (f.history.step_b, f.history.step_w) for k, f in runs.paths.items()}
    assert auto_half_width(q, start) == (3.0, 3.0)
    assert paths_half_width(q, paths) == (3.0, 3.0)
    bs, ws, _ = q.grid(half_width=auto_half_width(q, start))
    assert bs.shape == (101, 101)
    want_b, want_w = (b_star - 3, b_star + 3), (w_star[0] - 3, w_star[0] + 3)
    np.testing.assert_allclose([bs[0, 0], bs[0, -1], ws[0, 0], ws[-1, 0]], [*want_b, *want_w])
    _, (_, ax2d) = figures["loss_surface"]
    np.testing.assert_allclose([*ax2d.get_xlim(), *ax2d.get_ylim()], [*want_b, *want_w])
    for ax in figures["descent_paths"][1]:
        np.testing.assert_allclose([*ax.get_xlim(), *ax.get_ylim()], [*want_b, *want_w])
        assert ax.get_aspect() == 1.0


def test_run_far_from_its_start_fits_the_start_and_path(tmp_path):
    """An intercept in the target's units (~150) and coefficients O(10), from zero."""
    from gradstep.cli import main
    from gradstep.plots.run_figures import draw_run_figures, run_path
    from gradstep.report.figures import path_figure

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)) * [3.0, 0.5]
    y = 150 + x @ [4.0, -20.0] + rng.normal(size=200)
    csv_path = tmp_path / "far.csv"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", header="a,b2,y", comments="")
    assert main(["train", str(csv_path), "--target", "y", "--out", str(tmp_path / "run")]) == 0
    run = read_run(tmp_path / "run")
    q = run.quadratic
    b_star, w_star = q.minimum()
    assert abs(b_star - run.start[0]) > 100
    _, b, w, _ = run_path(run)
    figures = draw_run_figures(run)
    for j in range(2):
        figures_j = figures if j == 0 else draw_run_figures(run, j=j)
        _, (_, ax2d) = figures_j["loss_surface"]
        (ax,) = figures_j["descent_paths"][1]
        for axes in (ax2d, ax):
            assert inside(axes, [run.start[0]], [run.start[1][j]])
            assert inside(axes, b, np.asarray(w)[:, j])
            assert inside(axes, [b_star], [w_star[j]])
            # ... and the axes are the contour grid (not widened past it by the path)
            hb, hw = paths_half_width(q, {"run": (b, w)}, j=j)
            assert hb >= 1.15 * abs(run.start[0] - b_star) and hb > hw
            np.testing.assert_allclose(
                [*axes.get_xlim(), *axes.get_ylim()],
                [b_star - hb, b_star + hb, w_star[j] - hw, w_star[j] + hw],
            )
        assert ax.get_aspect() != 1.0  # b and w_j on their own scales
        # the contours still close around the minimum: several levels below the edge
        cs = [c for c in ax2d.collections if hasattr(c, "levels")][0]
        _, _, losses = q.grid(half_width=paths_half_width(q, {"run": (b, w)}, j=j), j=j)
        edge = min(losses[0].min(), losses[-1].min(), losses[:, 0].min(), losses[:, -1].min())
        assert np.sum(cs.levels < edge) >= 5
    for name in ("loss_surface", "descent_paths"):
        assert texts_outside(figures[name][0]) == [], name
    # the report's contour panel spans the path too, without a shared scale
    fig = path_figure(q, (list(b), list(np.asarray(w)[:, 0]), None), (0, 1), None, "")
    xs, ys = (typed_array(fig["data"][0][k]) for k in ("x", "y"))
    assert min(xs) <= min(b) and max(xs) >= max(b)
    assert min(ys) <= np.min(np.asarray(w)[:, 0]) and max(ys) >= np.max(np.asarray(w)[:, 0])
    assert "scaleanchor" not in fig["layout"]["yaxis"]


def test_every_figure_shows_itself_as_the_png_the_cli_writes(demo, tmp_path):
    pytest.importorskip("IPython", reason="IPython (with ipykernel, requirements/dev.txt)")
    from IPython.core.formatters import DisplayFormatter

    _, _, figures = demo
    for name, drawn in figures.items():
        assert isinstance(drawn, FigureAxes) and isinstance(drawn.fig, NotebookFigure), name
    # without pyplot's inline backend, IPython finds the figure's own _repr_png_
    fig = figures["loss_curves"].fig
    save_figure(fig, tmp_path / "loss_curves.png")
    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"] == (tmp_path / "loss_curves.png").read_bytes()


def test_a_figure_pair_displays_its_figure_once(demo, monkeypatch):
    pytest.importorskip("IPython", reason="IPython (with ipykernel, requirements/dev.txt)")
    import IPython.display
    from IPython.core.formatters import DisplayFormatter

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    drawn = demo[2]["slopes"]
    data, _ = DisplayFormatter().format(drawn)  # the cell's value: handled by the hook alone
    assert data == {} and shown == [drawn.fig]


def test_a_figure_pyplot_owns_is_left_to_pyplot(monkeypatch):
    pytest.importorskip("IPython", reason="IPython (with ipykernel, requirements/dev.txt)")
    import IPython.display
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    fig, ax = plt.subplots()
    try:
        drawn = loss_curves([3.0, 2.0, 1.0], ax=ax)
        assert drawn.fig is fig and owned_by_pyplot(fig)
        drawn._ipython_display_()  # pyplot's backend shows it: a second image would repeat it
        assert shown == []
    finally:
        plt.close(fig)
    drawn._ipython_display_()  # closed: no longer pyplot's to show
    assert shown == [fig]


def test_single_panel_figures_draw_on_a_given_axes(demo):
    walk, runs, _ = demo
    data, hist = walk.data, walk.trained.history
    fig = NotebookFigure(figsize=(15, 9), layout="constrained")
    axes = fig.subplots(2, 2)
    start = (walk.init_b, walk.init_w)
    drawn = [
        fitted_line(data.x_train, data.y_train, walk.init_b, walk.init_w, ax=axes[0, 0]),
        one_update(
            data.x_train,
            data.y_train,
            start,
            (walk.updated_b, walk.updated_w),
            lr=walk.lr,
            ax=axes[0, 1],
        ),  # fmt: skip
        loss_curves(hist.train_loss, hist.val_loss, ax=axes[1, 0]),
        loss_contours(runs.quadratic, start=start, ax=axes[1, 1]),
    ]
    for pair, ax in zip(drawn, axes.flat, strict=True):
        assert pair.fig is fig and pair.axes is ax
    assert len(fig.axes) == 5  # the four panels and the contours' colorbar
    assert texts_outside(fig) == []


def test_figures_are_not_kept_alive():
    drawn = loss_curves([3.0, 2.0, 1.0])
    figure = weakref.ref(drawn.fig)
    del drawn
    gc.collect()
    assert figure() is None  # nothing global (pyplot's figure list) holds it


def test_a_start_from_randn_1_is_one_number():
    x, y = np.linspace(0, 1, 5), np.linspace(1, 3, 5)
    rng = np.random.RandomState(42)
    b, w = rng.randn(1), rng.randn(1)  # the chapter's start: arrays of one value
    _, ax = fitted_line(x, y, b, w)
    assert f"yhat = {b[0]:.4f} + ({w[0]:.4f}) x" in all_text(ax.figure)
    with pytest.raises(gradstep.GradstepError, match="one number"):
        fitted_line(x, y, np.zeros(2), w)


def test_the_error_label_stays_inside_the_axes_on_either_side(demo):
    walk, _, _ = demo
    data, trained = walk.data, walk.trained
    for b, w in [(walk.init_b, walk.init_w), (trained.intercept, trained.coef)]:
        fig, ax = fitted_line(data.x_train, data.y_train, b, w)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        label = [t for t in ax.texts if t.get_text().startswith("error")][0]
        inner, box = label.get_window_extent(canvas.get_renderer()), ax.get_window_extent()
        assert box.x0 <= inner.x0 and inner.x1 <= box.x1, (b, w)
