"""The processes a streamed run is split over: one (:class:`Alone`) or a
``torch.distributed`` process group (:class:`Torch`, env:// rendezvous, as ``torchrun``
sets up).

Every step that may fail on one rank goes through :meth:`Group.agree`: each rank sends
its result or its one-line error, every rank receives all of them, and if any rank
failed every rank raises the same :class:`~gradstep.errors.GradstepError` naming that
rank. So no rank waits at a collective the others have left, and uneven shares (a rank
with no unit) take part like the others.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable
from typing import Any

from gradstep.errors import GradstepError

LOST = "lost contact with the other processes"  # marks an error caused by another rank
DEFAULT_TIMEOUT_S = 300


class StreamError(GradstepError):
    """An error met on some rank, raised on every rank."""


class Alone:
    rank, world_size, backend = 0, 1, None

    def gather(self, obj) -> list:
        return [obj]

    def agree(self, step: str, work: Callable[[], Any]) -> list:
        return [work()]

    def check(self, step: str, work: Callable[[], Any]) -> Any:
        return work()

    def close(self) -> None:
        pass


class Torch(Alone):
    """``torch.distributed`` with ``backend`` (default: nccl on CUDA, else gloo)."""

    def __init__(self, backend: str | None = None, timeout_s: float | None = None):
        import torch
        import torch.distributed as dist

        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
                   if k not in os.environ]  # fmt: skip
        if missing:
            raise GradstepError(
                f"--distributed needs the launcher's environment ({', '.join(missing)} not "
                "set): start it with torchrun (python -m torch.distributed.run), or pass "
                "--workers K to start K local processes"
            )
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        timeout = datetime.timedelta(seconds=timeout_s or DEFAULT_TIMEOUT_S)
        try:
            dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
        except (RuntimeError, ValueError) as exc:
            raise GradstepError(
                f"cannot join the process group (backend {backend}): {_first_line(exc)}"
            ) from None
        self.dist, self.backend = dist, backend
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def gather(self, obj) -> list:
        out = [None] * self.world_size
        try:
            self.dist.all_gather_object(out, obj)
        except Exception as exc:  # a peer that died closes its connections
            raise StreamError(f"rank {self.rank}: {LOST} ({_first_line(exc)})") from None
        return out

    def agree(self, step: str, work: Callable[[], Any]) -> list:
        return [value for _, value in self._outcomes(work, share=True)]

    def check(self, step: str, work: Callable[[], Any]) -> Any:
        """``work()`` on every rank, as :meth:`agree`, but only whether it failed is sent:
        the result (the rows of a table, say) stays on its rank."""
        local = {}

        def kept():
            local["value"] = work()

        self._outcomes(kept, share=False)
        return local["value"]

    def _outcomes(self, work: Callable[[], Any], share: bool) -> list:
        try:
            value = work()
            result = ("ok", value if share else None)
        except StreamError:
            raise
        except GradstepError as exc:
            result = ("error", str(exc))
        results = self.gather(result)
        for rank, (status, value) in enumerate(results):
            if status == "error":
                raise StreamError(value if value.startswith("rank ") else f"rank {rank}: {value}")
        return results

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the job is ending either way
            self.dist.destroy_process_group()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
