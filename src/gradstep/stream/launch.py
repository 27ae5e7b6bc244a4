"""``gradstep train --stream --workers K``: K local processes through PyTorch's own launcher
(:func:`torch.distributed.launcher.api.elastic_launch`, what ``torchrun`` runs), each one
``gradstep train ... --distributed``.

The workers' output goes to log files; rank 0 leaves its summary and any rank its one-line
error in a temporary folder (``GRADSTEP_WORKER_DIR``). When a worker fails, the launcher
stops the others, and this process reports one line: the rank that failed first and why
(its own error, or how it ended when it died without one).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import uuid
from pathlib import Path

from gradstep.errors import GradstepError
from gradstep.stream.group import LOST

ON_OFF = {"scale", "report"}  # --x / --no-x pairs
NOT_PASSED = {"data", "workers"}


def worker_argv(given: dict, config_path: str | None) -> list[str]:
    """``gradstep train`` arguments for a worker: the command line given, less --workers,
    plus --distributed."""
    args = ["train"]
    if given.get("data") is not None:
        args.append(str(given["data"]))
    for name, value in given.items():
        if name in NOT_PASSED or value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False:
            if name in ON_OFF:
                args.append("--no-" + name.replace("_", "-"))
        else:
            args += [flag, str(value)]
    if config_path:
        args += ["--config", str(config_path)]
    return [*args, "--distributed"]


def launch(workers: int, given: dict, config_path: str | None) -> dict:
    """Run the workers; return rank 0's summary (with ``world_size`` and ``rows_read``)."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logging.getLogger("torch.distributed").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="gradstep-workers-") as tmp:
        config = LaunchConfig(
            min_nodes=1, max_nodes=1, nproc_per_node=workers, run_id=str(uuid.uuid4()),
            rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0,
            monitor_interval=0.1, start_method="spawn",
            logs_specs=DefaultLogsSpecs(log_dir=os.path.join(tmp, "logs"), redirects=Std.ALL),
        )  # fmt: skip
        previous = os.environ.get("GRADSTEP_WORKER_DIR")
        os.environ["GRADSTEP_WORKER_DIR"] = tmp
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            entry = elastic_launch(config, entrypoint=sys.executable)
            entry("-m", "gradstep", *worker_argv(given, config_path))
        except ChildFailedError as exc:
            raise GradstepError(failure_line(Path(tmp), exc.failures, workers)) from None
        finally:
            if previous is None:
                os.environ.pop("GRADSTEP_WORKER_DIR", None)
            else:
                os.environ["GRADSTEP_WORKER_DIR"] = previous
        summary = Path(tmp, "rank-0.json")
        if not summary.is_file():
            raise GradstepError("the workers ended without a summary from rank 0")
        return json.loads(summary.read_text(encoding="utf-8"))


def _stopped(failure) -> bool:
    import signal

    return failure.exitcode == -signal.SIGTERM


def failure_line(folder: Path, failures: dict, workers: int) -> str:
    """One line: the first rank that failed for a reason of its own, and that reason."""
    errors = {}
    for rank in range(workers):
        path = folder / f"rank-{rank}.err"
        if path.is_file():
            errors[rank] = path.read_text(encoding="utf-8").strip().splitlines()[0]
    own = [rank for rank, line in sorted(errors.items()) if LOST not in line]
    if own:
        line = errors[own[0]]
        return line if line.startswith("rank ") else f"rank {own[0]}: {line}"
    # a rank the launcher stopped ends by SIGTERM: look first for one that ended otherwise
    silent = sorted(failures, key=lambda r: (r in errors, _stopped(failures[r]), r))
    rank = silent[0]
    failure = failures[rank]
    code = failure.exitcode
    how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with code {code}"
    return (
        f"rank {rank} of {workers} {how} before finishing; the other processes were stopped "
        "and no run folder was written or changed"
    )
