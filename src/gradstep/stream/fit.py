r"""Full-batch descent on a table too large to hold: the statistics in streamed passes.

1. *Raw pass*: per unit, the moments of the training and validation rows (split per
   row, :func:`gradstep.runs.train.validation_mask`), the largest magnitude per column
   and the rows read. The scaler is learnt from the training moments
   (:meth:`gradstep.policies.Scaler.learn`), as in memory.
2. *Scaled pass* (when the features are scaled): the moments of the scaled rows, the
   scaler applied per chunk. They are not derived from the raw moments: float64 cannot
   hold every mean exactly, so the scaled data has a small mean of its own (see
   :attr:`gradstep.runs.train.Problem.descent_moments`).
3. The ``stats`` engine runs every epoch in O(d²) through the one driver, with the
   certified ``tol``, exactly as an in-memory full-batch run does.
4. *Metrics pass*: the errors of the final model (MSE, MAE; R² from the moments).

Per-unit results are gathered from every rank and combined in unit (table) order, so
the numbers are the same for any chunk size and any number of processes
(:mod:`gradstep.stream.sums`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradstep.closed_form import least_squares_from_moments
from gradstep.defaults import DEFAULT_TOL
from gradstep.drive import Rules, descend
from gradstep.engines.base import Data, Engine
from gradstep.engines.base import Settings as EngineSettings
from gradstep.engines.stats import StatsEngine
from gradstep.errors import DivergenceError, GradstepError
from gradstep.moments import Moments
from gradstep.policies import Certificate, Patience, Scaler
from gradstep.policies import auto_lr as policy_lr
from gradstep.result import FitResult, History
from gradstep.runs.train import (
    MIN_VAL_ROWS,
    Progress,
    Settings,
    check_largest,
    empty_history,
    summary_payload,
    validation_mask,
)
from gradstep.stream.batches import DEFAULT_SHUFFLE_BUFFER, StreamedBatches
from gradstep.stream.group import Alone
from gradstep.stream.source import Source, Unit, open_source, read_unit
from gradstep.stream.sums import Accumulator, BlockSum, merge, to_moments

DEFAULT_CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class StreamOptions:
    """What a streamed run needs beyond the table (the ``gradstep train`` options)."""

    val_fraction: float = 0.2
    seed: int = 42
    scale: bool | str = True
    lr: float | str = "auto"
    epochs: int = 100_000
    tol: float | None = DEFAULT_TOL
    patience: int | None = None
    drop_missing: bool = False
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    batch_size: int | None = None  # None: full batch from the statistics
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER  # rows shuffled together (mini-batch only)


@dataclass
class StreamRun:
    """Everything a streamed run computed; ``payload`` is the summary (as in memory)."""

    source: Source
    moments: Moments  # training rows, original units
    val_moments: Moments | None
    descent: Moments  # training rows as the descent sees them
    descent_val: Moments | None
    scaler: Scaler | None
    settings: Settings
    state: Progress
    payload: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.source.features

    @property
    def target(self) -> str:
        return self.source.target

    @property
    def d(self) -> int:
        return len(self.source.features)

    @property
    def constant(self) -> np.ndarray:
        return np.zeros(self.d, bool) if self.scaler is None else self.scaler.constant

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.features, self.target, self.moments, self.val_moments)

    def params(self) -> tuple[float, np.ndarray]:
        """The model's parameters in original units."""
        b, w = self.state.params(self.state.model_epoch)
        if self.scaler is None:
            return float(b), np.asarray(w, dtype=np.float64)
        b0, w0 = self.scaler.to_original(b, w)
        return float(b0), np.asarray(w0, dtype=np.float64)


@dataclass(frozen=True)
class Resume:
    """The run a streamed ``--resume`` continues: its history and checkpoint meta
    (:func:`gradstep.runs.output.read_resume`) and its folder, for messages."""

    history: object
    meta: dict
    out: str


def fingerprint(features, target, moments: Moments, val_moments: Moments | None) -> str:
    """SHA-256 of the names and the statistics (a streamed run never holds the rows)."""
    digest = hashlib.sha256(repr((features, target)).encode())
    for m in (moments, val_moments):
        if m is not None:
            for part in (m.mean_x, m.sxx, m.sxy, [m.n, m.mean_y, m.syy]):
                digest.update(np.asarray(part, dtype=np.float64).tobytes())
    return digest.hexdigest()


class StreamedStats(StatsEngine):
    """The ``stats`` engine prepared from moments gathered elsewhere (no rows in memory).

    Only construction differs: the descent, losses and divergence checks are the
    ``stats`` engine's own. There are no rows to replay before an overflow, so a
    diverging run reports the moments' own epoch.
    """

    def __init__(self, moments: Moments, val_moments: Moments | None, settings: EngineSettings):
        d = moments.d
        Engine.__init__(self, Data(np.empty((0, d)), np.empty(0)), settings)  # no rows here
        from gradstep.engines import kernels

        self.kernels = kernels
        self.timings["compile_seconds"] = kernels.warm(np.float64, d)
        self.moments, self.val_moments = moments, val_moments
        self.timings["prepare_seconds"] = 0.0

    def _replay(self, *args) -> None:
        pass


# ------------------------------------------------------------------ passes


def scan(group, source: Source, step: str, per_unit: Callable[[Unit], dict]) -> list[dict]:
    """``per_unit`` on this rank's units (unit ``i`` on rank ``i % world_size``); the
    results of every rank, in unit order."""

    def work() -> dict:
        _fault(group.rank, step)
        return {u.index: per_unit(u) for u in source.units[group.rank :: group.world_size]}

    merged = {}
    for part in group.agree(step, work):
        merged.update(part)
    return [merged[i] for i in sorted(merged)]


def _fault(rank: int, step: str) -> None:
    """For the tests of failures: ``GRADSTEP_TEST_EXIT_RANK=r`` makes rank ``r`` die (exit
    code 3, no message) as it starts the statistics pass, like a process killed mid-job."""
    import os

    if step == "the statistics pass" and os.environ.get("GRADSTEP_TEST_EXIT_RANK") == str(rank):
        os._exit(3)


def raw_pass(group, source, options: StreamOptions, fraction: float, tick) -> list[dict]:
    d = len(source.features)

    def per_unit(unit: Unit) -> dict:
        train, val = Accumulator(d), Accumulator(d)
        top, row_top = np.zeros(d + 1), 0.0
        rows, dropped = 0, [0]
        for chunk in read_unit(source, unit, options.chunk_rows, options.drop_missing, dropped):
            held = validation_mask(chunk.positions, fraction, options.seed)
            train.add(chunk.x[~held], chunk.y[~held])
            val.add(chunk.x[held], chunk.y[held])
            row_top = max(row_top, _row_top(chunk.x[~held], options))
            if chunk.y.size:
                top = np.maximum(top, np.abs(np.column_stack([chunk.x, chunk.y])).max(axis=0))
            rows += chunk.y.size
            tick(chunk.y.size)
        return {"train": train.finish(), "val": val.finish(), "rows": rows + dropped[0],
                "dropped": dropped[0], "top": top, "row_top": row_top}  # fmt: skip

    return scan(group, source, "the statistics pass", per_unit)


def scaled_pass(group, source, options, fraction, scaler: Scaler, tick) -> list[dict]:
    d = len(source.features)

    def per_unit(unit: Unit) -> dict:
        train, val = Accumulator(d), Accumulator(d)
        row_top = 0.0
        for chunk in read_unit(source, unit, options.chunk_rows, options.drop_missing):
            held = validation_mask(chunk.positions, fraction, options.seed)
            z = scaler.x(chunk.x)
            train.add(z[~held], chunk.y[~held])
            val.add(z[held], chunk.y[held])
            row_top = max(row_top, _row_top(z[~held], options))
            tick(chunk.y.size)
        return {"train": train.finish(), "val": val.finish(), "row_top": row_top}

    return scan(group, source, "the scaled statistics pass", per_unit)


def _row_top(x: np.ndarray, options: StreamOptions) -> float:
    """The largest squared norm of a row (mini-batch ``lr="auto"`` only), computed as
    :func:`gradstep.policies.largest_row_curvature` computes it in memory."""
    if options.batch_size is None or x.shape[0] == 0:
        return 0.0
    return float((x * x).sum(axis=1).max())


def metrics_pass(group, source, options, fraction, b: float, w: np.ndarray, tick) -> list[dict]:
    def per_unit(unit: Unit) -> dict:
        sums = [BlockSum(2), BlockSum(2)]  # train, val: (sum e^2, sum |e|)
        for chunk in read_unit(source, unit, options.chunk_rows, options.drop_missing):
            held = validation_mask(chunk.positions, fraction, options.seed)
            error = b + chunk.x @ w - chunk.y
            for k, rows in enumerate((~held, held)):
                e = error[rows]
                sums[k].add(np.column_stack([e * e, np.abs(e)]))
            tick(chunk.y.size)
        return {"sums": np.array([s.finish() for s in sums])}

    return scan(group, source, "the metrics pass", per_unit)


def combined(parts: list[dict], key: str) -> Moments | None:
    state = None
    for part in parts:
        state = merge(state, part[key])
    return None if state is None else to_moments(state)


# ------------------------------------------------------------------ the run


def run_stream(source: Source, options: StreamOptions, group=None, progress=None,
               epoch_progress=None, resume: Resume | None = None) -> StreamRun:  # fmt: skip
    """Read, check, descend and measure; the same on every rank of ``group``.

    ``progress(rows)`` is called as rows are read, ``epoch_progress(done, cap, loss)``
    between chunks of epochs. With ``resume`` the descent continues that run's history
    once the statistics pass has shown the table to be the same (its fingerprint).
    """
    group = group or Alone()
    tick = progress or (lambda rows: None)
    d = len(source.features)
    timings = {}
    start = time.perf_counter()
    fraction = options.val_fraction
    parts = raw_pass(group, source, options, fraction, tick)
    if 0 < sum(_count(p["val"]) for p in parts) < MIN_VAL_ROWS:
        fraction = 0.0  # fewer than 2 validation rows is not worth holding back: none
        parts = raw_pass(group, source, options, fraction, tick)
    raw, raw_val = combined(parts, "train"), combined(parts, "val")
    rows_total = sum(p["rows"] for p in parts)
    dropped = sum(p["dropped"] for p in parts)
    _check(source, raw, raw_val, rows_total, dropped, np.max([p["top"] for p in parts], axis=0))
    if resume is not None and resume.meta.get("data_fingerprint") != fingerprint(
        source.features, source.target, raw, raw_val
    ):
        raise GradstepError(
            f"the data differs from the data the run in {resume.out} was trained on (other "
            "rows, values or columns: its statistics differ); --resume needs the same table: "
            "train a new run with another --out"
        )
    use_scaler = d > 1 if options.scale == "auto" else bool(options.scale)
    scaler = Scaler.learn(raw, features=use_scaler, target=False)
    if scaler.is_identity:
        scaler = None
    descent, descent_val, row_top = raw, raw_val, max(p["row_top"] for p in parts)
    if scaler is not None:
        scaled = scaled_pass(group, source, options, fraction, scaler, tick)
        descent, descent_val = combined(scaled, "train"), combined(scaled, "val")
        row_top = max(p["row_top"] for p in scaled)
    timings["read_seconds"] = time.perf_counter() - start
    active = ~(np.zeros(d, bool) if scaler is None else scaler.constant)
    settings = _settings(options, descent, active, raw_val is not None, 2.0 * (1.0 + row_top))
    if options.batch_size is None:
        engine = StreamedStats(descent, descent_val,
                               EngineSettings(settings.lr, None, settings.seed))  # fmt: skip
    else:
        engine = StreamedBatches(
            source, options, fraction, descent.n, (lambda x: x) if scaler is None else scaler.x,
            descent_val, EngineSettings(settings.lr, settings.batch_size, settings.seed),
        )  # fmt: skip
    resumed = None if resume is None else _resume_start(resume, settings, scaler is not None,
                                                        source)  # fmt: skip
    state = _descend(engine, descent, descent_val, settings, active, epoch_progress, resumed)
    run = StreamRun(source, raw, raw_val, descent, descent_val, scaler, settings, state)
    b, w = run.params()
    sums = np.zeros((2, 2))
    for part in metrics_pass(group, source, options, fraction, b, w, tick):
        sums = sums + part["sums"]
    run.payload = summary(run, sums, rows_total, dropped, options, fraction)
    timings["seconds"] = time.perf_counter() - start
    run.payload["timings"] = timings
    run.payload["rows_read"] = [int(sum(p["rows"] for p in parts[r :: group.world_size]))
                                for r in range(group.world_size)]  # fmt: skip
    run.payload["world_size"] = group.world_size
    return run


def _count(state) -> int:
    return 0 if state is None else int(state[0])


def _check(source: Source, raw, raw_val, rows_total, dropped, top) -> None:
    n = (raw.n if raw else 0) + (raw_val.n if raw_val else 0)
    d = len(source.features)
    if n < 2:
        raise GradstepError(
            f"{source.path} has only {n} usable data row(s); training needs at least 2 "
            "(and more rows than features)"
        )
    if raw is None or raw.n <= d:
        n_train = raw.n if raw else 0
        raise GradstepError(
            f"{d} feature(s) but only {n_train} training row(s): there are more features than "
            "rows, so least squares has no unique answer; use fewer features or more rows"
        )
    for name, largest in zip(source.columns, top, strict=True):
        check_largest(name, float(largest))
    for m in (raw, raw_val):
        if m is not None and not m.finite:
            raise GradstepError(
                f"the data of {source.path} is too large to sum in float64 (its squares "
                "overflow); rescale the columns (e.g. divide them by a power of ten)"
            )


def _settings(options: StreamOptions, descent: Moments, active, has_val: bool,
              l_max: float) -> Settings:  # fmt: skip
    batch = options.batch_size
    if batch is not None and batch > descent.n:
        raise GradstepError(
            f"--batch-size {batch} is larger than the {descent.n} training rows; pass at "
            f"most {descent.n}, or leave it out for full-batch descent"
        )
    if options.lr == "auto":
        with np.errstate(over="ignore", invalid="ignore"):
            lr = policy_lr(descent, batch, l_max if batch is not None else None, active)
        if not np.isfinite(lr) or lr <= 0:
            raise DivergenceError(
                "the descent would overflow: the features are too large to compute a step "
                "size; rescale them (or pass --scale)"
            )
    else:
        lr = float(options.lr)
    if options.patience is not None and not has_val:
        raise GradstepError(
            f"--early-stopping watches the validation loss, but --val-fraction "
            f"{options.val_fraction:g} of these rows leaves fewer than 2 for validation; "
            "raise --val-fraction or drop --early-stopping"
        )
    engine = "stats" if batch is None else StreamedBatches.name
    return Settings(lr=lr, epochs=options.epochs, tol=options.tol or None, batch_size=batch,
                    seed=options.seed, engine=engine, patience=options.patience)  # fmt: skip


def _resume_start(resume: Resume, settings: Settings, scaled: bool, source) -> Progress:
    """Where the resumed descent starts; its checkpoint must describe this descent."""
    from gradstep.runs.train import check_resumable

    meta = resume.meta
    now = {"lr": settings.lr, "seed": settings.seed, "target": source.target,
           "features": list(source.features), "scaled": scaled}  # fmt: skip
    for name, value in now.items():
        if name in meta and meta[name] != value:
            raise GradstepError(
                f"{resume.out}/checkpoints/last.ckpt was trained with {name} {meta[name]!r}, "
                f"not {value!r} as config.json and the command line say now; --resume "
                "continues the same descent: train a new run with another --out"
            )
    start = Progress(resume.history, meta.get("converged"), bool(meta.get("stopped_early")),
                     meta.get("best_epoch"))  # fmt: skip
    check_resumable(start, settings, meta.get("tol"))
    return start


def _descend(engine, descent, descent_val, settings: Settings, active, epoch_progress,
             start: Progress | None = None) -> Progress:  # fmt: skip
    with_val = descent_val is not None
    patience = Patience(settings.patience) if settings.patience and with_val else None
    done = 0 if start is None else start.epoch
    if patience is not None and done:
        patience.first_stop(start.history.val_loss)  # what the resumed run already saw
    report = None
    if epoch_progress is not None:

        def report(chunk_done, total, loss, _bound):
            epoch_progress(done + chunk_done, settings.epochs, loss)

    b, w = (0.0, np.zeros(descent.d)) if start is None else start.params()
    outcome = descend(
        engine, b, w, start_epoch=done, epochs=settings.epochs - done,
        rules=Rules(settings.tol, settings.patience if with_val else None),
        certificate=Certificate(descent, active), patience=patience, progress=report,
    )  # fmt: skip
    history = outcome.history
    if done:
        history = History.concat([start.history, outcome.history])
    elif not history.epochs:
        history = empty_history(descent.d, with_val)
    converged = None if settings.tol is None else outcome.reason == "tol"
    history.converged = converged
    best = outcome.best_epoch if patience is not None else None
    return Progress(history, converged, outcome.reason == "patience", best, engine.name,
                    outcome.bound)  # fmt: skip


# ------------------------------------------------------------------ summary


def _metrics(sse: float, sae: float, m: Moments) -> dict:
    rows = m.n
    mse = sse / rows
    total = m.syy * m.n
    r2 = (1.0 if sse == 0.0 else 0.0) if total == 0.0 else 1.0 - sse / total
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": sae / rows, "r2": r2}


def summary(run: StreamRun, sums, rows_total, dropped, options, fraction) -> dict:
    """The summary of an in-memory run (:func:`gradstep.runs.train.summarise`), from moments."""
    state, settings = run.state, run.settings
    val_metrics = None if run.val_moments is None else _metrics(*sums[1], run.val_moments)
    payload = summary_payload(
        target=run.target, features=run.features, params=run.params(),
        closed=least_squares_from_moments(run.moments, ill_conditioned="lstsq"),
        state=state, settings=settings,
        extra={"shuffle_buffer": None if settings.batch_size is None else options.shuffle_buffer},
        engine=state.engine, condition=Certificate(run.descent, ~run.constant).condition,
        constant=run.constant, scaled=run.scaler is not None,
        train_metrics=_metrics(*sums[0], run.moments), val_metrics=val_metrics,
        rows={
            "train": run.moments.n,
            "validation": 0 if run.val_moments is None else run.val_moments.n,
            "total": int(rows_total),
        },
    )  # fmt: skip
    payload.update(
        data=run.source.path,
        format=run.source.format,
        streamed=True,
        chunk_rows=options.chunk_rows,
        val_fraction=options.val_fraction,
        skipped_columns=dict(run.source.skipped),
        dropped_rows=int(dropped),
    )
    return payload


# ------------------------------------------------------------------ the library call


def fit_table(path: str, target: str, features: list[str] | None = None, *,
              format: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
              val_fraction: float = 0.2, seed: int = 42, scale: bool | str = True,
              lr: float | str = "auto", epochs: int = 100_000, tol: float | None = DEFAULT_TOL,
              patience: int | None = None, drop_missing: bool = False,
              batch_size: int | None = None,
              shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER) -> FitResult:  # fmt: skip
    """Gradient descent on a table streamed from disk, never loaded whole.

    Full batch (``batch_size=None``) from streamed statistics; mini-batch and stochastic
    (``batch_size=k``) reading the table every epoch, its rows shuffled within windows of
    ``shuffle_buffer`` rows (:mod:`gradstep.stream.batches`).

    ``path``: a Parquet file, a folder of Parquet files (read in name order) or a CSV
    file. Memory is bounded by ``chunk_rows`` (and, for Parquet, the largest row group).
    The options mean what they mean for ``gradstep train``; the result's ``intercept``
    and ``coef`` are in the table's units, ``history`` in the units the descent ran in
    (features standardised unless ``scale=False``) and ``extra`` holds the summary that
    ``gradstep train --stream --json`` prints.
    """
    for name, value in [("chunk_rows", chunk_rows), ("shuffle_buffer", shuffle_buffer),
                        ("batch_size", 1 if batch_size is None else batch_size)]:  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise GradstepError(f"{name}={value!r} must be a whole number >= 1")
    source = open_source(str(path), format, features, target)
    options = StreamOptions(val_fraction, seed, scale, lr, epochs, tol, patience, drop_missing,
                            chunk_rows, batch_size, shuffle_buffer)  # fmt: skip
    run = run_stream(source, options)
    intercept, coef = run.params()
    return FitResult(intercept, coef, run.state.history, 0.0, np.zeros(run.d), run.state.engine,
                     run.settings.lr, run.state.epoch, batch_size, run.payload)  # fmt: skip
