"""Randomness for the Trainer: per-epoch seeding and every random state a checkpoint keeps."""

from __future__ import annotations

import random

import numpy as np
import torch

_MASK64 = (1 << 64) - 1


class SeededRNG:
    """Lend PyTorch's default generators to a block, then give the caller's states back.

    Inside ``with SeededRNG(device) as rng:``, ``rng.seed(value)`` seeds the CPU
    generator and, for a CUDA model, its device's generator (~1 us); on exit the
    states from before the block are put back, so the caller's random state is as
    if the block never ran. ``torch.random.fork_rng`` does the same, but costs
    ~100 us per call because it seeds every accelerator.
    """

    def __init__(self, device: torch.device):
        self.generators = [torch.default_generator]
        self.cuda_index = None
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.cuda_index = index
            self.generators.append(torch.cuda.default_generators[index])
        self.saved: list | None = None

    def __enter__(self) -> SeededRNG:
        self.saved = [g.get_state() for g in self.generators]
        return self

    def seed(self, value: int) -> None:
        for g in self.generators:
            g.manual_seed(value)

    def __exit__(self, *exc):
        for g, state in zip(self.generators, self.saved, strict=True):
            g.set_state(state)
        self.saved = None


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for ``(seed, epoch)`` (splitmix64), different for every pair."""
    z = (seed * 0x9E3779B97F4A7C15 + (epoch + 1) * 0xD1B54A32D192ED03) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


def rng_states(generators, lent: SeededRNG | None = None) -> dict:
    """The global torch (CPU, CUDA), NumPy and Python states and those of ``generators``.

    While a :class:`SeededRNG` has the generators (during ``fit``), their states
    are the caller's, saved by it, not the seeded ones in use.
    """
    cpu = torch.get_rng_state()
    cuda = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    if lent is not None and lent.saved is not None:
        cpu = lent.saved[0]
        if lent.cuda_index is not None and lent.cuda_index < len(cuda):
            cuda[lent.cuda_index] = lent.saved[1]
    return {
        "torch": cpu,
        "cuda": cuda,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "loader": [g.get_state() for g in generators],
    }


def set_rng_states(states: dict, generators, *, restore_global: bool) -> list | None:
    """Restore the loader generators' states (and, with ``restore_global``, the global
    torch, CUDA, NumPy and Python ones); return the loader states that wait for the
    next fit because ``generators`` does not match them yet."""
    if restore_global:
        torch.set_rng_state(states["torch"])
        cuda = states["cuda"]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        np.random.set_state(states["numpy"])
        random.setstate(states["python"])
    loader = states["loader"]
    if generators and len(loader) == len(generators):
        for g, state in zip(generators, loader, strict=True):
            g.set_state(state)
        return None
    return loader or None
