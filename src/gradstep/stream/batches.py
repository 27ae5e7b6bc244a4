r"""Mini-batch and stochastic descent on a table streamed from disk, memory bounded by a buffer.

The shuffle of epoch ``e`` (0-based) with seed ``s``, buffer ``W`` rows and batch ``k``:

1. The *units* (Parquet row groups; a CSV file is one unit) are visited in the order
   ``default_rng(SeedSequence([s, e], spawn_key=(1,))).permutation(units)``.
2. Their *training* rows (the per-row split, :func:`gradstep.runs.train.validation_mask`)
   form one stream, cut into *windows* of ``W`` rows (the last one shorter). A unit may
   straddle two windows; a window may hold several units.
3. Within window ``j`` the rows are put in table order, then visited in the order
   ``default_rng([s, e] if j == 0 else [s, e, j]).permutation(len(window))``.
4. Batches are ``k`` consecutive rows of that visiting order across windows (a batch may
   start in one window and end in the next); the epoch's last batch holds what is left.
   Each step is the plain loop's (:func:`gradstep.engines.kernels.batch_epoch`), float64.

So the order depends only on ``(s, e)``, the units and ``W`` — not on ``--chunk-rows`` —
and a resumed run continues exactly. When one window holds every training row (``W`` at
least the training rows), step 3 is the in-memory order itself
(:func:`gradstep.steps.epoch_order`): the descent is the in-memory ``compiled`` engine's,
bit for bit. A smaller buffer mixes rows only within a window: rows of units far apart in
the epoch's unit order never share a batch, so the gradient noise is larger when the
table is sorted (e.g. by time) and its row groups differ.

Memory: the window (``W`` rows of features and target, float64, plus its index arrays;
about twice that while it is assembled from its pieces) and the chunk being read — not
the table.
"""

from __future__ import annotations

import numpy as np

from gradstep.engines.base import Data, Engine
from gradstep.result import History
from gradstep.runs.train import validation_mask
from gradstep.steps import divergence_error
from gradstep.stream.source import Source, read_unit

DEFAULT_SHUFFLE_BUFFER = 1_000_000


def unit_order(n_units: int, seed: int, epoch: int) -> np.ndarray:
    """Step 1: the order of the units in epoch ``epoch`` (0-based)."""
    sequence = np.random.SeedSequence([seed, epoch], spawn_key=(1,))
    return np.random.default_rng(sequence).permutation(n_units)


def window_order(m: int, seed: int, epoch: int, window: int) -> np.ndarray:
    """Step 3: the visiting order of the ``m`` rows of window ``window``; window 0's is
    :func:`gradstep.steps.epoch_order`'s."""
    key = [seed, epoch] if window == 0 else [seed, epoch, window]
    return np.random.default_rng(key).permutation(m)


class StreamedBatches(Engine):
    """Mini-batch epochs read from the table each time (an engine with no rows in memory).

    ``scaler_x`` turns a chunk's features into those the descent sees; ``val_moments``
    (of the validation rows as the descent sees them) give the exact validation loss
    after each epoch. ``data`` holds no rows: its ``x`` is a zero-strided view with the
    shape of the training rows, so the driver sizes its chunks of epochs as for rows
    in memory.
    """

    name = "stream-batches"

    def __init__(self, source: Source, options, fraction: float, n_train: int, scaler_x,
                 val_moments, settings):  # fmt: skip
        d = len(source.features)
        rows = np.broadcast_to(np.zeros((1, d)), (n_train, d))
        super().__init__(Data(rows, np.broadcast_to(np.zeros(1), (n_train,))), settings)
        from gradstep.engines import kernels

        self.kernels = kernels
        self.timings["compile_seconds"] = kernels.warm(np.float64, d)
        self.source, self.options, self.fraction = source, options, fraction
        self.scaler_x, self.val_moments = scaler_x, val_moments
        self.buffer = options.shuffle_buffer
        self.timings["prepare_seconds"] = 0.0

    # ------------------------------------------------------------ reading

    def windows(self, epoch: int):
        """``(x, y, order)`` per window of epoch ``epoch``: rows in table order, and the
        order to visit them."""
        pieces, held, j = [], 0, 0
        for u in unit_order(len(self.source.units), self.settings.seed, epoch):
            unit = self.source.units[int(u)]
            for chunk in read_unit(self.source, unit, self.options.chunk_rows,
                                   self.options.drop_missing):  # fmt: skip
                train = ~validation_mask(chunk.positions, self.fraction, self.settings.seed)
                x, y, at = self.scaler_x(chunk.x[train]), chunk.y[train], chunk.positions[train]
                while y.size:
                    take = min(self.buffer - held, y.size)
                    pieces.append((at[0], x[:take], y[:take]))
                    held += take
                    x, y, at = x[take:], y[take:], at[take:]
                    if held == self.buffer:
                        yield self._window(pieces, epoch, j)
                        pieces, held, j = [], 0, j + 1
        if held:
            yield self._window(pieces, epoch, j)

    def _window(self, pieces, epoch: int, j: int):
        pieces.sort(key=lambda piece: piece[0])  # pieces are runs of rows: table order
        x = np.ascontiguousarray(np.concatenate([p[1] for p in pieces]), dtype=np.float64)
        y = np.ascontiguousarray(np.concatenate([p[2] for p in pieces]), dtype=np.float64)
        pieces.clear()
        return x, y, window_order(y.size, self.settings.seed, epoch, j)

    # ------------------------------------------------------------ descending

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        d = self.data.d
        b, w = float(b), np.array(w, dtype=np.float64)
        out_b, out_w, out_loss = np.empty(epochs), np.empty((epochs, d)), np.empty(epochs)
        out_val = np.empty(epochs) if self.val_moments is not None else None
        for e in range(epochs):
            b, out_loss[e] = self._epoch(b, w, start_epoch + e)
            out_b[e], out_w[e] = b, w
            if out_val is not None:
                out_val[e] = self.val_moments.loss(np.array([b]), w[None])[0]
        return History(out_b, out_w, out_loss, out_val, first_epoch=start_epoch + 1)

    def _epoch(self, b: float, w: np.ndarray, epoch: int) -> tuple[float, float]:
        """One epoch from ``(b, w)`` (``w`` updated in place): ``(b, mean batch loss)``."""
        k = self.settings.batch_size
        carry = None  # (x, y) of a batch begun in an earlier window
        losses = []  # (mean batch loss, batches) per compiled call
        n_windows = -(-self.data.n // self.buffer)
        for j, (x, y, order) in enumerate(self.windows(epoch)):
            last = j == n_windows - 1
            if carry is not None:  # complete the batch begun before this window
                head, order = order[: k - carry[1].size], order[k - carry[1].size :]
                carry = (np.concatenate([carry[0], x[head]]), np.concatenate([carry[1], y[head]]))
                if carry[1].size < k and not last:
                    continue  # this window did not fill it either
                b = self._steps(*carry, np.arange(carry[1].size), b, w, epoch, losses)
                carry = None
            # the last window runs whole (its last batch may be smaller): one call for an
            # epoch of one window, whose mean loss is then summed exactly as in memory
            full = order.size if last else (order.size // k) * k
            if full:
                b = self._steps(x, y, order[:full], b, w, epoch, losses)
            if full < order.size:
                carry = (x[order[full:]], y[order[full:]])
        if len(losses) == 1:
            return b, losses[0][0]
        return b, sum(loss * count for loss, count in losses) / sum(c for _, c in losses)

    def _steps(self, x, y, order, b, w, epoch, losses) -> float:
        """The batches of ``order`` (all of ``k`` rows but maybe the last), in one compiled
        call; ``(mean loss, batches)`` appended to ``losses``."""
        k, lr = self.settings.batch_size, self.settings.lr
        one = np.empty(1), np.empty((1, w.shape[0]))
        b, loss, status, step = self.kernels.batch_epoch(x, y, order, k, b, w, lr, *one, False)
        if status != self.kernels.OK:
            number = sum(c for _, c in losses) + step
            if status == self.kernels.BAD_LOSS:
                raise divergence_error("the loss", loss, epoch + 1, number, lr)
            raise divergence_error("a parameter", "non-finite", epoch + 1, number, lr)
        losses.append((loss, -(-order.size // k)))
        return b
