r"""Engine ``distributed``: mini-batch (and full-batch) descent split over the ranks of a
``torch.distributed`` process group, every rank holding the training rows.

The global batches are the single-process ones: the permutation of the training rows per
``(seed, epoch)`` (:func:`gradstep.steps.epoch_order`) cut into ``batch_size`` rows. Rank
``r`` of ``K`` takes the *contiguous* part ``[⌊m r / K⌋, ⌊m (r + 1) / K⌋)`` of each global
batch of ``m`` rows (parts differ by at most one row; a rank may get none of a batch
smaller than ``K``), and sums over it, in float64, row after row as the ``compiled``
engine sums a batch,

.. math:: \textstyle\sum e, \quad \sum x_j e, \quad \sum e^2, \qquad e = b + x w - y.

One ``all_reduce`` (SUM) of those ``d + 2`` numbers per step combines the parts (the
count needs no message: every rank knows ``m``); every rank then applies the same update
``b ← b − η·2Σe/m``, ``w ← w − η·2Σxe/m`` with the reduced sums, which are computed once
and shared, so all ranks hold the same bits after every step and meet the same divergence
at the same step. The sums of ``K`` parts are added in another order than one sequential
sum, so the iterates equal the single-process run's to rounding, not bit for bit (with one
rank, or outside a process group, they are the ``compiled`` engine's bits).

Outside an initialised process group the engine runs alone (``K = 1``). With the nccl
backend the message goes through the current CUDA device (untested here: only gloo on CPU
is tested).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from gradstep.engines.base import Data, Settings
from gradstep.engines.compiled import CompiledEngine, Record
from gradstep.result import History
from gradstep.steps import divergence_error, epoch_order


class Ranks:
    """This process's rank, the world size and the one collective the engine uses."""

    def __init__(self):
        self.rank, self.world_size, self.dist = 0, 1, None
        dist = sys.modules.get("torch.distributed")  # no torch import outside a group
        if dist is not None and dist.is_available() and dist.is_initialized():
            self.dist = dist
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            self.cuda = dist.get_backend() == "nccl"

    def part(self, start: int, stop: int) -> tuple[int, int]:
        """This rank's contiguous part of the batch ``[start, stop)``."""
        m, r, k = stop - start, self.rank, self.world_size
        return start + (m * r) // k, start + (m * (r + 1)) // k

    def sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` summed over the ranks (in place); one all_reduce."""
        if self.dist is None or self.world_size == 1:
            return values
        import torch

        tensor = torch.from_numpy(values)
        if self.cuda:
            tensor = tensor.to(f"cuda:{torch.cuda.current_device()}")
        try:
            self.dist.all_reduce(tensor)
        except Exception as exc:  # a peer that died closes its connections
            from gradstep.stream.group import LOST, StreamError, _first_line

            raise StreamError(f"rank {self.rank}: {LOST} ({_first_line(exc)})") from None
        if self.cuda:
            values[:] = tensor.cpu().numpy()
        return values


class DistributedEngine(CompiledEngine):
    """The ``compiled`` engine's data and kernels; ``run`` sums each rank's part of a batch."""

    name = "distributed"

    def __init__(self, data: Data, settings: Settings):
        super().__init__(data, settings)
        self.ranks = Ranks()

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        n, d = self.x.shape  # plain SGD only: no optimizer state
        lr, record, seed = self.settings.lr, self.settings.record_steps, self.settings.seed
        batch = min(self.settings.batch_size or n, n)
        steps_per_epoch = -(-n // batch)
        b, w = float(b), np.array(w, dtype=np.float64)
        rec = Record(self, b, w, epochs, steps_per_epoch)
        sums = np.empty(d + 2)
        part_sums, ranks = self.kernels.part_sums, self.ranks
        whole = np.arange(n)
        for e in range(epochs):
            number = start_epoch + e + 1
            _fault(ranks.rank, number)
            order = whole if batch == n else epoch_order(n, seed, start_epoch + e)
            loss_sum, step = 0.0, 0
            for lo in range(0, n, batch):
                hi = min(lo + batch, n)
                m = hi - lo
                part_lo, part_hi = ranks.part(lo, hi)
                part_sums(self.x, self.y, order, part_lo, part_hi, b, w, sums)
                ranks.sum(sums)
                step += 1
                loss = sums[d + 1] / m
                if not math.isfinite(loss):
                    raise divergence_error("the loss", loss, number, step, lr)
                b = b - lr * (2.0 * sums[0] / m)
                w -= lr * (2.0 * sums[1 : d + 1] / m)
                if not (math.isfinite(b) and np.isfinite(w).all()):
                    raise divergence_error("a parameter", "non-finite", number, step, lr)
                loss_sum += loss
                if record:
                    at = e * steps_per_epoch + step
                    rec.step_b[at], rec.step_w[at] = b, w
            rec.epoch(e, b, w, loss_sum / step)
        return rec.history(start_epoch)


def _fault(rank: int, epoch: int) -> None:
    """For the tests of failures: ``GRADSTEP_TEST_KILL=r:k`` makes rank ``r`` kill itself
    (SIGKILL, no message) as it starts epoch ``k`` (1-based), mid-run."""
    spec = os.environ.get("GRADSTEP_TEST_KILL")
    if spec and spec == f"{rank}:{epoch}":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
