r"""The Trainer on every rank of a ``torch.distributed`` job: DistributedDataParallel with
the Trainer's own batches.

``Trainer(..., distributed=True)`` (or ``"auto"``, the default: when a process group of
more than one rank is initialised) trains through ``DistributedDataParallel(model)``. The
global batches are the single-process ones (the permutation per ``(seed, epoch)`` of the
Trainer's array batching, what a ``DistributedSampler`` whose epoch is set every epoch
would give, without its padding); rank ``r`` of ``K`` takes the contiguous part
``[⌊m r / K⌋, ⌊m (r + 1) / K⌋)`` of each batch of ``m`` rows.

DDP averages the ranks' gradients; the parts may differ by a row, so each rank's loss is
weighted by ``K m_r / m`` (by ``K`` for a loss with ``reduction="sum"``), which makes that
average the gradient of the whole batch's loss. A rank whose part is empty (a batch of
fewer than ``K`` rows) still takes part, with weight 0. So for a model without randomness
in its forward pass the updates are those of one process up to the rounding of the
average. Not equal: dropout (each rank draws for its own rows, from a generator seeded by
``(seed, epoch, rank)``), BatchNorm (statistics per part; DDP broadcasts rank 0's buffers),
a DataLoader (its batches are used as they come: give it a ``DistributedSampler``).

The epoch's training loss is the mean over the ranks of the weighted losses (one
``all_reduce`` per epoch), the whole batches' mean loss. Only rank 0 writes checkpoints,
the CSV log and TensorBoard and shows the progress bar; every rank loads the same
checkpoint to resume (with the same number of ranks). A non-finite loss is seen by the
rank whose part it is: that rank raises and the launcher stops the others.
"""

from __future__ import annotations

import os

import torch

from gradstep.errors import GradstepError
from gradstep.trainer.seeding import SeededRNG, epoch_seed


def distributed_training(model, device: torch.device, distributed) -> Distributed | None:
    """``None`` (train alone) or the :class:`Distributed` training of ``model``."""
    if distributed not in (True, False, "auto"):
        raise GradstepError(f"distributed={distributed!r} must be True, False or 'auto'")
    if distributed is False:
        return None
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    if distributed == "auto":
        return Distributed(model, device) if initialised and dist.get_world_size() > 1 else None
    if not initialised:
        _join(device)
    return Distributed(model, device)


def _join(device: torch.device) -> None:
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
               if k not in os.environ]  # fmt: skip
    if missing or not torch.distributed.is_available():
        raise GradstepError(
            "distributed=True needs a torch.distributed process group: start the script with "
            f"torchrun ({', '.join(missing) or 'torch.distributed'} not available here) or call "
            "torch.distributed.init_process_group() first"
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    torch.distributed.init_process_group(backend=backend, init_method="env://")


class Distributed:
    """DDP around the model, each rank's part of every batch, rank 0 alone writing."""

    def __init__(self, model, device: torch.device):
        from torch.nn.parallel import DistributedDataParallel

        dist = torch.distributed
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        ids = [device] if device.type == "cuda" else None
        self.ddp = DistributedDataParallel(model, device_ids=ids)  # broadcasts rank 0's weights

    @property
    def writes(self) -> bool:
        return self.rank == 0

    def callbacks(self, callbacks: list) -> list:
        """The callbacks this rank runs: all on rank 0, none (they write or draw) elsewhere."""
        return callbacks if self.writes else []

    def source(self, batches) -> RankBatches:
        return RankBatches(batches, self.rank, self.world_size)

    def parts(self, source, loss_fn):
        """The model and the loss to train with: DDP, the loss weighted for this part."""
        if not isinstance(source, RankBatches):  # a DataLoader: its batches as they come
            return self.ddp, loss_fn
        return self.ddp, WeightedLoss(loss_fn, source)

    def mean_loss(self, value: float | None) -> float | None:
        """The epoch's training loss of the whole batches (one all_reduce)."""
        if value is None:
            return None
        total = torch.tensor([value], dtype=torch.float64)
        torch.distributed.all_reduce(total)
        return float(total[0]) / self.world_size

    def rng(self, device: torch.device) -> SeededRNG:
        return RankSeededRNG(device, self.rank)


class RankBatches:
    """This rank's contiguous part of every batch of an ``ArrayBatches``."""

    generators: list = []

    def __init__(self, batches, rank: int, world_size: int):
        self.inner, self.rank, self.world_size = batches, rank, world_size
        self.weight = 1.0

    def batches(self, epoch: int | None):
        r, k = self.rank, self.world_size
        for x, y in self.inner.batches(epoch):
            m = len(x)
            lo, hi = (m * r) // k, (m * (r + 1)) // k
            if hi > lo:
                self.weight = k * (hi - lo) / m
                yield x[lo:hi], y[lo:hi]
            else:  # no row of this batch here: take part in DDP's reduction with nothing
                self.weight = 0.0
                yield x[:1], y[:1]


class WeightedLoss:
    """``loss_fn`` times the weight of the current part (1: unchanged, for the same bits)."""

    def __init__(self, loss_fn, source: RankBatches):
        self.loss_fn, self.source = loss_fn, source
        self.sum = getattr(loss_fn, "reduction", "mean") == "sum"

    def __call__(self, prediction, target):
        loss = self.loss_fn(prediction, target)
        weight = self.source.weight
        if self.sum and weight:
            weight = float(self.source.world_size)
        return loss if weight == 1.0 else loss * weight


class RankSeededRNG(SeededRNG):
    """PyTorch's generators seeded per ``(seed, epoch)`` and rank: rank 0 draws what one
    process draws, the others their own streams (no dropout mask repeated on every rank)."""

    def __init__(self, device: torch.device, rank: int):
        super().__init__(device)
        self.rank = rank

    def seed(self, value: int) -> None:
        super().seed(epoch_seed(value, self.rank) if self.rank else value)
