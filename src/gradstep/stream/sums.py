"""Moments gathered chunk by chunk, with the rounding fixed by the rows, not the reads.

Rows are cut into *blocks* of :func:`gradstep.engines.kernels.chunk_rows` rows counted
from the start of each unit (a chunk read from the file may end mid-block: its rows wait
for the next chunk), each block's centred sums come from the same compiled kernel the
in-memory statistics use, and blocks (then units, in table order) are merged by
:func:`merge`, which is the kernel's own sequential Chan update written out. So the
result is bit-identical for any chunk size and any number of processes, and for a table
that is one unit (a CSV file) bit-identical to :meth:`Moments.from_data` on the same
rows once they are more than :data:`gradstep.moments.SMALL` values.

A *state* is ``(n, mean_x, mean_y, cxx, cxy, cyy)`` with centred *sums* (not means) of
products, as in :func:`gradstep.engines.kernels._merge`.
"""

from __future__ import annotations

import numpy as np

from gradstep.moments import Moments

State = tuple  # (n, mean_x (d,), mean_y, cxx (d, d), cxy (d,), cyy)


def merge(a: State | None, b: State | None) -> State | None:
    """The state of both sets of rows, ``a``'s first: ``kernels._merge``'s arithmetic."""
    if a is None or a[0] == 0:
        return b
    if b is None or b[0] == 0:
        return a
    n, mean_x, mean_y, cxx, cxy, cyy = a
    m, bx, by, bxx, bxy, byy = b
    total = n + m
    dx = bx - mean_x
    dy = by - mean_y
    f = n * m / total
    return (
        total,
        mean_x + dx * (m / total),
        mean_y + dy * (m / total),
        cxx + (bxx + f * np.outer(dx, dx)),
        cxy + (bxy + f * dx * dy),
        cyy + (byy + f * dy * dy),
    )


def to_moments(state: State) -> Moments:
    n, mean_x, mean_y, cxx, cxy, cyy = state
    return Moments(int(n), mean_x.copy(), float(mean_y), cxx / n, cxy / n, float(cyy / n))


class Accumulator:
    """The state of rows fed in order, in blocks of ``chunk_rows(d)`` rows."""

    def __init__(self, d: int):
        from gradstep.engines import kernels

        self.kernels = kernels
        self.block = kernels.chunk_rows(d)
        self.kernel = kernels._chunk_moments_1 if d == 1 else kernels._chunk_moments
        self.carry_x, self.carry_y = np.empty((0, d)), np.empty(0)
        self.state: State | None = None

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.carry_y.size:
            x, y = np.concatenate([self.carry_x, x]), np.concatenate([self.carry_y, y])
        full = (y.size // self.block) * self.block
        if full:
            self._fold(x[:full], y[:full])
        self.carry_x, self.carry_y = x[full:].copy(), y[full:].copy()

    def finish(self) -> State | None:
        """The state of every row fed (None for none)."""
        if self.carry_y.size:
            self._fold(self.carry_x, self.carry_y)
            self.carry_x, self.carry_y = self.carry_x[:0], self.carry_y[:0]
        return self.state

    def _fold(self, x: np.ndarray, y: np.ndarray) -> None:
        counts, mx, my, sxx, sxy, syy = self.kernel(
            np.ascontiguousarray(x), np.ascontiguousarray(y), self.block
        )
        for c in range(counts.shape[0]):
            block = (counts[c], mx[c], my[c], sxx[c], sxy[c], syy[c])
            self.state = block if self.state is None else merge(self.state, block)


class BlockSum:
    """Sums of the values fed in order, in blocks of ``block`` values: the same bits for any
    way of cutting the stream into chunks. ``add`` takes (m, k) arrays: k sums at once."""

    def __init__(self, k: int, block: int = 1 << 16):
        self.block, self.carry, self.total = block, np.empty((0, k)), np.zeros(k)

    def add(self, values: np.ndarray) -> None:
        if self.carry.shape[0]:
            values = np.concatenate([self.carry, values])
        full = (values.shape[0] // self.block) * self.block
        for lo in range(0, full, self.block):
            self.total = self.total + values[lo : lo + self.block].sum(axis=0)
        self.carry = values[full:].copy()

    def finish(self) -> np.ndarray:
        if self.carry.shape[0]:
            self.total = self.total + self.carry.sum(axis=0)
            self.carry = self.carry[:0]
        return self.total
