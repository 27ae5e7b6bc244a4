"""Reading a run folder (``docs/run-folder.md``) for ``gradstep plot`` and ``report``.

Only ``metrics.csv`` is required; every other file is optional and simply
absent from the result when missing, so a folder from an older or newer
``gradstep train`` still plots. A file that is present but unreadable is an error
that names it.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradstep import reprs
from gradstep.errors import GradstepError
from gradstep.quadratic import QuadraticLoss
from gradstep.runs.safety import parse_json

_W_COLUMN = re.compile(r"w_(\d+)$")
# The bound ``gradstep train`` puts on the data (runs/train.py's LARGEST_VALUE): beyond it
# squares overflow, so a recorded parameter this large can only come from a damaged file.
LARGEST_PARAMETER = 1e150
_LOSS_COLUMNS = ("train_loss", "val_loss")


@dataclass
class Trace:
    """Parameters (and losses) over epochs or steps, read from a CSV file."""

    index: np.ndarray  # epoch or step numbers
    b: np.ndarray  # (k,)
    w: np.ndarray  # (k, d)
    train_loss: np.ndarray | None = None
    val_loss: np.ndarray | None = None


@dataclass
class RunFolder:
    path: Path
    metrics: Trace
    steps: Trace | None = None
    quadratic: QuadraticLoss | None = None
    config: dict | None = None
    model: dict | None = None
    summary: dict | None = None
    files: dict[str, Path] = field(default_factory=dict)  # other files found (e.g. graph.svg)

    @property
    def d(self) -> int:
        return self.metrics.w.shape[1]

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        metrics, summary, model = self.metrics, self.summary or {}, self.model or {}
        names = self.feature_names
        rows = [("epochs", f"{int(metrics.index[0])}-{int(metrics.index[-1])}")]
        if isinstance(model.get("target"), str):
            rows.append(("target", model["target"]))
        rows.append(("features", reprs.names(names) if names else f"{self.d} (unnamed)"))
        rows += self._parameter_rows(model)
        for label, values in (("train loss", metrics.train_loss), ("val loss", metrics.val_loss)):
            shown = None if values is None else reprs.losses(values)
            if shown is not None:
                rows.append((label, shown))
        if isinstance(summary.get("converged"), bool):
            rows.append(("converged", "yes" if summary["converged"] else "no"))
        if self.steps is not None:
            rows.append(("steps recorded", f"{len(self.steps.index)}"))
        rows.append(("files", reprs.names(self.files) if self.files else "none"))
        return f"RunFolder: {self.path}", rows

    def _parameter_rows(self, model: dict) -> list[tuple[str, str]]:
        """The model's parameters (original units), or the descent's last ones when
        model.json is missing or holds something else."""
        intercept, coef = model.get("intercept"), model.get("coef")
        if isinstance(intercept, int | float) and isinstance(coef, dict) and coef:
            try:
                return [("b", reprs.number(intercept, 10)),
                        ("w", reprs.vector(list(coef.values()), 10))]  # fmt: skip
            except (TypeError, ValueError):
                pass
        units = ", scaled units" if self.scaled else ""
        return [(f"b (last epoch{units})", reprs.number(self.metrics.b[-1], 10)),
                (f"w (last epoch{units})", reprs.vector(self.metrics.w[-1], 10))]  # fmt: skip

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    @property
    def feature_names(self) -> list[str] | None:
        names = (self.model or {}).get("feature_names")
        if isinstance(names, list) and len(names) == self.d:
            return [str(n) for n in names]
        return None

    @property
    def start(self) -> tuple[float, np.ndarray] | None:
        """The parameters before the first update, when the folder records them."""
        if self.steps is not None and len(self.steps.index) and self.steps.index[0] == 0:
            return float(self.steps.b[0]), self.steps.w[0].copy()
        for source in (self.summary, self.config):
            init = (source or {}).get("init")
            if isinstance(init, dict) and {"b", "w"} <= set(init):
                try:
                    w = np.atleast_1d(np.asarray(init["w"], dtype=np.float64)).reshape(-1)
                    if w.size == self.d:
                        return float(init["b"]), w
                except (TypeError, ValueError):
                    pass
        return None

    @property
    def scaled(self) -> bool:
        """Whether the descent ran on standardised features (per ``model.json``)."""
        return bool((self.model or {}).get("scaler"))


def read_run(path) -> RunFolder:
    """Read the run folder at ``path``; GradstepError if it is not one."""
    folder = Path(path)
    if not folder.is_dir():
        raise GradstepError(
            f"run folder {str(folder)!r} does not exist or is not a folder; pass the --out "
            "folder of 'gradstep train'"
        )
    metrics_path = folder / "metrics.csv"
    if not metrics_path.is_file():
        raise GradstepError(
            f"{str(folder)!r} has no metrics.csv, so it is not a run folder; pass the --out "
            "folder of 'gradstep train'"
        )
    metrics = read_trace(metrics_path, "epoch")
    steps = read_trace(folder / "steps.csv", "step") if (folder / "steps.csv").is_file() else None
    if steps is not None and steps.w.shape[1] != metrics.w.shape[1]:
        steps = None  # from another run: ignore rather than draw nonsense
    quad_payload = _read_json(folder / "quadratic.json")
    quadratic = None
    if quad_payload is not None:
        quadratic = QuadraticLoss.from_dict(quad_payload, str(folder / "quadratic.json"))
        if quadratic.d != metrics.w.shape[1]:
            raise GradstepError(
                f"{folder / 'quadratic.json'} has {quadratic.d} feature(s) but metrics.csv "
                f"has {metrics.w.shape[1]}; the files come from different runs"
            )
        check_quadratic(quadratic, folder / "quadratic.json",
                        [t for t in (metrics, steps) if t is not None])  # fmt: skip
    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}
    return RunFolder(
        path=folder, metrics=metrics, steps=steps, quadratic=quadratic,
        config=_read_json(folder / "config.json"), model=_read_json(folder / "model.json"),
        summary=_read_json(folder / "summary.json"), files=files,
    )  # fmt: skip


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        payload = parse_json(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradstepError(
            f"{path} cannot be read as JSON ({exc}); rerun 'gradstep train'"
        ) from None
    if not isinstance(payload, dict):
        raise GradstepError(f"{path} holds a {type(payload).__name__}, expected a JSON object")
    return payload


def read_trace(path: Path, index_name: str) -> Trace:
    """Read ``metrics.csv`` or ``steps.csv``: ``index_name, b, w_0.., [train_loss, val_loss]``."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise GradstepError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise GradstepError(f"{path} is empty; rerun 'gradstep train'")
    header = [h.strip() for h in rows[0]]
    w_cols = sorted(
        ((int(m.group(1)), i) for i, h in enumerate(header) if (m := _W_COLUMN.match(h))),
    )
    if index_name not in header or "b" not in header or not w_cols:
        raise GradstepError(
            f"{path} has columns {header}; expected {index_name}, b, w_0, ... "
            "(see docs/run-folder.md)"
        )
    if [k for k, _ in w_cols] != list(range(len(w_cols))):
        raise GradstepError(f"{path}: the w columns must be w_0 .. w_{len(w_cols) - 1}")
    body = [r for r in rows[1:] if r]
    if not body:
        raise GradstepError(f"{path} has a header but no rows; the run recorded nothing")
    values = np.empty((len(body), len(header)))
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise GradstepError(f"{path}, line {r}: {len(row)} values for {len(header)} columns")
        for c, cell in enumerate(row):
            try:
                values[r - 2, c] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise GradstepError(
                    f"{path}, line {r}, column {header[c]!r}: {cell!r} is not a number"
                ) from None

    _check_finite(path, header, values)

    def column(name):
        return values[:, header.index(name)] if name in header else None

    return Trace(
        index=column(index_name).astype(np.int64),
        b=column("b"),
        w=values[:, [i for _, i in w_cols]],
        train_loss=column("train_loss"),
        val_loss=column("val_loss"),
    )


def _check_finite(path: Path, header: list[str], values: np.ndarray) -> None:
    """Every index and parameter a finite number below LARGEST_PARAMETER; every loss finite
    or missing (empty, nan). The figures and the report cannot draw anything else, and
    would fail deep inside matplotlib or plotly instead of naming the cell."""
    for c, name in enumerate(header):
        column = values[:, c]
        if name in _LOSS_COLUMNS:
            bad = np.isinf(column)
        else:
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(column) <= LARGEST_PARAMETER)
        if bad.any():
            r = int(np.argmax(bad))
            what = "not finite" if not np.isfinite(column[r]) else "too large"
            raise GradstepError(
                f"{path}, line {r + 2}, column {name!r}: {float(column[r])!r} is {what}; "
                "the file is damaged or not from 'gradstep train' (rerun it)"
            )


def check_quadratic(q: QuadraticLoss, source: Path, traces: list[Trace]) -> None:
    """A form ``gradstep train`` could have written, finite wherever it will be drawn.

    ``gram[0, 0]`` is the mean of the ones column's squares, exactly 1 (an all-zero
    matrix is damage); the loss at the minimum and along the recorded paths must not
    overflow, or every surface and contour would be drawn from inf.
    """
    if not np.isclose(q.gram[0, 0], 1.0, rtol=1e-9, atol=0.0) or np.any(np.diag(q.gram) < 0):
        raise GradstepError(
            f"{source}: gram[0][0] is {float(q.gram[0, 0])!r} and its diagonal must be >= 0; "
            "for [1,X]^T[1,X]/n the first entry is 1: the file is damaged (rerun 'gradstep train')"
        )
    with np.errstate(all="ignore"):
        b_star, w_star = q.minimum()
        points = [np.column_stack([t.b, t.w]) for t in traces]
        losses = [[q.min_loss], *(q.loss_theta(p) for p in points), *_grid_corners(q, traces)]
        finite = np.isfinite([b_star, *w_star]).all() and np.isfinite(np.concatenate(losses)).all()
    if not finite:
        raise GradstepError(
            f"{source}: the loss overflows at the minimum, along the recorded descent or on "
            "the grid around them (values near 1e308); the file is damaged or the data too "
            "large to draw: rescale it"
        )


def _grid_corners(q: QuadraticLoss, traces: list[Trace]) -> list[np.ndarray]:
    """The loss at the corners of the widest grid a figure could draw, per coefficient."""
    corners = []
    for j in range(q.d):
        bs = np.concatenate([t.b for t in traces])
        ws = np.concatenate([t.w[:, j] for t in traces])
        hb, hw = q.fit_half_width(bs, ws, j=j)
        b_star, w_star = q.minimum()
        bs = b_star + np.array([-hb, -hb, hb, hb])
        ws = w_star[j] + np.array([-hw, hw, -hw, hw])
        corners.append(q.slice_loss(bs, ws, j=j))
    return corners
