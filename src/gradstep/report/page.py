"""The self-contained interactive HTML report of a descent.

One file that works offline: plotly.js is embedded, nothing is fetched. It shows
the walkthrough's steps and values (demo) or the run's configuration and summary
(``gradstep report RUN_DIR``), a 3-D loss surface to rotate, the descent path with
a slider over epochs that moves the point and the fitted line together, the loss
curves, the computation graph (when ``graph.svg`` is in the folder), and the
comparison with the closed-form answer. Reports never train: they draw what a
walkthrough or a run folder already holds.

Every user-supplied string (folder, file and column names, configuration values)
is HTML-escaped, or JSON-escaped inside the page's data element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradstep.files import atomic_write_text
from gradstep.quadratic import QuadraticLoss
from gradstep.report.html import esc, image_data_uri, page, table

MAX_SLIDER_POINTS = 2001  # positions of the slider (long runs are thinned)
MAX_CURVE_POINTS = 5001  # points per loss curve


@dataclass
class ReportInput:
    """Everything a report shows; built by :func:`demo_report_input` or :func:`run_report_input`.

    ``epochs``, ``b`` and ``w`` are the parameters after each epoch (epoch 0 =
    the start, when known); ``loss_epochs``/``train_loss``/``val_loss`` the loss
    curves. ``data`` is ``(x_train, y_train, x_val, y_val)`` with one feature, or None.
    """

    title: str
    subtitle: str
    quadratic: QuadraticLoss | None
    epochs: np.ndarray
    b: np.ndarray
    w: np.ndarray
    loss_epochs: np.ndarray
    train_loss: np.ndarray | None
    val_loss: np.ndarray | None
    feature_names: list[str] | None = None
    data: tuple | None = None
    walkthrough: list[tuple[str, str, str]] | None = None
    config: dict = field(default_factory=dict)
    comparison: tuple[list[str], list[list]] | None = None
    summary: dict | None = None
    graph: tuple[bytes, str] | None = None  # (file content, MIME type)
    graph_note: str = ""
    notes: list[str] = field(default_factory=list)
    j: int = 0  # the coefficient shown on surfaces and paths


# -- building the input -------------------------------------------------------
def find_graph(folder: Path) -> tuple[tuple[bytes, str] | None, str]:
    """The computation graph written next to the report, if any, and a note about it."""
    for name, mime in (("graph.svg", "image/svg+xml"), ("graph.png", "image/png")):
        path = folder / name
        if path.is_file():
            return (path.read_bytes(), mime), ""
    if (folder / "graph.dot").is_file():
        return None, "Only graph.dot was written (Graphviz's dot was missing); install Graphviz."
    return None, "No computation graph (graph.svg) in this folder."


def demo_report_input(walk, out_dir=None) -> ReportInput:
    """The report of ``gradstep.tutorial.walkthrough.run_walkthrough()``'s result."""
    data, trained, hist = walk.data, walk.trained, walk.trained.history
    cf_b, cf_w = walk.closed_form
    sk_b, sk_w = walk.sklearn
    wt = _walkthrough_rows(walk)
    graph, graph_note = find_graph(Path(out_dir)) if out_dir is not None else (None, "")
    config = {
        "command": "gradstep demo",
        "data": f"y = {data.true_b:g} + {data.true_w[0]:g} x + 0.1 noise, N = {len(data.y)}, "
        "seed 42",
        "split": f"{len(data.train_idx)} train, {len(data.val_idx)} validation (shuffled)",
        "init": "random: b = randn(1), w = randn(1) after seed 42",
        "batch": f"full batch ({len(data.train_idx)} points per update)",
        "lr": walk.lr,
        "epochs": walk.epochs,
        "engine": trained.engine,
    }
    if out_dir is not None:
        config["output folder"] = str(out_dir)
    return ReportInput(
        title="gradstep demo: linear regression by gradient descent",
        subtitle="The document's walkthrough on its own data, step by step",
        quadratic=QuadraticLoss.from_data(data.x_train, data.y_train),
        epochs=np.arange(hist.first_epoch - 1, hist.first_epoch + hist.epochs),
        b=np.concatenate([[walk.init_b], hist.b]),
        w=np.vstack([walk.init_w, hist.w]),
        loss_epochs=hist.first_epoch + np.arange(hist.epochs),
        train_loss=hist.train_loss, val_loss=hist.val_loss,
        data=(data.x_train[:, 0], data.y_train, data.x_val[:, 0], data.y_val),
        walkthrough=wt, config=config,
        comparison=(
            ["parameter", "gradient descent", "closed form (lstsq)", "scikit-learn",
             "|descent - closed form|"],
            [["b", repr(trained.intercept), repr(cf_b), repr(sk_b),
              f"{abs(trained.intercept - cf_b):.3e}"],
             ["w", repr(float(trained.coef[0])), repr(float(cf_w[0])), repr(float(sk_w[0])),
              f"{abs(float(trained.coef[0]) - float(cf_w[0])):.3e}"]],
        ),
        graph=graph, graph_note=graph_note,
    )  # fmt: skip


def _walkthrough_rows(walk) -> list[tuple[str, str, str]]:
    from gradstep.tutorial.walkthrough import DOCUMENT_PRINTED_FIRST_LOSS

    def arr(v):
        return str(np.atleast_1d(np.asarray(v, dtype=np.float64)))

    data, trained, hist = walk.data, walk.trained, walk.trained.history
    first = ", ".join(f"{v:.4f}" for v in walk.first_predictions[:5])
    return [
        ("Data", "y = b + w x + noise; shuffle, split",
         f"{len(data.train_idx)} train and {len(data.val_idx)} validation points"),
        ("Step 0: random initialisation", "seed 42; b = randn(1); w = randn(1)",
         f"b, w = {arr(walk.init_b)} {arr(walk.init_w)}"),
        ("Step 1: predictions (forward pass)", "yhat = b + w x_train", f"[{first}, ...]"),
        ("Step 2: loss (batch)", "MSE = mean((yhat - y)^2)",
         f"{walk.first_loss!r} (the document prints {DOCUMENT_PRINTED_FIRST_LOSS!r}, which "
         "its own code does not give)"),
        ("Step 3: gradients", "dL/db = 2 mean(e); dL/dw = 2 mean(x e)",
         f"{walk.b_grad!r} {float(walk.w_grad[0])!r}"),
        (f"Step 4: update (lr = {walk.lr:g})", "b -= lr dL/db; w -= lr dL/dw",
         f"{arr(walk.init_b)} {arr(walk.init_w)} -> {arr(walk.updated_b)} {arr(walk.updated_w)}"),
        (f"Rinse and repeat: {trained.epochs} epochs", "steps 1-4 again and again",
         f"b = {trained.intercept!r}, w = {float(trained.coef[0])!r}; train MSE "
         f"{hist.train_loss[-1]:.6f}, validation MSE {hist.val_loss[-1]:.6f}"),
    ]  # fmt: skip


def run_report_input(run, j: int = 0, name: str | None = None) -> ReportInput:
    """The report of a run folder (``gradstep.runs.folder.read_run``).

    ``name`` is the run's name for the title, by default its folder's name (pass it
    when the folder is still a temporary one that will be renamed).
    """
    m, q, names = run.metrics, run.quadratic, run.feature_names
    epochs, b, w = m.index, m.b, m.w
    start = run.start
    if start is not None:
        epochs = np.concatenate([[int(m.index[0]) - 1], epochs])
        b, w = np.concatenate([[start[0]], b]), np.vstack([start[1], w])
    notes = []
    if run.scaled:
        notes.append(
            "The descent ran on standardised features: parameters, paths and the loss "
            "surface are in those units (model.json holds the original units)."
        )
    if q is None:
        notes.append("No quadratic.json in the folder: the loss surface cannot be drawn.")
    comparison = None
    if q is not None:
        b_star, w_star = q.minimum()
        labels = ["b"] + [
            ("w" if run.d == 1 else f"w_{i}") + (f" ({names[i]})" if names else "")
            for i in range(run.d)
        ]
        rows = [[label, repr(float(got)), repr(float(want)), f"{abs(got - want):.3e}"]
                for label, got, want in zip(labels, [m.b[-1], *m.w[-1]], [b_star, *w_star],
                                            strict=True)]  # fmt: skip
        rows.append(["training MSE", repr(float(q.loss(m.b[-1], m.w[-1] if run.d > 1 else
                                                       m.w[-1, 0]))),
                     repr(q.min_loss), ""])  # fmt: skip
        comparison = (["parameter", "gradient descent (last epoch)",
                       "closed form (from quadratic.json)", "|difference|"], rows)  # fmt: skip
    graph, graph_note = find_graph(run.path)
    return ReportInput(
        title=f"gradstep run: {name or run.path.resolve().name}",
        subtitle=f"Read from {run.path}" if name is None else f"Run folder {name}",
        quadratic=q, epochs=np.asarray(epochs), b=np.asarray(b), w=np.asarray(w),
        loss_epochs=m.index, train_loss=m.train_loss, val_loss=m.val_loss,
        feature_names=names, config=run.config or {}, comparison=comparison,
        summary=run.summary, graph=graph, graph_note=graph_note if graph is None else "",
        notes=notes, j=j,
    )  # fmt: skip


# -- assembling the page --------------------------------------------------------
def _thin(n: int, most: int = MAX_SLIDER_POINTS) -> np.ndarray:
    """Indices of at most ``most`` of ``n``: the first 200 (where the descent moves
    most), then evenly spaced ones up to the last."""
    if n <= most:
        return np.arange(n)
    head = np.arange(200)
    rest = np.linspace(0, n - 1, most - len(head)).round().astype(int)
    return np.unique(np.concatenate([head, rest]))


def _finite_list(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def _flatten(payload, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            rows += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        if len(text) > 300:
            text = text[:300] + " ..."
        rows.append((prefix, text))
    return rows


def _path(inp: ReportInput) -> dict:
    idx = _thin(len(inp.b))
    b = np.asarray(inp.b, dtype=np.float64)[idx]
    w = np.asarray(inp.w, dtype=np.float64)[idx]
    d = w.shape[1]
    if inp.quadratic is not None:
        loss = inp.quadratic.loss_theta(np.column_stack([b, w]))
    else:
        by_epoch = dict(zip(np.asarray(inp.loss_epochs).tolist(),
                            np.asarray(inp.train_loss if inp.train_loss is not None else
                                       np.full(len(inp.loss_epochs), np.nan)).tolist(),
                            strict=True))  # fmt: skip
        loss = np.array([by_epoch.get(int(e), np.nan) for e in np.asarray(inp.epochs)[idx]])
    path = {
        "epoch": [int(e) for e in np.asarray(inp.epochs)[idx]],
        "b": _finite_list(b),
        "w": _finite_list(w[:, inp.j]),
        "loss": _finite_list(loss),
    }
    if d <= 8:
        path["w_all"] = [_finite_list(row) for row in w]
    return path


def _line_range(inp: ReportInput) -> list[float] | None:
    if inp.data is not None:
        xs = np.concatenate([np.asarray(inp.data[0]).ravel(), np.asarray(inp.data[2]).ravel()])
        return [min(0.0, float(xs.min())), max(1.0, float(xs.max()))]
    q = inp.quadratic
    if q is None or q.d != 1:
        return None
    mean = float(q.gram[0, 1])
    sd = float(np.sqrt(max(q.gram[1, 1] - mean**2, 0.0))) or 1.0
    return [mean - 2 * sd, mean + 2 * sd]


def build_report(inp: ReportInput) -> str:
    """The report's HTML text."""
    from gradstep.report import figures as rf

    q, j = inp.quadratic, inp.j
    d = np.asarray(inp.w).shape[1]
    path = _path(inp)
    line_x = _line_range(inp)
    note = "" if q is None or q.d == 1 else f"b and w_{j}; other coefficients at their optimum"
    pb, pw, pl = path["b"], path["w"], path["loss"]
    figures = {}
    if q is not None:
        figures["plot-surface"] = rf.surface_figure(q, (pb, pw, pl), j, inp.feature_names, note)
        figures["plot-path"] = rf.path_figure(q, (pb, pw, pl), j, inp.feature_names, note)
    if line_x is not None:
        x_label = "x" if not inp.feature_names else rf.plain(inp.feature_names[0])
        figures["plot-line"] = rf.line_figure(inp.data, line_x, (pb, pw), x_label)
    if inp.train_loss is not None or inp.val_loss is not None:
        keep = _thin(len(inp.loss_epochs), MAX_CURVE_POINTS)
        figures["plot-losses"] = rf.loss_figure(
            [int(e) for e in np.asarray(inp.loss_epochs)[keep]],
            None if inp.train_loss is None else _finite_list(np.asarray(inp.train_loss)[keep]),
            None if inp.val_loss is None else _finite_list(np.asarray(inp.val_loss)[keep]),
            (path["epoch"][-1], pl[-1]),
        )
    w_name = "w" if d == 1 else f"w_{j}"
    data = {"figures": figures, "path": path, "line_x": line_x, "w_name": w_name}
    sections = _sections(inp, figures, path)
    return page(inp.title, inp.subtitle, sections, data)


def _plot_div(plot_id: str, figures: dict) -> str:
    return f'<div id="{plot_id}" class="plot"></div>' if plot_id in figures else ""


def _sections(inp: ReportInput, figures: dict, path: dict) -> list[tuple[str, str, str]]:
    sections = []
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in inp.notes)
    if inp.walkthrough:
        steps = table(inp.walkthrough, ["step", "what", "value"], numeric_from=3)
        sections.append(("walkthrough", "The walkthrough, step by step", steps))
    if "plot-surface" in figures:
        sections.append(("surface", "Loss surface",
                         '<p class="note">Drag to rotate, scroll to zoom. The red line is the '
                         "descent; the orange point follows the slider below.</p>"
                         + _plot_div("plot-surface", figures)))  # fmt: skip
    last = len(path["epoch"]) - 1
    controls = (
        '<div class="controls"><button id="play" type="button">Play</button>'
        f'<label for="epoch-slider">epoch</label>'
        f'<input type="range" id="epoch-slider" min="0" max="{last}" step="1" value="{last}">'
        '</div><p><output id="epoch-readout" for="epoch-slider"></output></p>'
    )
    row = "".join(_plot_div(p, figures) for p in ("plot-path", "plot-line"))
    sections.append(("descent", "The descent, epoch by epoch",
                     notes + controls + f'<div class="row">{row}</div>'))  # fmt: skip
    if "plot-losses" in figures:
        sections.append(("losses", "Loss curves", _plot_div("plot-losses", figures)))
    if inp.graph is not None:
        content, mime = inp.graph
        body = (f'<div class="graph"><img alt="computation graph" '
                f'src="{image_data_uri(content, mime)}"></div>')  # fmt: skip
        sections.append(("graph", "Computation graph", body))
    elif inp.graph_note:
        sections.append(
            ("graph", "Computation graph", f'<p class="note">{esc(inp.graph_note)}</p>')
        )
    if inp.comparison is not None:
        header, rows = inp.comparison
        sections.append(("closed-form", "Gradient descent and the closed form",
                         table(rows, header)))  # fmt: skip
    sections.append(("config", "Configuration",
                     _long_table(_flatten(inp.config), ["option", "value"]) if inp.config else
                     '<p class="note">No configuration recorded.</p>'))  # fmt: skip
    if inp.summary:
        sections.append(
            ("summary", "Summary", _long_table(_flatten(inp.summary), ["item", "value"]))
        )
    return sections


def _long_table(rows, header, fold: int = 20) -> str:
    """A table, folded away behind a summary line when it has more than ``fold`` rows."""
    html = table(rows, header)
    if len(rows) <= fold:
        return html
    return f"<details><summary>{len(rows)} entries (click to show)</summary>\n{html}\n</details>"


# -- writing --------------------------------------------------------------------
def write_report(inp: ReportInput, path) -> Path:
    """Build the report and write it atomically to ``path``."""
    target = Path(path)
    atomic_write_text(target, build_report(inp))
    return target


def write_demo_report(walk, out_dir) -> Path:
    """``out_dir/report.html`` for the demo (after any ``graph.svg`` is written there)."""
    return write_report(demo_report_input(walk, out_dir), Path(out_dir) / "report.html")


def write_run_report(run, out=None, j: int = 0, name: str | None = None) -> Path:
    """``RUN_DIR/report.html`` (or ``out``) for a run folder read by ``read_run``."""
    target = Path(out) if out is not None else run.path / "report.html"
    return write_report(run_report_input(run, j=j, name=name), target)
