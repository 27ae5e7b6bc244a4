"""``gradstep train --stream``: the run of a table that is not loaded, on one process or on
every rank of a ``torch.distributed`` job (``--distributed`` under torchrun, ``--workers K``).

Every rank reads its share and takes part in every collective; only rank 0 takes the run
folder's lock, checks it and writes it (atomically, after every pass has succeeded), so
a failure anywhere leaves no run folder written or changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from gradstep.errors import GradstepError
from gradstep.runs.config import TrainOptions, default_out

WORKER_DIR = "GRADSTEP_WORKER_DIR"
_PARQUET_ONLY = (
    "--distributed/--workers read Parquet only (its row groups are what processes share); "
    "{path} is CSV: convert it to Parquet, or drop --distributed/--workers"
)  # set by --workers: where ranks leave their summary/errors


def run_streamed(options: TrainOptions, given: dict, config_path, written=None) -> dict:
    from gradstep.cli.train_run import require_data
    from gradstep.runs.config import check_stream_resume

    check_stream_resume(options)
    if options.workers is not None:
        from gradstep.stream.launch import launch
        from gradstep.stream.source import open_source

        source = open_source(require_data(options), options.format, options.features,
                             options.target)  # fmt: skip
        if source.format != "parquet":
            raise GradstepError(_PARQUET_ONLY.format(path=source.path))

        payload = launch(options.workers, given, config_path)
        return {"json": options.json, "payload": payload, "report": options.report}
    out = Path(options.out or default_out(require_data(options)))
    payload = in_group(options, lambda group: _run(options, out, group, written, given,
                                                   config_path))  # fmt: skip
    return {"json": options.json, "payload": payload, "report": options.report}


def in_group(options: TrainOptions, run):
    """``run(group)`` in this process's group (alone without ``--distributed``); the
    payload it returns on rank 0 (None on the others), left for ``--workers``' launcher
    too, as is the one-line error of a rank that fails."""
    group = _group(options)
    try:
        payload = run(group)
    except GradstepError as exc:
        _leave(group, "err", str(exc))
        raise
    finally:
        group.close()
    if group.rank != 0:
        return None
    _leave(group, "json", json.dumps(payload))
    return payload


def _group(options: TrainOptions):
    from gradstep.stream.group import Alone, Torch

    if not options.distributed:
        return Alone()
    try:
        return Torch(options.backend)
    except GradstepError as exc:
        _leave(SimpleNamespace(rank=int(os.environ.get("RANK", 0))), "err", str(exc))
        raise


def _leave(group, kind: str, text: str) -> None:
    """Under ``--workers``: leave the summary (rank 0) or this rank's error for the launcher."""
    folder = os.environ.get(WORKER_DIR)
    if folder and (kind == "err" or group.rank == 0):
        Path(folder, f"rank-{group.rank}.{kind}").write_text(text, encoding="utf-8")


def _run(options: TrainOptions, out: Path, group, written, given=None, config_path=None
         ) -> dict:  # fmt: skip
    from gradstep.cli.train_run import require_data
    from gradstep.runs.config import resolve
    from gradstep.runs.output import check_out_dir, check_out_path, read_resume
    from gradstep.runs.safety import clean_leftovers, run_lock
    from gradstep.stream.fit import Resume, StreamOptions, run_stream
    from gradstep.stream.source import open_source

    with contextlib.ExitStack() as stack:
        resume = None
        if options.resume:  # one process (check_stream): lock, then read the run to continue
            check_out_path(out)
            stack.enter_context(run_lock(out))
            clean_leftovers(out)
            check_out_dir(out, resume=True, force=False, data=options.data)
            stored, history, meta = read_resume(out)
            options = resolve(given or {}, config_path, stored)
            check_out_dir(out, resume=True, force=False, data=options.data)
            resume = Resume(history, meta, str(out))

        def setup():
            source = open_source(require_data(options), options.format, options.features,
                                 options.target)  # fmt: skip
            if group.world_size > 1 and source.format != "parquet":
                raise GradstepError(_PARQUET_ONLY.format(path=source.path))
            if group.rank == 0 and resume is None:
                check_out_path(out)
                stack.enter_context(run_lock(out))
                clean_leftovers(out)
                check_out_dir(out, resume=False, force=options.force, data=options.data)
            return source

        source = group.agree("checking the data and the run folder", setup)[group.rank]
        stream_options = StreamOptions(
            options.val_fraction, options.seed, options.scale, options.lr, options.epochs,
            options.tol, options.early_stopping, options.drop_missing, options.chunk_rows,
            options.batch_size, options.shuffle_buffer,
        )  # fmt: skip
        show = group.rank == 0 and not options.json and sys.stderr.isatty()
        with _bars(show) as (rows_bar, epochs_bar):
            run = run_stream(source, stream_options, group, rows_bar, epochs_bar, resume)
        resumed_from = None if resume is None else resume.history.epochs
        payload = dict(run.payload, run_dir=str(out), resumed_from_epoch=resumed_from,
                       lr_source="auto" if options.lr == "auto" else "given")  # fmt: skip
        if group.backend is not None:
            payload["backend"] = group.backend

        def write():
            if group.rank == 0:
                _write(options, out, run, payload, written)

        group.agree("writing the run folder", write)
    return payload


@contextlib.contextmanager
def _bars(show: bool):
    """tqdm bars (rows read, then epochs) on standard error when it is a terminal."""
    if not show:
        yield None, None
        return
    from tqdm import tqdm

    with tqdm(unit="row", unit_scale=True, file=sys.stderr, leave=False, desc="reading") as rows:
        epochs = {}

        def epoch(done: int, cap: int, loss: float) -> None:
            if "bar" not in epochs:
                rows.close()
                epochs["bar"] = tqdm(total=cap, unit="epoch", file=sys.stderr, leave=False)
            epochs["bar"].update(done - epochs["bar"].n)
            epochs["bar"].set_postfix(train_loss=f"{loss:.6g}")

        try:
            yield rows.update, epoch
        finally:
            if "bar" in epochs:
                epochs["bar"].close()


def _write(options, out: Path, run, payload: dict, written) -> None:
    from gradstep.cli.train_run import config_payload, draw_figures_and_report
    from gradstep.quadratic import QuadraticLoss
    from gradstep.runs.output import (
        RunFiles,
        SavedModel,
        checkpoint_payloads,
        scaler_payload,
        write_run,
    )

    intercept, coef = run.params()
    model = SavedModel(run.features, run.target, intercept, coef, scaler_payload(run.scaler))
    state, settings = run.state, run.settings
    meta = {
        "seed": settings.seed, "tol": settings.tol, "lr": settings.lr,
        "converged": state.converged, "stopped_early": state.stopped_early,
        "best_epoch": state.best_epoch, "data_fingerprint": run.fingerprint,
        "features": run.features, "target": run.target, "scaled": run.scaler is not None,
    }  # fmt: skip
    checkpoints = checkpoint_payloads(state.history, meta, options.checkpoint_every,
                                      state.best_epoch)  # fmt: skip
    table = SimpleNamespace(source=run.source.path, format=run.source.format)
    problem = SimpleNamespace(features=run.features, target=run.target, scaler=run.scaler)
    config = config_payload(options, out, table, problem, settings)
    quadratic = QuadraticLoss.from_moments(run.descent).to_dict()
    files = RunFiles(config, model.to_dict(), payload, quadratic, state.history,
                     checkpoints)  # fmt: skip
    finish = (lambda folder: draw_figures_and_report(folder, out)) if options.report else None
    write_run(out, files, keep_existing=options.resume, finish=finish, written=written)
