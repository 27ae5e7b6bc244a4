r"""Training a run of ``gradstep train``: the numbers, never the files.

* :func:`prepare` turns the chosen columns into a :class:`Problem`: a seeded
  train/validation split, checks (enough rows, no constant feature, no number so
  large that squaring it overflows) and, when asked, standardisation fitted on
  the training rows only.
* :func:`auto_lr` is the default step size, :math:`1/L`, with :math:`L` the
  largest curvature of the loss the descent sees (see its docstring).
* :func:`train` runs :func:`gradstep.fit` in chunks from the start or from a
  saved :class:`Progress` (batches are seeded per ``(seed, epoch)``, so resuming
  needs only the parameters, the epoch and the seed and continues exactly), and
  applies early stopping on the validation loss.
* :func:`summarise` compares the result with least squares on the same training
  rows and measures it.

``gradstep.runs.output`` writes the run folder; the CLI prints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradstep.api import fit
from gradstep.closed_form import least_squares
from gradstep.errors import DivergenceError, GradstepError
from gradstep.metrics import regression_metrics
from gradstep.result import History
from gradstep.scaling import Standardizer
from gradstep.table import Selection

CHUNK_EPOCHS = 1000  # epochs per gradstep.fit call (early stopping and progress between)
# Squaring a number above this overflows float64 once summed over many rows.
LARGEST_VALUE = 1e150
MIN_VAL_ROWS = 2  # a validation loss over fewer rows is not worth holding them back


@dataclass(frozen=True)
class Problem:
    """The training and validation rows of a run, in original units, and the scaler.

    ``train_rows``/``val_rows`` index the rows of the :class:`Selection`.
    """

    features: list[str]
    target: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    train_rows: np.ndarray
    val_rows: np.ndarray
    scaler: Standardizer | None

    @property
    def d(self) -> int:
        return self.x_train.shape[1]

    @cached_property
    def z_train(self) -> np.ndarray:
        """The training features as the descent sees them (standardised or not)."""
        return self.x_train if self.scaler is None else self.scaler.transform(self.x_train)

    @cached_property
    def z_val(self) -> np.ndarray | None:
        if self.x_val is None or self.scaler is None:
            return self.x_val
        return self.scaler.transform(self.x_val)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the rows and names; a resumed run must see the same data."""
        digest = hashlib.sha256()
        digest.update(repr((self.features, self.target)).encode())
        for arr in (self.x_train, self.y_train, self.x_val, self.y_val):
            if arr is not None:
                digest.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        return digest.hexdigest()

    def to_original(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Descent-unit parameters in the original units of the features."""
        if self.scaler is None:
            return float(b), np.asarray(w, dtype=np.float64).copy()
        return self.scaler.to_original(b, w)


# ------------------------------------------------------------------ preparing


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` row indices: ``floor(n * val_fraction)`` rows drawn for validation.

    The draw is a permutation from ``numpy.random.default_rng(seed)``; both parts
    keep the table's order. Fewer than ``MIN_VAL_ROWS`` validation rows means none.
    """
    n_val = int(n * val_fraction)
    if n_val < MIN_VAL_ROWS:
        n_val = 0
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def prepare(
    selection: Selection, val_fraction: float, seed: int, scale, source: str = "the data"
) -> Problem:
    """Split, check and (``scale`` True, or "auto" with more than one feature) standardise."""
    x, y, names = selection.x, selection.y, selection.features
    n, d = x.shape
    if n < 2:
        raise GradstepError(
            f"{source} has only {n} usable data row; training needs at least 2 "
            "(and more rows than features)"
        )
    train, val = split_rows(n, val_fraction, seed)
    if train.size <= d:
        held = f" ({val.size} of {n} held out for validation)" if val.size else ""
        raise GradstepError(
            f"{d} feature(s) but only {train.size} training row(s){held}: there are more "
            "features than rows, so least squares has no unique answer; use fewer features "
            "or more rows" + (" (or --val-fraction 0)" if val.size else "")
        )
    x_train, y_train = x[train], y[train]
    check_not_constant(x_train, names)
    check_magnitude(x, y, names, selection.target)
    use_scaler = d > 1 if scale == "auto" else bool(scale)
    scaler = Standardizer.fit(x_train, names) if use_scaler else None
    has_val = val.size > 0
    return Problem(
        features=list(names),
        target=selection.target,
        x_train=x_train,
        y_train=y_train,
        x_val=x[val] if has_val else None,
        y_val=y[val] if has_val else None,
        train_rows=train,
        val_rows=val,
        scaler=scaler,
    )


def check_not_constant(x_train: np.ndarray, names: list[str]) -> None:
    """A constant feature cannot be scaled, and duplicates the intercept: name it."""
    spread = x_train.max(axis=0) - x_train.min(axis=0)
    constant = np.flatnonzero(spread == 0)
    if constant.size:
        j = int(constant[0])
        raise GradstepError(
            f"feature {names[j]!r} is constant ({x_train[0, j]:g}) on the training rows, so it "
            "cannot be scaled and adds nothing the intercept does not; leave it out of --features"
        )


def check_magnitude(x: np.ndarray, y: np.ndarray, names: list[str], target: str) -> None:
    """Numbers whose squares overflow make the descent diverge: say which column."""
    columns = [(name, x[:, j]) for j, name in enumerate(names)] + [(target, y)]
    for name, values in columns:
        largest = float(np.max(np.abs(values)))
        if largest > LARGEST_VALUE:
            exponent = int(np.floor(np.log10(largest))) - 3
            raise DivergenceError(
                f"the descent would overflow: column {name!r} holds values up to {largest:.3g}, "
                f"whose squares exceed the largest float64; rescale it first "
                f"(e.g. divide the column by 1e{exponent}) and train again"
            )


def auto_lr(problem: Problem, batch_size: int | None) -> float:
    r"""The default step size, :math:`1/L`, which cannot diverge.

    With :math:`A = [1, Z]` (ones, then the features the descent sees, over the
    :math:`n` training rows), the MSE has Hessian :math:`H = \tfrac2n A^\top A`.
    Full batch: :math:`L = \lambda_{\max}(H)`. Mini-batches of :math:`k < n` rows:
    a batch's Hessian is bounded by :math:`L = \tfrac2k \sum \lVert a_i\rVert^2`
    over the :math:`k` rows with the largest :math:`\lVert a_i\rVert`, which holds
    for every batch.
    """
    z = problem.z_train
    n = z.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        if batch_size is None or batch_size >= n:
            design = np.column_stack([np.ones(n), z])
            curvature = 2.0 * float(np.linalg.eigvalsh(design.T @ design / n)[-1])
        else:
            norms = np.sort(1.0 + np.sum(z * z, axis=1))[::-1]
            curvature = 2.0 * float(np.sum(norms[:batch_size])) / batch_size
    if not np.isfinite(curvature) or curvature <= 0:
        raise DivergenceError(
            "the descent would overflow: the features are too large to compute a step size; "
            "rescale them (or pass --scale)"
        )
    return 1.0 / curvature


# ------------------------------------------------------------------- training


@dataclass(frozen=True)
class Settings:
    """What the descent needs beyond the data."""

    lr: float
    epochs: int  # the cap, counting epochs already run
    tol: float | None
    batch_size: int | None
    seed: int
    engine: str = "numpy"
    device: str = "auto"
    dtype: str | None = None
    patience: int | None = None  # early stopping on the validation loss


@dataclass(frozen=True)
class Progress:
    """Where a descent stands: its whole history and why it stopped.

    ``history.b[-1]``, ``history.w[-1]`` are the current parameters (descent units).
    ``best_epoch`` is the epoch with the lowest validation loss (early stopping only).
    """

    history: History
    converged: bool | None = None
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def epoch(self) -> int:
        return self.history.epochs

    def params(self, epoch: int | None = None) -> tuple[float, np.ndarray]:
        """Parameters after ``epoch`` (1-based; default the last), in descent units."""
        i = (epoch or self.epoch) - 1
        if i < 0:
            return 0.0, np.zeros(self.history.w.shape[1])
        return float(self.history.b[i]), self.history.w[i].copy()

    @property
    def model_epoch(self) -> int:
        """The epoch whose parameters become the model: the best one with early stopping."""
        return self.best_epoch or self.epoch


def empty_history(d: int, with_val: bool) -> History:
    return History(np.empty(0), np.empty((0, d)), np.empty(0), np.empty(0) if with_val else None)


def concat_histories(first: History, second: History) -> History:
    val = None if first.val_loss is None else np.concatenate([first.val_loss, second.val_loss])
    return History(
        np.concatenate([first.b, second.b]),
        np.concatenate([first.w, second.w]),
        np.concatenate([first.train_loss, second.train_loss]),
        val,
        converged=second.converged,
        first_epoch=first.first_epoch,
    )


def truncate(history: History, epochs: int) -> History:
    val = None if history.val_loss is None else history.val_loss[:epochs]
    return History(
        history.b[:epochs], history.w[:epochs], history.train_loss[:epochs], val,
        converged=history.converged, first_epoch=history.first_epoch,
    )  # fmt: skip


def early_stop(val_loss: np.ndarray, patience: int) -> tuple[int | None, int | None]:
    """``(stop_epoch, best_epoch)``, 1-based: the first epoch ``patience`` epochs after the
    last improvement of the validation loss (None if not reached), and the best epoch so far.
    """
    if val_loss.size == 0:
        return None, None
    index = np.arange(val_loss.size)
    improved = np.r_[True, val_loss[1:] < np.minimum.accumulate(val_loss)[:-1]]
    best = np.maximum.accumulate(np.where(improved, index, 0))
    hits = np.flatnonzero(index - best >= patience)
    if hits.size:
        return int(hits[0]) + 1, int(best[hits[0]]) + 1
    return None, int(best[-1]) + 1


def check_resumable(start: Progress, settings: Settings, stored_tol: float | None) -> None:
    """Raise when continuing ``start`` under ``settings`` would run no epoch."""
    if start.stopped_early and settings.patience is not None and start.history.val_loss is not None:
        stop, _ = early_stop(start.history.val_loss, settings.patience)
        if stop is not None:
            raise GradstepError(
                f"nothing to resume: the run stopped early at epoch {start.epoch} (validation "
                "loss not improving); pass a larger --early-stopping patience to continue"
            )
    tighter = settings.tol is None or stored_tol is None or settings.tol < stored_tol
    if start.converged and not tighter:
        raise GradstepError(
            f"nothing to resume: the run converged at epoch {start.epoch} (tol {stored_tol:g}); "
            "pass a smaller --tol to continue"
        )
    if start.epoch >= settings.epochs:
        raise GradstepError(
            f"nothing to resume: the run has done {start.epoch} epochs and --epochs is "
            f"{settings.epochs}; pass a larger --epochs to continue"
        )


def train(problem: Problem, settings: Settings, start: Progress | None = None, progress=None):
    """Run the descent up to ``settings.epochs`` epochs in all; return its :class:`Progress`.

    Starts at ``b = 0, w = 0`` (descent units) or continues ``start``. Stops early when
    an epoch moves no parameter by more than ``tol * max(1, max|parameter|)``
    (converged), or, with ``patience``, when the validation loss has not improved
    for ``patience`` epochs. ``progress(epochs_done, epochs_cap, train_loss)`` is
    called after each chunk.
    """
    with_val = problem.x_val is not None
    state = start or Progress(empty_history(problem.d, with_val))
    history = state.history
    while history.epochs < settings.epochs:
        b, w = Progress(history).params()
        chunk = run_chunk(problem, settings, history.epochs, (b, w))
        history = concat_histories(history, chunk)
        if settings.patience is not None and with_val:
            stop, best = early_stop(history.val_loss, settings.patience)
            if stop is not None:
                converged = False if settings.tol is not None else None
                return Progress(truncate(history, stop), converged, True, best)
        if chunk.converged:
            break
        if progress is not None:
            progress(history.epochs, settings.epochs, float(history.train_loss[-1]))
    converged = bool(history.converged) if settings.tol is not None else None
    best = early_stop(history.val_loss, settings.patience)[1] if settings.patience else None
    return Progress(history, converged, False, best)


def run_chunk(problem: Problem, settings: Settings, done: int, init) -> History:
    epochs = min(CHUNK_EPOCHS, settings.epochs - done)
    result = fit(
        problem.z_train, problem.y_train,
        lr=settings.lr, epochs=epochs, batch_size=settings.batch_size, init=init,
        seed=settings.seed, x_val=problem.z_val, y_val=problem.y_val,
        engine=settings.engine, tol=settings.tol, start_epoch=done,
        device=settings.device, dtype=settings.dtype,
    )  # fmt: skip
    return result.history


# ------------------------------------------------------------------ summarising


def model_params(problem: Problem, state: Progress) -> tuple[float, np.ndarray]:
    """The model's parameters in original units (the best epoch with early stopping)."""
    return problem.to_original(*state.params(state.model_epoch))


def closed_form(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Least squares on ``x``, solved on centred columns of unit spread, in ``x``'s units.

    The same answer as ``lstsq`` on ``[1, x]``, but columns of very different sizes
    (a feature in the 1e100s beside the ones of the intercept) do not make ``lstsq``
    drop one of them as numerically negligible.
    """
    mean = x.mean(axis=0)
    spread = x.std(axis=0)
    spread[spread == 0] = 1.0
    b, w = least_squares((x - mean) / spread, y)
    w = w / spread
    return float(b - mean @ w), w


def summarise(problem: Problem, state: Progress, settings: Settings) -> dict:
    """Parameters, the closed-form comparison, metrics and how the descent ended."""
    intercept, coef = model_params(problem, state)
    cf_intercept, cf_coef = closed_form(problem.x_train, problem.y_train)
    ours, theirs = np.r_[intercept, coef], np.r_[cf_intercept, cf_coef]
    diff = np.abs(ours - theirs)
    floor = 1e-12 * max(1.0, float(np.max(np.abs(theirs))))
    names = problem.features
    val_metrics = None
    if problem.x_val is not None:
        val_metrics = regression_metrics(problem.y_val, intercept + problem.x_val @ coef)
    train_metrics = regression_metrics(problem.y_train, intercept + problem.x_train @ coef)
    return {
        "target": problem.target,
        "features": list(names),
        "intercept": intercept,
        "coef": dict(zip(names, map(float, coef), strict=True)),
        "epochs_run": state.epoch,
        "epoch_cap": settings.epochs,
        "converged": state.converged,
        "tol": settings.tol,
        "stopped_early": state.stopped_early,
        "best_epoch": state.best_epoch,
        "lr": settings.lr,
        "batch_size": settings.batch_size,
        "engine": settings.engine,
        "scaled": problem.scaler is not None,
        "init": {"b": 0.0, "w": [0.0] * problem.d},
        "train_loss": train_metrics["mse"],
        "val_loss": None if val_metrics is None else val_metrics["mse"],
        "closed_form": {
            "intercept": cf_intercept,
            "coef": dict(zip(names, map(float, cf_coef), strict=True)),
        },
        "max_abs_diff_closed_form": float(diff.max()),
        "max_rel_diff_closed_form": float(np.max(diff / np.maximum(np.abs(theirs), floor))),
        "metrics": {"train": train_metrics, "validation": val_metrics},
        "rows": {"train": int(problem.train_rows.size), "validation": int(problem.val_rows.size)},
    }
