r"""Training a run of ``gradstep train``: the numbers, never the files.

* :func:`prepare` turns the chosen columns into a :class:`Problem`: a seeded per-row
  train/validation split (:func:`validation_mask`), checks (enough rows, no number so
  large that squaring it overflows), the training rows' statistics and the shared scaler
  (:mod:`gradstep.policies`: features standardised unless ``--scale false``, a
  constant feature gets coefficient 0).
* :func:`auto_lr` is the shared default step size (:func:`gradstep.policies.auto_lr`).
* :func:`train` hands the engine to the one driver (:func:`gradstep.drive.descend`)
  from the start or from a saved :class:`Progress` (batches are seeded per
  ``(seed, epoch)``, so resuming needs only the parameters, the epoch, the seed and,
  for a stateful optimizer, its state, and continues exactly), with the certified
  ``tol`` and early stopping on the validation loss.
* :func:`summarise` compares the result with least squares on the same training
  rows (from their statistics, :func:`closed_form`) and measures it.

Memory: a run holds the selected columns (views of the table's block when every row is
kept) and one gathered copy of the training rows, standardised in place for the descent
(``Problem.z_train``); the rows in original units are gathered again only in blocks
(fingerprint, metrics) or when asked (``Problem.x_train``, for the report).

``gradstep.runs.output`` writes the run folder; the CLI prints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradstep import policies
from gradstep.closed_form import least_squares, least_squares_from_moments
from gradstep.drive import Rules, descend
from gradstep.engines import Data
from gradstep.engines import Settings as EngineSettings
from gradstep.engines import prepare as prepare_engine
from gradstep.engines.optimizers import SGD, Optimizer, copy_state
from gradstep.errors import DivergenceError, GradstepError
from gradstep.metrics import regression_metrics_in_blocks as metrics
from gradstep.moments import Moments
from gradstep.policies import Certificate, Patience, Scaler
from gradstep.result import History
from gradstep.table import Selection

# Squaring a number above this overflows float64 once summed over many rows.
LARGEST_VALUE = 1e150
MIN_VAL_ROWS = 2  # a validation loss over fewer rows is not worth holding them back
BLOCK_ROWS = 1 << 16  # rows gathered at a time where a whole copy is not needed
SPLIT_ROWS = 1 << 20  # rows whose validation draw is computed at a time


@dataclass(frozen=True)
class Problem:
    """The training and validation rows of a run and the scaler.

    ``z_train``/``z_val`` are the features as the descent sees them (standardised in place
    on the gathered rows when ``scaler`` is set, else in original units); ``x`` holds every
    row of the :class:`Selection` in original units (needed when ``scaler`` is set), and
    ``train_rows``/``val_rows`` index it.
    """

    features: list[str]
    target: str
    z_train: np.ndarray
    y_train: np.ndarray
    z_val: np.ndarray | None
    y_val: np.ndarray | None
    train_rows: np.ndarray
    val_rows: np.ndarray
    scaler: Scaler | None  # None: the descent sees the features as they are
    moments: Moments  # of the training rows, original units
    x: np.ndarray | None = None  # every row, original units (None: the z are those)

    @property
    def d(self) -> int:
        return self.z_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.z_train.shape[0]

    @property
    def has_val(self) -> bool:
        return self.z_val is not None

    @cached_property
    def x_train(self) -> np.ndarray:
        """The training features in original units (a copy, gathered when first asked)."""
        return self.z_train if self.scaler is None else self.x[self.train_rows]

    @cached_property
    def x_val(self) -> np.ndarray | None:
        if self.z_val is None or self.scaler is None:
            return self.z_val
        return self.x[self.val_rows]

    def original_blocks(self, part: str):
        """The training (``part`` "train") or validation rows in original units, in
        blocks of ``BLOCK_ROWS`` rows, so that no caller needs a whole copy of them."""
        train = part == "train"
        z, rows = (self.z_train, self.train_rows) if train else (self.z_val, self.val_rows)
        for start in range(0, z.shape[0], BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            yield z[start:stop] if self.scaler is None else self.x[rows[start:stop]]

    def predictions(self, part: str, intercept: float, coef: np.ndarray):
        """``intercept + x @ coef`` on the training or validation rows (original units),
        block by block."""
        for x in self.original_blocks(part):
            yield intercept + x @ coef

    @cached_property
    def descent_moments(self) -> Moments:
        """The statistics of the data the descent sees, from that data itself.

        (Not derived from ``moments``: a mean that float64 cannot hold exactly, as for
        integers near 2**53, leaves the scaled data with a small mean of its own.)
        """
        if self.scaler is None:
            return self.moments
        return Moments.from_data(self.z_train, self.y_train)

    @property
    def constant(self) -> np.ndarray:
        """Features with no spread on the training rows (their coefficient is 0)."""
        return np.zeros(self.d, bool) if self.scaler is None else self.scaler.constant

    @cached_property
    def certificate(self) -> Certificate:
        return Certificate(self.descent_moments, ~self.constant)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the rows and names; a resumed run must see the same data."""
        digest = hashlib.sha256()
        digest.update(repr((self.features, self.target)).encode())
        # the bytes of x_train, y_train, x_val, y_val, fed in blocks (the same digest)
        parts = [("train", self.y_train)] + ([("val", self.y_val)] if self.has_val else [])
        for part, y in parts:
            for block in self.original_blocks(part):
                digest.update(np.ascontiguousarray(block, dtype=np.float64))
            digest.update(np.ascontiguousarray(y, dtype=np.float64))
        return digest.hexdigest()

    def to_original(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Descent-unit parameters in the original units of the features."""
        if self.scaler is None:
            return float(b), np.asarray(w, dtype=np.float64).copy()
        b_orig, w_orig = self.scaler.to_original(b, w)
        return float(b_orig), np.asarray(w_orig, dtype=np.float64)


# ------------------------------------------------------------------ preparing


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array (arithmetic modulo 2**64)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def validation_mask(positions: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Whether each row (by its 0-based position in the table) is held out for validation.

    Row ``i`` validates when ``splitmix64(splitmix64(seed) + i)``, read as a number in
    [0, 1) from its top 53 bits, is below ``val_fraction``. A rule per row, so the split
    is the same however the table is read: whole, in chunks of any size, by any number
    of processes.
    """
    rows = np.asarray(positions, dtype=np.uint64)
    with np.errstate(over="ignore"):
        key = splitmix64(np.array([seed], dtype=np.uint64))[0]
        draw = splitmix64(rows + key) >> np.uint64(11)
    return draw.astype(np.float64) * 2.0**-53 < val_fraction


def split_rows(
    n: int, val_fraction: float, seed: int, positions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` indices into the ``n`` rows, in table order (:func:`validation_mask`).

    ``positions``: each row's position in the file (default ``0..n-1``; rows dropped for
    missing values keep their neighbours' positions unchanged). About ``n * val_fraction``
    rows validate; fewer than ``MIN_VAL_ROWS`` means none.
    """
    where = np.arange(n) if positions is None else np.asarray(positions)
    held = np.empty(n, dtype=bool)
    for start in range(0, n, SPLIT_ROWS):  # the rule is per row: blocks bound its temporaries
        held[start : start + SPLIT_ROWS] = validation_mask(
            where[start : start + SPLIT_ROWS], val_fraction, seed
        )
    if held.sum() < MIN_VAL_ROWS:
        return np.arange(n), np.empty(0, dtype=np.intp)
    return np.flatnonzero(~held), np.flatnonzero(held)


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
    train, val = split_rows(n, val_fraction, seed, selection.rows)
    if train.size <= d:
        held = f" ({val.size} of {n} held out for validation)" if val.size else ""
        raise GradstepError(
            f"{d} feature(s) but only {train.size} training row(s){held}: there are more "
            "features than rows, so least squares has no unique answer; use fewer features "
            "or more rows" + (" (or --val-fraction 0)" if val.size else "")
        )
    check_magnitude(x, y, names, selection.target)
    use_scaler = d > 1 if scale == "auto" else bool(scale)
    # One gathered copy of the training rows: their statistics in original units, then,
    # standardised in place, the descent's features (x_train is gathered again only if asked).
    z_train, y_train = x[train], y[train]
    moments = Moments.from_data(z_train, y_train)
    scaler = Scaler.learn(moments, features=use_scaler, target=False)
    if scaler.is_identity:
        scaler = None
    has_val = val.size > 0
    z_val = x[val] if has_val else None
    if scaler is not None:
        standardise_in_place(scaler, z_train)
        if has_val:
            standardise_in_place(scaler, z_val)
    return Problem(
        features=list(names),
        target=selection.target,
        z_train=z_train,
        y_train=y_train,
        z_val=z_val,
        y_val=y[val] if has_val else None,
        train_rows=train,
        val_rows=val,
        scaler=scaler,
        moments=moments,
        x=x,
    )


def standardise_in_place(scaler: Scaler, x: np.ndarray) -> None:
    """``scaler.x(x)`` written over ``x`` (float64): the same operations, so the same bits."""
    x -= scaler.x_mean
    x /= scaler.x_scale
    x[:, scaler.constant] = 0.0


def check_magnitude(x: np.ndarray, y: np.ndarray, names: list[str], target: str) -> None:
    """Numbers whose squares overflow make the descent diverge: say which column."""
    columns = [(name, x[:, j]) for j, name in enumerate(names)] + [(target, y)]
    for name, values in columns:
        check_largest(name, float(np.max(np.abs(values))))


def check_largest(name: str, largest: float) -> None:
    """Refuse a column whose largest magnitude would overflow once squared and summed."""
    if largest > LARGEST_VALUE:
        exponent = int(np.floor(np.log10(largest))) - 3
        raise DivergenceError(
            f"the descent would overflow: column {name!r} holds values up to {largest:.3g}, "
            f"whose squares exceed the largest float64; rescale it first "
            f"(e.g. divide the column by 1e{exponent}) and train again"
        )


def auto_lr(problem: Problem, batch_size: int | None) -> float:
    """The shared default step size for the data the descent sees."""
    l_max = None
    if batch_size is not None and batch_size < problem.n_train:
        l_max = policies.largest_row_curvature(problem.z_train)
    with np.errstate(over="ignore", invalid="ignore"):
        lr = policies.auto_lr(problem.descent_moments, batch_size, l_max, ~problem.constant)
    if not np.isfinite(lr) or lr <= 0:
        raise DivergenceError(
            "the descent would overflow: the features are too large to compute a step size; "
            "rescale them (or pass --scale)"
        )
    return lr


# ------------------------------------------------------------------- training


@dataclass(frozen=True)
class Settings:
    """What the descent needs beyond the data."""

    lr: float
    epochs: int  # the cap, counting epochs already run
    tol: float | None
    batch_size: int | None
    seed: int
    engine: str = "auto"
    device: str = "auto"
    dtype: str | None = None
    patience: int | None = None  # early stopping on the validation loss
    optimizer: Optimizer = SGD()  # the update rule (gradstep.engines.optimizers)


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
    engine: str | None = None  # the engine that ran (engine "auto" picks one)
    bound: float | None = None  # certified relative distance to least squares, at the end
    optimizer_state: dict | None = None  # after the last epoch (None: plain SGD keeps none)

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

    Starts at ``b = 0, w = 0`` (descent units) or continues ``start``. Stops early once
    the parameters are certified within ``tol`` of least squares (converged), or, with
    ``patience``, when the validation loss has not reached a new best for ``patience``
    epochs. ``progress(epochs_done, epochs_cap, train_loss, bound)`` is called between
    chunks (``bound``: the certified relative distance to least squares).
    """
    with_val = problem.has_val
    state = start or Progress(empty_history(problem.d, with_val))
    done = state.history.epochs
    patience = None
    if settings.patience is not None and with_val:
        patience = Patience(settings.patience)
        patience.first_stop(state.history.val_loss)  # what a resumed run already saw
    engine = prepare_engine(
        settings.engine,
        Data(problem.z_train, problem.y_train, problem.z_val, problem.y_val),
        EngineSettings(settings.lr, settings.batch_size, settings.seed, False,
                       settings.device, settings.dtype, settings.optimizer),
        problem.descent_moments,
    )  # fmt: skip
    report = None
    if progress is not None:

        def report(chunk_done, _total, loss, bound):
            progress(done + chunk_done, settings.epochs, loss, bound)

    b, w = state.params()
    outcome = descend(
        engine, b, w, start_epoch=done, epochs=settings.epochs - done,
        rules=Rules(settings.tol, settings.patience if with_val else None),
        certificate=problem.certificate, patience=patience, progress=report,
        state=copy_state(state.optimizer_state),
    )  # fmt: skip
    history = History.concat([state.history, outcome.history]) if done else outcome.history
    stopped_early = outcome.reason == "patience"
    converged = None if settings.tol is None else outcome.reason == "tol"
    history.converged = converged
    best = outcome.best_epoch if patience is not None else None
    return Progress(history, converged, stopped_early, best, engine.name, outcome.bound,
                    outcome.state)  # fmt: skip


def start_bound(problem: Problem, start: Progress | None = None) -> float:
    """The certified bound where :func:`train` starts (inf when nothing is certifiable)."""
    b, w = start.params() if start is not None else (0.0, np.zeros(problem.d))
    return float(problem.certificate.relative_bound(b, w)[0])


# ------------------------------------------------------------------ summarising


def model_params(problem: Problem, state: Progress) -> tuple[float, np.ndarray]:
    """The model's parameters in original units (the best epoch with early stopping)."""
    return problem.to_original(*state.params(state.model_epoch))


def closed_form(problem: Problem) -> tuple[float, np.ndarray]:
    """Least squares on the training rows, in original units, from their statistics.

    The centred normal equations in correlation form (:func:`least_squares_from_moments`)
    of the data the descent sees, converted to original units as the descent's answer is:
    no pass over the data and no copy of it. (Not from ``moments``: a mean float64 cannot
    hold exactly, as for integers near 2**53, biases the original units' centred sums by
    its rounding squared; standardised data has a small mean of its own, held exactly.)
    Where the correlation matrix is too ill-conditioned for the normal equations (nearly
    collinear features) they would lose the digits this comparison is about, so lstsq
    solves it on the training rows instead (copies of them, only then).
    """
    solved = least_squares_from_moments(problem.descent_moments, problem.constant)
    if solved is None:
        return closed_form_of_rows(problem.x_train, problem.y_train)
    return problem.to_original(*solved)


def closed_form_of_rows(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
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


def optimizer_record(optimizer: Optimizer) -> dict:
    """``{"name": ..., **hyperparameters}`` as JSON holds it (betas as a list)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in optimizer.config().items()}


def summarise(problem: Problem, state: Progress, settings: Settings) -> dict:
    """Parameters, the closed-form comparison, metrics and how the descent ended."""
    intercept, coef = model_params(problem, state)
    val_metrics = None
    if problem.has_val:
        val_metrics = metrics(problem.y_val, problem.predictions("val", intercept, coef))
    train_metrics = metrics(problem.y_train, problem.predictions("train", intercept, coef))
    return summary_payload(
        target=problem.target, features=problem.features, params=(intercept, coef),
        closed=closed_form(problem), state=state, settings=settings,
        extra={"optimizer": optimizer_record(settings.optimizer)},
        engine=state.engine or settings.engine, condition=problem.certificate.condition,
        constant=problem.constant, scaled=problem.scaler is not None,
        train_metrics=train_metrics, val_metrics=val_metrics,
        rows={"train": int(problem.train_rows.size), "validation": int(problem.val_rows.size)},
    )  # fmt: skip


def summary_payload(
    *,
    target,
    features,
    params,
    closed,
    state,
    settings,
    extra,
    engine,
    condition,
    constant,
    scaled,
    train_metrics,
    val_metrics,
    rows,
) -> dict:
    """``summary.json`` of a run, in memory or streamed: ``params`` and ``closed`` are
    ``(intercept, coef)`` of the descent and of least squares; ``extra`` follows
    ``batch_size`` (what only one kind of run has)."""
    (intercept, coef), (cf_intercept, cf_coef) = params, closed
    ours, theirs = np.r_[intercept, coef], np.r_[cf_intercept, cf_coef]
    diff = np.abs(ours - theirs)
    floor = 1e-12 * max(1.0, float(np.max(np.abs(theirs))))
    names = list(features)
    return {
        "target": target,
        "features": names,
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
        **extra,
        "engine": engine,
        "certified_bound": state.bound,
        "condition_number": condition,
        "constant_features": [n for n, c in zip(names, constant, strict=True) if c],
        "scaled": scaled,
        "init": {"b": 0.0, "w": [0.0] * len(names)},
        "train_loss": train_metrics["mse"],
        "val_loss": None if val_metrics is None else val_metrics["mse"],
        "closed_form": {
            "intercept": cf_intercept,
            "coef": dict(zip(names, map(float, cf_coef), strict=True)),
        },
        "max_abs_diff_closed_form": float(diff.max()),
        "max_rel_diff_closed_form": float(np.max(diff / np.maximum(np.abs(theirs), floor))),
        "metrics": {"train": train_metrics, "validation": val_metrics},
        "rows": rows,
    }
