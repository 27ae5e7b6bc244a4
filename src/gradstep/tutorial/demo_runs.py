"""The extra descents the demo's figures and report show, run once and handed over.

Plots and reports never train: ``gradstep demo`` runs the walkthrough
(``gradstep.tutorial.walkthrough``) and these runs, then passes the results to
``gradstep.plots`` and ``gradstep.report``. Every run starts from the document's
random ``(b, w)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradstep.api import fit
from gradstep.moments import Moments
from gradstep.policies import Scaler
from gradstep.quadratic import QuadraticLoss
from gradstep.racing import Race, race
from gradstep.result import FitResult
from gradstep.tutorial.walkthrough import Walkthrough

# batch sizes of the path comparison: label -> batch_size (None = all 80 points)
PATH_BATCH_SIZES = {"batch": None, "mini-batch (16)": 16, "stochastic (1)": 1}
# The document's rate. The illustrations use it whatever rate the walkthrough ran
# at, so ``gradstep demo --lr 0.5`` still draws them (stochastic descent and the
# feature times 10 would diverge at such rates).
ILLUSTRATION_LR = 0.1
# The optimizers race: each at the document's rate, and plain descent at a rate past
# 2/L (L about 2.5 on this data) to show a divergence; certified tol 1e-6, 300 epochs.
RACE_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "sgd")
RACE_LRS = (0.1, 0.1, 0.1, 0.1, 0.1, 3.0)
RACE_EPOCHS = 300
RACE_TOL = 1e-6


@dataclass
class ScalingRun:
    """Batch descent on one version of the feature (for the feature-scaling figure)."""

    label: str
    x_train: np.ndarray
    quadratic: QuadraticLoss
    fit: FitResult


@dataclass
class DemoRuns:
    quadratic: QuadraticLoss  # the training loss of the walkthrough's data
    paths: dict[str, FitResult]  # label -> descent with per-step parameters recorded
    scaling: list[ScalingRun]
    race: Race | None = None  # the optimizers raced from the walkthrough's start


def run_demo_runs(
    walk: Walkthrough, path_epochs: int = 20, scaling_steps: int = 40, lr: float = ILLUSTRATION_LR
) -> DemoRuns:
    """Run the path comparison and the feature-scaling descents for ``walk``'s data.

    Paths: ``path_epochs`` epochs of batch, mini-batch (16) and stochastic descent
    at rate ``lr``, recording every update. Scaling: ``scaling_steps`` steps of
    batch descent on the original feature (rate ``lr``), the feature times 10 (a
    tenth of it: the full rate diverges there) and the standardised feature (rate
    ``lr``; mean and scale from the training set only). Race: :data:`RACE_OPTIMIZERS`
    at :data:`RACE_LRS` from the walkthrough's start (:func:`gradstep.race`).
    """
    data = walk.data
    x_train, y_train = data.x_train, data.y_train
    start = (walk.init_b, walk.init_w)
    paths = {
        label: fit(
            x_train,
            y_train,
            lr=lr,
            epochs=path_epochs,
            batch_size=size,
            init=start,
            record_steps=True,
        )
        for label, size in PATH_BATCH_SIZES.items()
    }
    scaler = Scaler.learn(Moments.from_data(x_train, y_train), target=False)
    versions = [
        ("original x", x_train, lr),
        ("x times 10", x_train * 10.0, lr / 10),
        ("standardised x", scaler.x(x_train), lr),
    ]
    scaling = [
        ScalingRun(
            label=f"{label}, lr = {rate:g}",
            x_train=x,
            quadratic=QuadraticLoss.from_data(x, y_train),
            fit=fit(x, y_train, lr=rate, epochs=scaling_steps, init=start, record_steps=True),
        )
        for label, x, rate in versions
    ]
    raced = race(x_train, y_train, optimizers=RACE_OPTIMIZERS, lr=RACE_LRS, epochs=RACE_EPOCHS,
                 tol=RACE_TOL, init=start)  # fmt: skip
    return DemoRuns(QuadraticLoss.from_data(x_train, y_train), paths, scaling, raced)
