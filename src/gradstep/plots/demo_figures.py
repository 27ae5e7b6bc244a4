"""Every figure of the walkthrough, written for ``gradstep demo``.

The descents the figures show come from ``gradstep.tutorial.demo_runs`` (run once, passed
in); the functions here only draw and save.
"""

from __future__ import annotations

from pathlib import Path

from gradstep.plots import save_figure
from gradstep.plots.data import figure1
from gradstep.plots.lines import fitted_line, one_update
from gradstep.plots.losses import loss_curves
from gradstep.plots.optimizers import race_figure
from gradstep.plots.paths import descent_paths
from gradstep.plots.rates import learning_rates
from gradstep.plots.scaling import feature_scaling
from gradstep.plots.steps import cross_sections, slopes
from gradstep.plots.surface import loss_surface

# figure name -> what it shows (the CLI and the README list them in this order)
DEMO_FIGURES = {
    "figure1": "train and validation data (the document's figure1)",
    "fitted_line": "predictions at the random start and one point's error",
    "loss_surface": "the loss surface and its contours, minimum and start marked",
    "cross_sections": "the loss along b and along w through the start",
    "slopes": "the analytic gradient next to the finite-difference slope",
    "one_update": "the line before and after one update",
    "learning_rates": "the first step at lr 0.2, 0.8 and 1.1 on both cross-sections",
    "feature_scaling": "contours and paths: original, times 10, standardised feature",
    "descent_paths": "batch, mini-batch and stochastic descent over the contours",
    "loss_curves": "training and validation loss per epoch",
    "optimizers": "sgd, momentum, nesterov, rmsprop and adam raced: paths and loss per epoch",
}


def draw_demo_figures(walk, runs) -> dict:
    """``{name: (fig, axes)}`` for every demo figure (nothing written)."""
    data = walk.data
    start = (walk.init_b, walk.init_w)
    q = runs.quadratic
    hist = walk.trained.history
    return {
        "figure1": figure1(data.x_train, data.y_train, data.x_val, data.y_val),
        "fitted_line": fitted_line(
            data.x_train,
            data.y_train,
            walk.init_b,
            walk.init_w,
            title="Step 1-2: predictions at the random start, and one point's error",
        ),  # fmt: skip
        "loss_surface": loss_surface(q, start=start),
        "cross_sections": cross_sections(q, start),
        "slopes": slopes(q, start),
        "one_update": one_update(
            data.x_train, data.y_train, start, (walk.updated_b, walk.updated_w), lr=walk.lr
        ),
        "learning_rates": learning_rates(q, start),
        "feature_scaling": feature_scaling(
            [
                (r.label, r.quadratic, r.fit.history.step_b, r.fit.history.step_w)
                for r in runs.scaling
            ]  # fmt: skip
        ),
        "descent_paths": descent_paths(
            q,
            {
                f"{label}, lr {f.lr:g}, {f.epochs} epochs": (f.history.step_b, f.history.step_w)
                for label, f in runs.paths.items()
            },
        ),
        "loss_curves": loss_curves(hist.train_loss, hist.val_loss, hist.first_epoch),
        "optimizers": race_figure(runs.race),
    }


def write_demo_figures(walk, out_dir, runs=None, dpi: int = 100) -> dict[str, Path]:
    """Write every demo figure as ``out_dir/NAME.png``; return ``{name: path}``.

    ``walk`` is ``gradstep.tutorial.walkthrough.run_walkthrough()``'s result and ``runs``
    ``gradstep.tutorial.demo_runs.run_demo_runs(walk)``'s (run here when not given).
    """
    if runs is None:
        from gradstep.tutorial.demo_runs import run_demo_runs

        runs = run_demo_runs(walk)
    out = Path(out_dir)
    written = {}
    for name, (fig, _) in draw_demo_figures(walk, runs).items():
        written[name] = out / f"{name}.png"
        save_figure(fig, written[name], dpi=dpi)
    return written
