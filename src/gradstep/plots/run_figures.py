"""The figures that apply to a saved run folder (``gradstep plot RUN_DIR``).

A run folder holds the history and the loss as a quadratic form, not the data,
so the figures of data and lines are not drawn; the rest need ``quadratic.json``
(surfaces, sections, paths) or the start of the descent (sections, rates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradstep.files import atomic_folder
from gradstep.plots import save_figure
from gradstep.plots.losses import loss_curves
from gradstep.plots.paths import descent_paths, paths_half_width
from gradstep.plots.rates import learning_rates
from gradstep.plots.steps import cross_sections, slopes
from gradstep.plots.surface import loss_surface
from gradstep.runs.folder import RunFolder

DATA_FIGURES = ("figure1", "fitted_line", "one_update", "feature_scaling")


def run_path(run: RunFolder) -> tuple[str, np.ndarray, np.ndarray, str]:
    """``(label, b, w, unit)``: per-step records if kept, else per epoch (start first)."""
    if run.steps is not None:
        return "this run", run.steps.b, run.steps.w, "update"
    b, w = run.metrics.b, run.metrics.w
    start = run.start
    if start is not None:
        b, w = np.concatenate([[start[0]], b]), np.vstack([start[1], w])
    return "this run (per epoch)", b, w, "epoch"


def skipped_run_figures(run: RunFolder) -> dict[str, str]:
    """``{name: reason}`` for the demo figures this run folder cannot give."""
    skipped = {name: "needs the data, which a run folder does not keep" for name in DATA_FIGURES}
    if run.quadratic is None:
        for name in ("loss_surface", "descent_paths", "cross_sections", "slopes",
                     "learning_rates"):  # fmt: skip
            skipped[name] = "needs quadratic.json"
    elif run.start is None:
        for name in ("cross_sections", "slopes", "learning_rates"):
            skipped[name] = "needs the start of the descent (steps.csv step 0 or init)"
    return skipped


def draw_run_figures(run: RunFolder, j: int = 0) -> dict:
    """``{name: (fig, axes)}`` for every figure that applies to ``run``."""
    m = run.metrics
    title = f"Loss per epoch ({len(m.b)} epochs)"
    figures = {}
    if m.train_loss is not None:
        figures["loss_curves"] = loss_curves(m.train_loss, m.val_loss, int(m.index[0]), title)
    q, start, names = run.quadratic, run.start, run.feature_names
    if q is None:
        return figures
    label, b, w, unit = run_path(run)
    # one grid for both figures, wide enough for the start and the whole path
    half = paths_half_width(q, {label: (b, w)}, j=j)
    figures["loss_surface"] = loss_surface(q, start=start, j=j, half_width=half, names=names)
    figures["descent_paths"] = descent_paths(
        q, {label: (b, w)}, j=j, half_width=half, names=names, unit=unit
    )
    if start is not None:
        figures["cross_sections"] = cross_sections(q, start, j=j, names=names)
        figures["slopes"] = slopes(q, start, j=j, names=names)
        figures["learning_rates"] = learning_rates(q, start, j=j, names=names)
    return figures


def write_run_figures(run: RunFolder, out_dir=None, dpi: int = 100, j: int = 0) -> dict[str, Path]:
    """Write the figures that apply as ``out_dir/NAME.png`` (default RUN_DIR/figures)."""
    out = Path(out_dir) if out_dir is not None else run.path / "figures"
    # Staged in a temporary folder: a disk that fills up after three figures leaves
    # neither three new figures beside stale ones nor a half-made folder.
    written = {}
    with atomic_folder(out) as staged, np.errstate(all="ignore"):
        # ignore: the reader has checked the values; matplotlib's margins and ticks at the
        # ends of the float range (a loss of 1e308 on a log axis) overflow and are clipped.
        for name, (fig, _) in draw_run_figures(run, j=j).items():
            save_figure(fig, staged / f"{name}.png", dpi=dpi)
            written[name] = out / f"{name}.png"
    return written
