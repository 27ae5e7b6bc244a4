"""The training rows behind a run report's predicted-versus-actual and residual plots.

A run folder keeps no data rows: ``model.json`` is what ``predict`` needs, and
``quadratic.json`` is only the statistics of the rows. So the report reads the table
that ``config.json`` names again and splits it as ``gradstep train`` did (same options,
same seed), and uses the rows only when their statistics match ``quadratic.json`` to
1e-9: a table changed since training, standard input, or a file that is gone gives no
rows, and the report says why and shows the metrics ``summary.json`` holds instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_POINTS = 2000  # per plot: evenly spaced rows beyond this


@dataclass
class Rows:
    """Actual and predicted targets (original units) of the training and validation rows."""

    y_train: np.ndarray
    pred_train: np.ndarray
    y_val: np.ndarray | None
    pred_val: np.ndarray | None
    source: str


def _thin(values: np.ndarray | None) -> np.ndarray | None:
    if values is None or len(values) <= MAX_POINTS:
        return values
    return values[np.linspace(0, len(values) - 1, MAX_POINTS).round().astype(int)]


def read_rows(run) -> tuple[Rows | None, str]:
    """``(rows, "")``, or ``(None, why not)`` for the run folder ``run``."""
    from gradstep.errors import GradstepError
    from gradstep.quadratic import QuadraticLoss
    from gradstep.runs.output import SavedModel
    from gradstep.runs.train import prepare
    from gradstep.table import STDIN, read_table, select

    options = (run.config or {}).get("options") or {}
    resolved = (run.config or {}).get("resolved") or {}
    data = resolved.get("data") or options.get("data")
    if run.quadratic is None or run.model is None or not isinstance(data, str):
        return None, "the run folder names no data file, or has no model.json/quadratic.json"
    if data == STDIN:
        return None, "the run read its table from standard input, which cannot be read again"
    if not Path(data).is_file():
        return None, f"the table it was trained on ({data}) is no longer there"
    try:
        table = read_table(data, resolved.get("format") or options.get("format"))
        selection = select(table, resolved.get("features") or options.get("features"),
                           resolved.get("target") or options.get("target"),
                           bool(options.get("drop_missing")))  # fmt: skip
        scale = resolved.get("scale", options.get("scale", "auto"))
        problem = prepare(selection, float(options.get("val_fraction", 0.2)),
                          int(options.get("seed", 42)), scale, table.source)  # fmt: skip
        model = SavedModel.from_dict(run.model, "model.json")
    except (GradstepError, OSError, ValueError, TypeError) as exc:
        return None, f"reading {data} again failed ({str(exc).splitlines()[0]})"
    seen = QuadraticLoss.from_data(problem.z_train, problem.y_train)
    q = run.quadratic
    same = (seen.n == q.n and np.allclose(seen.gram, q.gram, rtol=1e-9, atol=1e-12)
            and np.allclose(seen.xty, q.xty, rtol=1e-9, atol=1e-12 * max(1.0, abs(q.yty)))
            and np.isclose(seen.yty, q.yty, rtol=1e-9))  # fmt: skip
    if not same:
        return None, f"{data} has changed since the run: its rows no longer give quadratic.json"
    has_val = problem.x_val is not None
    return Rows(
        y_train=_thin(problem.y_train), pred_train=_thin(model.predict(problem.x_train)),
        y_val=_thin(problem.y_val) if has_val else None,
        pred_val=_thin(model.predict(problem.x_val)) if has_val else None,
        source=str(data),
    ), ""  # fmt: skip
