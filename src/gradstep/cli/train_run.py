"""What ``gradstep train`` does, in order: options, checks, data, descent, run folder.

Everything that can fail because of the user's input (options, the run folder's
state, the file, the columns, the numbers, the descent) fails before the first
byte is written; the run folder is then written whole, in one move.
"""

from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import gradstep
from gradstep.errors import GradstepError
from gradstep.runs.config import (
    TrainOptions,
    check_consistent,
    check_optimizer,
    default_out,
    flag_name,
    resolve,
)
from gradstep.runs.output import (
    CHECKPOINTS,
    LAST,
    RunFiles,
    SavedModel,
    check_out_dir,
    check_out_path,
    checkpoint_payloads,
    read_resume,
    scaler_payload,
    write_run,
)
from gradstep.runs.safety import clean_leftovers, run_lock
from gradstep.runs.train import (
    Problem,
    Progress,
    Settings,
    auto_lr,
    check_resumable,
    model_params,
    optimizer_record,
    prepare,
    start_bound,
    summarise,
    train,
)
from gradstep.table import Table, listing, read_table, select


def run_training(given: dict, config_path: str | None, stdin=None, written=None) -> dict:
    """Train as the options say; return ``{"json": bool, "payload": summary, "report": bool}``.

    The run folder is locked for the whole command (one writer per folder), and what an
    interrupted writer left beside it is cleaned first. ``written()`` is called the
    moment the new run folder is in place.
    """
    # With --resume the run's own options complete these, so check them only then.
    options = resolve(given, config_path, check=False)
    if options.resume and not options.stream and _resumes_streamed(options):
        given = {**given, "stream": True}  # --resume continues a streamed run streamed
        options = resolve(given, config_path, check=False)
    if options.stream:
        from gradstep.cli.train_stream import run_streamed

        # with --resume the run's own options complete these: checked once they are read
        return run_streamed(resolve(given, config_path, check=not options.resume), given,
                            config_path, written)  # fmt: skip
    if options.distributed or options.workers is not None:
        from gradstep.cli.train_dist import run_distributed

        return run_distributed(options, given, config_path, written)
    out = Path(options.out or default_out(require_data(options)))
    check_out_path(out)  # before the lock file is made beside it
    with run_lock(out):
        clean_leftovers(out)
        return train_locked(options, given, config_path, out, stdin, written)


def _resumes_streamed(options: TrainOptions) -> bool:
    """Whether the run ``--resume`` continues was streamed (its config.json says so); a
    damaged or missing one is left to the checks of the in-memory path to name."""
    import json

    if options.data is None and options.out is None:
        return False
    out = Path(options.out or default_out(options.data))
    try:
        stored = json.loads((out / "config.json").read_text(encoding="utf-8"))
        return stored["options"].get("stream") is True
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return False


def train_locked(options, given, config_path, out: Path, stdin, written, group=None) -> dict:
    """Train and write the run folder (``out`` is locked). With a process ``group``
    (:mod:`gradstep.stream.group`) every rank reads the table and trains; the ranks agree
    on each step that may fail on one of them, and only rank 0 checks and writes ``out``."""
    from gradstep.stream.group import Alone

    group = group or Alone()
    options, table, problem, settings, start = group.check(
        "reading the data and checking the run folder",
        lambda: prepare_run(options, given, config_path, out, stdin, group),
    )
    show = not options.json and group.rank == 0
    with progress_bar(problem, settings, start, enabled=show) as progress:
        state = train(problem, settings, start, progress)
    payload = summarise(problem, state, settings)
    payload.update(
        data=table.source,
        format=table.format,
        run_dir=str(out),
        lr_source="auto" if options.lr == "auto" else "given",
        val_fraction=options.val_fraction,
        skipped_columns=table.skipped,
        dropped_rows=table.dropped,
        resumed_from_epoch=None if start is None else start.epoch,
    )
    payload["rows"]["total"] = table.n_rows
    if group.world_size > 1:
        payload.update(world_size=group.world_size, backend=group.backend)

    def write():
        if group.rank == 0:
            files = run_files(options, out, table, problem, state, settings, payload)
            finish = None
            if options.report:
                finish = lambda folder: draw_figures_and_report(folder, out)  # noqa: E731
            write_run(out, files, keep_existing=options.resume, finish=finish, written=written)

    group.check("writing the run folder", write)
    return {"json": options.json, "payload": payload, "report": options.report}


def prepare_run(options, given, config_path, out: Path, stdin, group):
    """The options (completed by the run resumed), the table, the problem, the settings and
    where the descent starts; every check before training."""
    resumed = None
    if options.resume:
        check_out_dir(out, resume=True, force=False, data=options.data)
        stored, history, meta = read_resume(out)
        options = resolve(given, config_path, stored)
        check_out_dir(out, resume=True, force=False, data=options.data)
        resumed = (history, meta)
    else:
        check_consistent(options)
    problem, table = load_problem(options, stdin)
    settings = make_settings(options, problem)
    if group.world_size > 1:  # every rank sums its part of each batch
        settings = replace(settings, engine="distributed")
    if not options.resume and group.rank == 0:  # after the data's checks: those come first
        check_out_dir(out, resume=False, force=options.force, data=options.data)
    start = resume_start(problem, settings, out, *resumed) if resumed else None
    return options, table, problem, settings, start


@dataclass(frozen=True)
class TableInfo:
    """What a run keeps of its table once the problem is prepared."""

    source: str
    format: str
    n_rows: int
    skipped: dict[str, str]
    dropped: int


def load_problem(options: TrainOptions, stdin) -> tuple[Problem, TableInfo]:
    """Read the columns used, select them and prepare the problem.

    The table and the selection end here, so the run holds only the rows it uses: with
    rows dropped for missing values the selection is a copy, and the table's block (then
    unused) is let go before the training rows are gathered; the selection's row indices
    go once the problem is prepared.
    """
    table = read_table(require_data(options), options.format, stdin, columns=used_columns(options))
    selection = select(table, options.features, require_target(options, table),
                       options.drop_missing)  # fmt: skip
    info = TableInfo(table.source, table.format, table.n_rows, selection.skipped,
                     int(selection.dropped))  # fmt: skip
    del table  # the selection keeps what it views of the block
    problem = prepare(selection, options.val_fraction, options.seed, options.scale, info.source)
    return problem, info


def require_data(options: TrainOptions) -> str:
    if options.data is not None:
        return options.data
    raise GradstepError(
        "missing DATA: pass the table to train on (a CSV or Parquet file, or - for standard "
        "input), or set data = ... in --config"
    )


def used_columns(options: TrainOptions) -> list[str] | None:
    """The columns to read: with --features and --target, only those (None: every column,
    as the default features are every numeric column but the target)."""
    if options.features is None or options.target is None:
        return None
    return [*options.features, options.target]


def require_target(options: TrainOptions, table: Table) -> str:
    if options.target is None:
        raise GradstepError(
            f"missing --target: name the column to predict; columns in {table.source}: "
            f"{listing(table.names)}"
        )
    return options.target


def make_settings(options: TrainOptions, problem: Problem) -> Settings:
    n_train = problem.n_train
    batch = options.batch_size
    if batch is not None and batch > n_train:
        raise GradstepError(
            f"{flag_name('batch_size')} {batch} is larger than the {n_train} training rows; "
            f"pass at most {n_train}, or leave it out for full-batch descent"
        )
    if options.early_stopping is not None and not problem.has_val:
        raise GradstepError(
            f"--early-stopping watches the validation loss, but --val-fraction "
            f"{options.val_fraction:g} of these rows leaves fewer than 2 for validation; "
            "raise --val-fraction or drop --early-stopping"
        )
    lr = auto_lr(problem, batch) if options.lr == "auto" else float(options.lr)
    return Settings(
        lr=lr, epochs=options.epochs, tol=options.tol or None, batch_size=batch,
        seed=options.seed, engine=options.engine, device=options.device, dtype=options.dtype,
        patience=options.early_stopping, optimizer=check_optimizer(options),
    )  # fmt: skip


def resume_start(problem: Problem, settings: Settings, out: Path, history, meta) -> Progress:
    # an edited seed also moves the split, so name the edit before the data it changed
    check_matches_checkpoint(problem, settings, out, meta)
    if meta.get("data_fingerprint") != problem.fingerprint:
        raise GradstepError(
            f"the data differs from the data the run in {out} was trained on (other rows, "
            "values or columns); --resume needs the same table: train a new run with another --out"
        )
    start = Progress(history, meta.get("converged"), bool(meta.get("stopped_early")),
                     meta.get("best_epoch"),
                     optimizer_state=resumed_state(settings, out, meta, problem.d))  # fmt: skip
    check_resumable(start, settings, meta.get("tol"))
    return start


def resumed_state(settings: Settings, out: Path, meta: dict, d: int) -> dict | None:
    """The optimizer state ``last.ckpt`` holds, checked against the optimizer: a stateful
    optimizer without its state would restart its moments, not continue them."""
    from gradstep.engines.optimizers import check_state

    where = out / CHECKPOINTS / LAST
    stored = meta.get("optimizer_state")
    if settings.optimizer.stateful and stored is None:
        raise GradstepError(
            f"{where} holds no optimizer state for --optimizer {settings.optimizer.name}, so "
            "the run cannot continue exactly; train a new run with another --out"
        )
    try:
        return check_state(settings.optimizer, stored, d)
    except GradstepError as exc:
        raise GradstepError(f"{where}: {exc}; cannot resume (damaged?)") from None


def check_matches_checkpoint(problem: Problem, settings: Settings, out: Path, meta) -> None:
    """The configuration (config.json, the command line) must describe the descent the
    checkpoint holds: config.json is plain text, and an edited learning rate, seed or
    column would otherwise silently continue another descent."""
    now = {"lr": settings.lr, "seed": settings.seed, "target": problem.target,
           "features": list(problem.features), "scaled": problem.scaler is not None,
           "optimizer": optimizer_record(settings.optimizer)}  # fmt: skip
    for name, value in now.items():
        if name not in meta:  # a checkpoint of an older gradstep may record fewer
            continue
        stored = meta[name]
        same = (
            isinstance(stored, int | float) and math.isclose(value, stored, rel_tol=1e-9)
            if name == "lr"
            else stored == value
        )
        if not same:
            raise GradstepError(
                f"{out / 'config.json'} (with the command line) gives {name} {value!r}, but "
                f"{out / CHECKPOINTS / LAST} was trained with {stored!r}; the configuration was "
                "changed after the run: restore config.json, or train a new run with another --out"
            )


@contextlib.contextmanager
def progress_bar(problem: Problem, settings: Settings, start: Progress | None, enabled: bool):
    """A text bar on standard error when it is a terminal; otherwise nothing.

    With ``--tol`` it shows the certified bound's way from where this run starts to
    ``tol`` (:class:`gradstep.progress.DescentBar`), not the epochs toward the cap.
    """
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from tqdm import tqdm

    from gradstep.progress import DescentBar

    def make_bar(**options):
        return tqdm(file=sys.stderr, **options)

    bound0 = start_bound(problem, start) if settings.tol is not None else None
    offset = 0 if start is None else start.epoch
    with DescentBar(settings.epochs, tol=settings.tol, start_bound=bound0, offset=offset,
                    make_bar=make_bar, leave=False) as bar:  # fmt: skip
        yield bar


# ------------------------------------------------------------------ files


def run_files(options, out, table: TableInfo, problem, state, settings, payload) -> RunFiles:
    from gradstep.quadratic import QuadraticLoss

    intercept, coef = model_params(problem, state)
    model = SavedModel(problem.features, problem.target, intercept, coef,
                       scaler_payload(problem.scaler))  # fmt: skip
    meta = {
        "seed": settings.seed, "tol": settings.tol, "lr": settings.lr,
        "converged": state.converged, "stopped_early": state.stopped_early,
        "best_epoch": state.best_epoch, "data_fingerprint": problem.fingerprint,
        "features": problem.features, "target": problem.target,
        "scaled": problem.scaler is not None,
        "optimizer": optimizer_record(settings.optimizer),
    }  # fmt: skip
    # from the statistics the descent used: [1, Z] would be another copy of the rows
    quadratic = QuadraticLoss.from_moments(problem.descent_moments).to_dict()
    checkpoints = checkpoint_payloads(
        state.history, meta, options.checkpoint_every, state.best_epoch, state.optimizer_state
    )
    return RunFiles(config_payload(options, out, table, problem, settings), model.to_dict(),
                    payload, quadratic, state.history, checkpoints)  # fmt: skip


def config_payload(options, out, table: TableInfo, problem, settings) -> dict:
    return {
        "gradstep_version": gradstep.__version__,
        "options": options.values(),
        "sources": dict(options.sources),
        "config_file": options.config,
        "resolved": {
            "data": table.source,
            "format": table.format,
            "out": str(out),
            "features": problem.features,
            "target": problem.target,
            "lr": settings.lr,
            "tol": settings.tol,
            "batch_size": settings.batch_size,
            "optimizer": optimizer_record(settings.optimizer),
            "scale": problem.scaler is not None,
            "epochs": settings.epochs,
        },
    }


def draw_figures_and_report(folder: Path, out: Path) -> None:
    """The figures that apply and the report, drawn from the freshly written folder."""
    from gradstep.plots.run_figures import write_run_figures
    from gradstep.report import write_run_report
    from gradstep.runs.folder import read_run

    run = read_run(folder)
    write_run_figures(run)
    # Named after where the folder will be, not the temporary folder it is written in.
    write_run_report(replace(run, path=out), out=folder / "report.html")
