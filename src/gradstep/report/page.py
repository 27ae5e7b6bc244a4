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
from gradstep.report.slices import most_moved

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
    j: int = 0  # the coefficient shown on surfaces and paths (when ``axes`` is None)
    axes: tuple[int, int] | None = None  # the two coordinates of (b, w_0, ...) shown
    lr: float | None = None  # the run's learning rate: the live descent's first value
    batch_size: int | None = None  # the run's batches (None: full batch)
    rows: object | None = None  # report.rows.Rows: predicted and actual targets
    rows_note: str = ""  # why there are no rows
    coefficients: tuple[list[str], list[list]] | None = None  # original units
    scaled: bool = False  # the descent saw standardised features
    race: object | None = None  # gradstep.racing.Race: optimizers raced on the same data
    race_note: str = ""  # what the race is (a run report's: from quadratic.json), or why none
    scaler: dict | None = None  # model.json's scaler, when the descent saw standardised features
    paths: dict | None = None  # label -> theta rows (first: the start) of recorded descents
    paths_note: str = ""  # what the paths are, or why there are none

    @property
    def shown(self) -> tuple[int, int]:
        return self.axes if self.axes is not None else (0, 1 + self.j)


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


def demo_report_input(walk, out_dir=None, race=None, paths=None) -> ReportInput:
    """The report of ``gradstep.tutorial.walkthrough.run_walkthrough()``'s result; ``race``
    (:func:`gradstep.race`'s result, e.g. the demo runs') adds the optimizers section;
    ``paths`` (label -> fit with ``record_steps``, as ``DemoRuns.paths``) the batch paths,
    run here when not given."""
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
        graph=graph, graph_note=graph_note, lr=walk.lr, race=race,
        paths=_demo_paths(walk, paths), paths_note=DEMO_PATHS_NOTE,
    )  # fmt: skip


DEMO_PATHS_NOTE = (
    "The same 20 epochs from the walkthrough's start at lr 0.1 with every update recorded: "
    "batch (one update an epoch, all 80 points), mini-batch (16 points, 5 updates an "
    "epoch) and stochastic (one point, 80 updates an epoch). Click a legend entry to hide "
    "a path."
)


def _demo_paths(walk, paths=None) -> dict:
    """Label -> theta rows of the demo's batch, mini-batch and stochastic descents."""
    if paths is None:
        from gradstep.api import fit
        from gradstep.tutorial.demo_runs import ILLUSTRATION_LR, PATH_BATCH_SIZES

        data = walk.data
        paths = {label: fit(data.x_train, data.y_train, lr=ILLUSTRATION_LR, epochs=20,
                            batch_size=size, init=(walk.init_b, walk.init_w),
                            record_steps=True)
                 for label, size in PATH_BATCH_SIZES.items()}  # fmt: skip
    return {label: np.column_stack([r.history.step_b, r.history.step_w])
            for label, r in paths.items()}  # fmt: skip


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
         f"{walk.first_loss!r} (as the book and its notebook print; only the blog repost "
         f"prints {DOCUMENT_PRINTED_FIRST_LOSS!r}, which its own code does not give)"),
        ("Step 3: gradients", "dL/db = 2 mean(e); dL/dw = 2 mean(x e)",
         f"{walk.b_grad!r} {float(walk.w_grad[0])!r}"),
        (f"Step 4: update (lr = {walk.lr:g})", "b -= lr dL/db; w -= lr dL/dw",
         f"{arr(walk.init_b)} {arr(walk.init_w)} -> {arr(walk.updated_b)} {arr(walk.updated_w)}"),
        (f"Rinse and repeat: {trained.epochs} epochs", "steps 1-4 again and again",
         f"b = {trained.intercept!r}, w = {float(trained.coef[0])!r}; train MSE "
         f"{hist.train_loss[-1]:.6f}, validation MSE {hist.val_loss[-1]:.6f}"),
    ]  # fmt: skip


def run_report_input(run, j: int | None = None, name: str | None = None) -> ReportInput:
    """The report of a run folder (``gradstep.runs.folder.read_run``).

    ``j`` picks the slice over ``b`` and ``w_j``; by default (None) the slice is over the
    two coordinates the descent moved most (:func:`gradstep.report.slices.most_moved`).
    ``name`` is the run's name for the title, by default its folder's name (pass it
    when the folder is still a temporary one that will be renamed).
    """
    from gradstep.report.rows import read_rows

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
    graph, _ = find_graph(run.path)  # no graph: no section (a run has no graph to draw)
    theta = np.column_stack([b, w])
    axes = (0, 1 + j) if j is not None else most_moved(theta[0], theta[-1])
    summary = run.summary or {}
    resolved = (run.config or {}).get("resolved") or {}
    options = (run.config or {}).get("options") or {}
    lr = summary.get("lr", resolved.get("lr", options.get("lr")))
    rows, rows_note = read_rows(run)
    race, race_note = _run_race(q, theta[0], lr, summary, resolved, run.start is not None)
    paths, paths_note = _run_paths(run, q, theta[0], lr)
    return ReportInput(
        title=f"gradstep run: {name or run.path.resolve().name}",
        subtitle=f"Read from {run.path}" if name is None else f"Run folder {name}",
        quadratic=q, epochs=np.asarray(epochs), b=np.asarray(b), w=np.asarray(w),
        loss_epochs=m.index, train_loss=m.train_loss, val_loss=m.val_loss,
        feature_names=names, config=run.config or {}, comparison=comparison,
        summary=run.summary, graph=graph, notes=notes, j=j or 0, axes=axes,
        lr=float(lr) if isinstance(lr, (int, float)) else None,
        batch_size=summary.get("batch_size", resolved.get("batch_size")),
        rows=rows, rows_note=rows_note, coefficients=_original_units(summary), scaled=run.scaled,
        race=race, race_note=race_note, scaler=(run.model or {}).get("scaler") or None,
        paths=paths, paths_note=paths_note,
    )  # fmt: skip


RACE_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
RACE_MAX_EPOCHS = 2000  # a run report's race: at most this many epochs ...
RACE_WORK = 1.5e9  # ... and this many multiply-adds in all (well under a second)


def race_epochs(budget: int, k: int, racers: int = len(RACE_OPTIMIZERS)) -> int:
    """The race's epochs: the run's budget, at most :data:`RACE_MAX_EPOCHS` and within
    :data:`RACE_WORK` for ``racers`` racers of ``k * k`` an epoch."""
    return int(max(1, min(budget, RACE_MAX_EPOCHS, max(50, RACE_WORK // (racers * k * k)))))


def _run_race(q, theta0, lr, summary: dict, resolved: dict, known_start: bool):
    """The optimizers raced from the run's start at its rate, from ``quadratic.json``."""
    from gradstep.errors import GradstepError
    from gradstep.racing import race_from_quadratic

    if q is None:
        return None, "No quadratic.json in the folder: the optimizers cannot be raced."
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        return None, "The folder records no learning rate: the optimizers cannot be raced."
    budget = summary.get("epoch_cap", resolved.get("epochs"))
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        budget = RACE_MAX_EPOCHS
    tol = summary.get("tol", resolved.get("tol", 1e-8))
    tol = float(tol) if isinstance(tol, (int, float)) and tol > 0 else None
    epochs = race_epochs(budget, q.d + 1)
    try:
        race = race_from_quadratic(q, theta0, RACE_OPTIMIZERS, float(lr), epochs, tol)
    except GradstepError as exc:
        return None, f"The optimizers could not be raced: {str(exc).splitlines()[0]}"
    capped = "" if epochs == budget else (
        f" (the run's budget is {budget}; capped at {epochs} to keep the report quick)"
    )  # fmt: skip
    start = "this run's start" if known_start else "the first recorded epoch (no start recorded)"
    batch = summary.get("batch_size", resolved.get("batch_size"))
    minibatch = (f" The run itself took mini-batches of {int(batch)}; the race is full batch."
                 if isinstance(batch, int) and not isinstance(batch, bool) else "")  # fmt: skip
    note = (
        f"From {start} at its learning rate {float(lr):.6g}, full batch on the training loss "
        f"of quadratic.json: at most {epochs} epochs{capped}"
        + ("" if tol is None else f", until certified within tol {tol:g}")
        + ". Hyperparameters are torch.optim's defaults (momentum and nesterov: 0.9). Each "
        "path is gradstep.fit(optimizer=...) on the training rows, computed from their "
        f"statistics alone (racing.race_from_quadratic).{minibatch}"
    )
    return race, note


def _run_paths(run, q, theta0, lr):
    """The run's per-update path (steps.csv) beside the full-batch descent, or why none."""
    if q is None:
        return None, "No quadratic.json in the folder: no contours to draw paths on."
    if run.steps is None or len(run.steps.index) < 2:
        return None, (
            "This run folder has no steps.csv: gradstep train records the parameters once an "
            "epoch (metrics.csv, drawn in the sections above), not after every update, so the "
            "batch, mini-batch and stochastic paths of this run cannot be drawn here, and a "
            "run folder keeps no data rows to rerun them. The demo's report shows all three "
            "(gradstep demo); a folder written with steps.csv (docs/run-folder.md) shows its "
            "own path here."
        )
    steps = np.column_stack([run.steps.b, run.steps.w])
    label = "recorded updates (steps.csv)"
    paths = {label: steps}
    note = f"The {len(steps) - 1} updates steps.csv records, one point each"
    epochs = len(run.metrics.index)
    if isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0 and epochs >= 1:
        from gradstep.report.lessons import plain_steps

        paths[f"full batch, {epochs} epochs (from quadratic.json)"] = plain_steps(
            q, steps[0], float(lr), epochs
        )
        note += (f", beside the full-batch descent from the same start at the same rate "
                 f"{float(lr):.6g} for the same {epochs} epochs (one point an epoch)")  # fmt: skip
    return paths, note + ". Click a legend entry to hide a path."


def _original_units(summary: dict) -> tuple[list[str], list[list]] | None:
    """The descent's coefficients in original units beside least squares (summary.json)."""
    coef, cf = summary.get("coef"), (summary.get("closed_form") or {})
    if not isinstance(coef, dict) or not isinstance(cf.get("coef"), dict):
        return None
    pairs = [("intercept", summary.get("intercept"), cf.get("intercept"))]
    pairs += [(name, value, cf["coef"].get(name)) for name, value in coef.items()]
    rows = []
    for name, got, want in pairs:
        if not all(isinstance(v, (int, float)) for v in (got, want)):
            continue
        diff = abs(got - want)
        rel = diff / abs(want) if want else float("nan")
        rows.append([name, repr(float(got)), repr(float(want)), f"{diff:.3e}", f"{rel:.2e}"])
    header = ["parameter", "gradient descent", "least squares", "|difference|", "relative"]
    return (header, rows) if rows else None


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
    p, r = inp.shown
    theta = np.column_stack([b, w])
    path = {
        "epoch": [int(e) for e in np.asarray(inp.epochs)[idx]],
        "b": _finite_list(b),
        "w": _finite_list(w[:, r - 1]),  # the slice's w coordinate (r > p >= 0)
        "u": _finite_list(theta[:, p]),
        "v": _finite_list(theta[:, r]),
        "loss": _finite_list(loss),
    }
    if inp.quadratic is not None:
        path["excess"] = _finite_list(_excess(inp.quadratic, theta))
    if d <= 8:
        path["w_all"] = [_finite_list(row) for row in w]
    return path


def _excess(q: QuadraticLoss, theta: np.ndarray) -> np.ndarray:
    """``L(theta) - L*`` as ``delta^T G delta`` (exact near the minimum, never < 0)."""
    delta = np.asarray(theta, dtype=np.float64) - np.r_[q.minimum()[0], q.minimum()[1]]
    return np.maximum(np.einsum("...i,ij,...j->...", delta, q.gram, delta), 0.0)


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

    q = inp.quadratic
    d = np.asarray(inp.w).shape[1]
    axes = inp.shown
    path = _path(inp)
    line_x = _line_range(inp)
    note = ""
    if q is not None and q.d > 1:
        labels = [rf.coord_title(k, q.d, inp.feature_names) for k in axes]
        note = f"{labels[0]} and {labels[1]}; other coefficients at their optimum"
    pu, pv, pl = path["u"], path["v"], path["loss"]
    figures = {}
    live = None
    if q is not None:
        figures["plot-surface"] = rf.surface_figure(q, (pu, pv, pl), axes, inp.feature_names, note)
        figures["plot-path"] = rf.path_figure(q, (pu, pv, pl), axes, inp.feature_names, note)
        live, live_figures = _live(inp, path)
        figures.update(live_figures)
    if line_x is not None:
        x_label = "x" if not inp.feature_names else rf.plain(inp.feature_names[0])
        figures["plot-line"] = rf.line_figure(inp.data, line_x, (path["b"], path["w"]), x_label)
    if inp.train_loss is not None or inp.val_loss is not None:
        keep = _thin(len(inp.loss_epochs), MAX_CURVE_POINTS)
        figures["plot-losses"] = rf.loss_figure(
            [int(e) for e in np.asarray(inp.loss_epochs)[keep]],
            None if inp.train_loss is None else _finite_list(np.asarray(inp.train_loss)[keep]),
            None if inp.val_loss is None else _finite_list(np.asarray(inp.val_loss)[keep]),
            (path["epoch"][-1], pl[-1]),
        )
    if q is not None:
        theta = np.column_stack([inp.b, inp.w])
        epochs = np.asarray(inp.epochs)
        keep = _thin(len(epochs), MAX_CURVE_POINTS)
        keep = keep[epochs[keep] >= 1]  # epoch 0 has no place on a log axis
        if keep.size:
            excess = _excess(q, theta[keep])
            figures["plot-excess"] = rf.excess_figure(
                [int(e) for e in epochs[keep]],
                _finite_list(excess),
                (path["epoch"][-1], path["excess"][-1]),
            )
    if inp.race is not None:
        figures["plot-race-paths"], figures["plot-race-losses"] = rf.race_figures(
            inp.race, inp.feature_names
        )
    lessons = _lessons(inp, figures)
    if inp.rows is not None:
        rows = inp.rows
        target = (inp.summary or {}).get("target", "y")
        figures["plot-predicted"], figures["plot-residuals"] = rf.prediction_figures(
            rows.y_train, rows.pred_train, "training rows", target
        )
    w_name = "w" if d == 1 else f"w_{axes[1] - 1}"
    data = {"figures": figures, "path": path, "line_x": line_x, "w_name": w_name, "live": live,
            "lessons": lessons}  # fmt: skip
    sections = _sections(inp, figures, path, live, lessons)
    from gradstep.report.lessons import LESSONS_SCRIPT
    from gradstep.report.live import LIVE_SCRIPT

    return page(inp.title, inp.subtitle, sections, data, scripts=(LIVE_SCRIPT, LESSONS_SCRIPT))


def _lessons(inp: ReportInput, figures: dict) -> dict:
    """The slope, scaling and paths lessons' payloads; their figures go into ``figures``."""
    from gradstep.report import lessons as rl

    q = inp.quadratic
    if q is None:
        return {}
    start = np.r_[np.asarray(inp.b, dtype=np.float64)[0], np.asarray(inp.w, dtype=np.float64)[0]]
    out = {}
    slopes, slope_figures = rl.slope_parts(q, start, inp.shown, inp.feature_names)
    out["slopes"] = slopes
    figures.update(slope_figures)
    scaling, scaling_figures = rl.scaling_parts(q, inp.scaler, start, inp.shown,
                                                inp.feature_names, inp.scaled)  # fmt: skip
    out["scaling"] = scaling
    figures.update(scaling_figures)
    if inp.paths:
        figures["plot-paths"] = rl.paths_figure(q, inp.paths, inp.shown, inp.feature_names, "")
    return out


def _live(inp: ReportInput, path: dict) -> tuple[dict, dict]:
    """The live descent's payload and figures, started where the run started."""
    from gradstep.report.figures import plain
    from gradstep.report.live import live_parts

    q = inp.quadratic
    theta = np.column_stack([inp.b, inp.w])
    epochs = np.asarray(inp.epochs)
    idx = _thin(len(epochs))
    keep = idx[epochs[idx] >= 1]
    recorded = (theta[idx], [int(e) for e in epochs[keep]], _finite_list(_excess(q, theta[keep])))
    if inp.lr is not None and np.isfinite(inp.lr) and inp.lr > 0:
        lr = float(inp.lr)
    else:
        from gradstep.report.live import hessian_extremes

        lr = 1.0 / hessian_extremes(q)[1]  # half the divergence threshold
    x_label = None
    if q.d == 1:
        x_label = "x" if not inp.feature_names else plain(inp.feature_names[0])
    run_epochs = int(epochs[-1] - epochs[0]) or 1
    return live_parts(q, start=theta[0], lr=lr, epochs=run_epochs, axes=inp.shown,
                      names=inp.feature_names, recorded=recorded, data=inp.data,
                      x_label=x_label, scaled=inp.scaled)  # fmt: skip


def _plot_div(plot_id: str, figures: dict) -> str:
    return f'<div id="{plot_id}" class="plot"></div>' if plot_id in figures else ""


def _sections(inp: ReportInput, figures: dict, path: dict, live,
              lessons: dict | None = None) -> list[tuple[str, str, str]]:  # fmt: skip
    from gradstep.report.lessons import scaling_section, slope_section
    from gradstep.report.live import live_section

    sections = []
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in inp.notes)
    if inp.walkthrough:
        steps = table(inp.walkthrough, ["step", "what", "value"], numeric_from=3)
        sections.append(("walkthrough", "The walkthrough, step by step", steps))
    if live is not None:
        batch = ""
        if inp.batch_size:
            batch = (f"The run itself took mini-batches of {int(inp.batch_size)}; this is the "
                     "full-batch descent on the same data.")  # fmt: skip
        d = np.asarray(inp.w).shape[1]
        sections.append(("live", "Try it: the descent, live", live_section(live, d, esc(batch))))
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
    sections.append(("descent", "The recorded descent, epoch by epoch",
                     notes + controls + f'<div class="row">{row}</div>'))  # fmt: skip
    curves = "".join(_plot_div(p, figures) for p in ("plot-losses", "plot-excess"))
    if curves:
        sections.append(("losses", "Loss curves", f'<div class="row">{curves}</div>'))
    lessons = lessons or {}
    if "slopes" in lessons:
        sections.append(("slopes", "The gradient is a slope", slope_section(lessons["slopes"])))
    if "scaling" in lessons:
        d = np.asarray(inp.w).shape[1]
        sections.append(("scaling", "Feature scaling",
                         scaling_section(lessons["scaling"], d)))  # fmt: skip
    if "plot-paths" in figures:
        sections.append(("paths", "Batch, mini-batch and stochastic paths",
                         f'<p class="note">{esc(inp.paths_note)}</p>'
                         + _plot_div("plot-paths", figures)))  # fmt: skip
    elif inp.paths_note:
        sections.append(("paths", "Batch, mini-batch and stochastic paths",
                         f'<p class="note">{esc(inp.paths_note)}</p>'))  # fmt: skip
    if "plot-race-paths" in figures:
        note = (f'<p class="note">{esc(inp.race_note)} {esc(_outcomes(inp.race))}.</p>'
                if inp.race_note else _race_note(inp.race))  # fmt: skip
        sections.append(("optimizers", "Optimizers raced on the same loss surface",
                         note + '<div class="row">'
                         + _plot_div("plot-race-paths", figures)
                         + _plot_div("plot-race-losses", figures) + "</div>"))  # fmt: skip
    elif inp.race_note:
        sections.append(("optimizers", "Optimizers raced on the same loss surface",
                         f'<p class="note">{esc(inp.race_note)}</p>'))  # fmt: skip
    if "plot-predicted" in figures:
        body = (f'<p class="note">The training rows of {esc(inp.rows.source)}, read again and '
                "split as the run split them (their statistics match quadratic.json); "
                "predictions by model.json.</p><div class=\"row\">"
                + _plot_div("plot-predicted", figures) + _plot_div("plot-residuals", figures)
                + "</div>")  # fmt: skip
        sections.append(("predictions", "Predicted against actual", body))
    elif inp.rows_note and inp.summary and isinstance(inp.summary.get("metrics"), dict):
        rows = [[part, *(f"{float(v):.6g}" for v in m.values())]
                for part, m in inp.summary["metrics"].items() if isinstance(m, dict)]  # fmt: skip
        header = ["rows", *next(iter(inp.summary["metrics"].values())).keys()]
        body = (f'<p class="note">No predicted-against-actual plot: a run folder keeps no data '
                f"rows and {esc(inp.rows_note)}. The fit's metrics from summary.json:</p>"
                + table(rows, header))  # fmt: skip
        sections.append(("predictions", "How well it predicts", body))
    if inp.comparison is not None:
        header, rows = inp.comparison
        body = table(rows, header)
        if inp.coefficients is not None:
            body = ('<p class="note">In the units the descent saw (from quadratic.json):</p>'
                    + body + '<p class="note">In the original units (summary.json):</p>'
                    + table(inp.coefficients[1], inp.coefficients[0]))  # fmt: skip
        sections.append(("closed-form", "Gradient descent and the closed form", body))
    sections.append(("config", "Configuration",
                     _long_table(_flatten(inp.config), ["option", "value"]) if inp.config else
                     '<p class="note">No configuration recorded.</p>'))  # fmt: skip
    if inp.summary:
        sections.append(
            ("summary", "Summary", _long_table(_flatten(inp.summary), ["item", "value"]))
        )
    if inp.graph is not None:
        content, mime = inp.graph
        body = (f'<div class="graph"><img alt="computation graph" '
                f'src="{image_data_uri(content, mime)}"></div>')  # fmt: skip
        sections.append(("graph", "Computation graph", body))
    elif inp.graph_note:
        sections.append(
            ("graph", "Computation graph", f'<p class="note">{esc(inp.graph_note)}</p>')
        )
    return sections


def _outcomes(race) -> str:
    return "; ".join(f"{r.label}: {r.outcome}" for r in race.racers)


def _race_note(race) -> str:
    tol = "" if race.tol is None else f", until certified within tol {race.tol:g}"
    outcomes = "; ".join(f"{r.label}: {r.outcome}" for r in race.racers)
    return (
        f'<p class="note">Every optimizer from the same start on the same training loss, '
        f"at most {race.epochs} epochs{tol} (gradstep.race). {esc(outcomes)}.</p>"
    )


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


def write_demo_report(walk, out_dir, race=None) -> Path:
    """``out_dir/report.html`` for the demo (after any ``graph.svg`` is written there);
    ``race`` adds the optimizers section (``gradstep demo`` passes its demo runs' race)."""
    return write_report(demo_report_input(walk, out_dir, race), Path(out_dir) / "report.html")


def write_run_report(run, out=None, j: int | None = None, name: str | None = None) -> Path:
    """``RUN_DIR/report.html`` (or ``out``) for a run folder read by ``read_run``; ``j`` as
    in :func:`run_report_input` (None: the two coordinates the descent moved most)."""
    target = Path(out) if out is not None else run.path / "report.html"
    return write_report(run_report_input(run, j=j, name=name), target)
