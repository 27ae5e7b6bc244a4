"""Batches for the Trainer: in-memory tensors sliced by a seeded permutation, or a DataLoader.

In-memory input is converted once per ``fit`` (:func:`input_tensor`) and cut by
:func:`gradstep.engines.torch_loop.epoch_batches` (``steps.batch_indices`` on the device):
one permutation per epoch from ``(seed, epoch)``, moved to the device once, then
slices, exactly as the torch engines take them. No per-sample
``Dataset.__getitem__`` and no collation, which is what makes a DataLoader
15-30x slower on small in-memory models (see ``benchmarks/bench_trainer.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from gradstep.engines.torch_loop import epoch_batches
from gradstep.errors import GradstepError


class ArrayBatches:
    """In-memory batches: one permutation per epoch (``torch_loop.epoch_batches``), then slices."""

    generators: list = []

    def __init__(self, x, y, batch_size, seed=0, shuffle=True):
        self.x, self.y, self.seed, self.shuffle = x, y, seed, shuffle
        self.n = len(x)
        self.batch_size = None if batch_size is None or batch_size >= self.n else batch_size

    def batches(self, epoch: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y, size = self.x, self.y, self.batch_size
        if size is None:
            yield x, y
        elif not self.shuffle or epoch is None:
            for start in range(0, self.n, size):
                yield x[start : start + size], y[start : start + size]
        else:
            for idx in epoch_batches(self.n, size, self.seed, epoch, x.device):
                yield x[idx], y[idx]


class LoaderBatches:
    """Batches of a DataLoader (or any iterable of ``(inputs, targets)``), moved to the device."""

    def __init__(self, loader, device, target_fix):
        self.loader, self.device, self.target_fix = loader, device, target_fix
        self.fix = "unknown"
        self.generators = loader_generators(loader)

    def batches(self, epoch: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.device
        for batch in self.loader:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise GradstepError("each batch of the DataLoader must be a pair (inputs, targets)")
            x_batch = batch[0].to(device, non_blocking=True)
            y_batch = batch[1].to(device, non_blocking=True)
            if self.fix == "unknown":
                self.fix = self.target_fix(x_batch, y_batch)
            if self.fix == "unsqueeze":
                y_batch = y_batch.unsqueeze(-1)
            yield x_batch, y_batch


def is_loader(obj) -> bool:
    """A DataLoader, or any other iterable that is not array-like."""
    if isinstance(obj, (np.ndarray, torch.Tensor, list, tuple)) or hasattr(obj, "__array__"):
        return False
    return hasattr(obj, "__iter__")


def loader_generators(loader) -> list[torch.Generator]:
    """The distinct ``torch.Generator``\\ s a DataLoader shuffles or samples with."""
    found: list[torch.Generator] = []
    batch_sampler = getattr(loader, "batch_sampler", None)
    for holder in (
        loader,
        getattr(loader, "sampler", None),
        getattr(batch_sampler, "sampler", None),
    ):
        gen = getattr(holder, "generator", None)
        if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


def input_tensor(values, what: str, dtype, device, long_ok: bool) -> torch.Tensor:
    """``values`` as a tensor on ``device``: floats (and bools) as ``dtype``, checked finite;
    integers as int64 when ``long_ok`` (class labels, embedding indices), else as ``dtype``."""
    try:
        tensor = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise GradstepError(f"{what} must be a numeric array or tensor: {exc}") from None
    if tensor.is_floating_point() or tensor.dtype == torch.bool or not long_ok:
        if tensor.is_complex():
            raise GradstepError(f"{what} is complex; pass real numbers")
        tensor = tensor.to(device=device, dtype=dtype)
        bad = ~torch.isfinite(tensor)
        if bool(bad.any()):
            row = (
                int(bad.reshape(len(tensor), -1).any(dim=1).nonzero()[0, 0]) if tensor.dim() else 0
            )
            raise GradstepError(
                f"{what} contains NaN or inf (first at row {row}); drop or impute those rows first"
            )
        return tensor
    return tensor.to(device=device, dtype=torch.long)
