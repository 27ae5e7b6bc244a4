"""``gradstep train --batch-size K --workers N`` / ``--distributed`` (without ``--stream``):
mini-batch descent in memory on every rank of a ``torch.distributed`` job.

Every rank reads the whole table (each holds the training rows) and runs the
``distributed`` engine (:mod:`gradstep.engines.distributed`): the same global batches as
one process, each rank summing its part, one ``all_reduce`` per step. Only rank 0 takes
the run folder's lock, checks it and writes it, after the descent, atomically; a rank that
fails or dies leaves the run folder (and its checkpoints) as it was.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gradstep.errors import GradstepError
from gradstep.runs.config import TrainOptions, default_out, resolve


def run_distributed(options: TrainOptions, given: dict, config_path, written=None) -> dict:
    from gradstep.cli.train_run import require_data
    from gradstep.cli.train_stream import in_group

    if options.data == "-":
        raise GradstepError(
            "standard input cannot be shared by several processes; save it to a file and pass "
            "that file"
        )
    if options.workers is not None:
        from gradstep.stream.launch import launch

        if not options.resume:  # a resumed run's options are checked by the workers
            resolve(given, config_path)
        payload = launch(options.workers, given, config_path)
        return {"json": options.json, "payload": payload, "report": options.report}
    out = Path(options.out or default_out(require_data(options)))
    payload = in_group(options, lambda group: _run(options, given, config_path, out, group,
                                                   written)["payload"])  # fmt: skip
    return {"json": options.json, "payload": payload, "report": options.report}


def _run(options, given, config_path, out: Path, group, written) -> dict:
    from gradstep.cli.train_run import train_locked
    from gradstep.runs.output import check_out_path
    from gradstep.runs.safety import clean_leftovers, run_lock

    with contextlib.ExitStack() as stack:

        def lock():
            if group.rank == 0:
                check_out_path(out)
                stack.enter_context(run_lock(out))
                clean_leftovers(out)

        group.check("locking the run folder", lock)
        return train_locked(options, given, config_path, out, None, written, group)
