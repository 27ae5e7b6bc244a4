"""Engine ``stats``: full-batch descent from the sufficient statistics.

Prepared with one pass over the data (:class:`gradstep.moments.Moments`, float64
whatever the input dtype); after that every epoch — the gradient, the update and
the exact training and validation losses — costs O(d²), not O(n d). The iterates
are the plain loop's: the same gradient, summed in another order.
"""

from __future__ import annotations

import time

import numpy as np

from gradstep.engines.base import Data, Engine, Settings
from gradstep.moments import Moments
from gradstep.result import History
from gradstep.steps import divergence_error

REPLAY_EPOCHS = 3  # epochs rerun by the plain loop before an overflow


def _as_tuple(m: Moments):
    return (m.mean_x, m.mean_y, m.sxx, m.sxy, m.syy)


class StatsEngine(Engine):
    name = "stats"

    def __init__(self, data: Data, settings: Settings, moments: Moments | None = None):
        super().__init__(data, settings)
        start = time.perf_counter()
        from gradstep.engines import kernels

        self.kernels = kernels
        self.timings["compile_seconds"] = kernels.warm(data.x.dtype, data.d)
        self.moments = moments or Moments.from_data(data.x, data.y)
        self.val_moments = (
            Moments.from_data(data.x_val, data.y_val, "validation") if data.has_val else None
        )
        self.timings["prepare_seconds"] = time.perf_counter() - start

    def run(self, b: float, w: np.ndarray, start_epoch: int, epochs: int) -> History:
        d = self.moments.d
        out_b, out_w, out_loss = np.empty(epochs), np.empty((epochs, d)), np.empty(epochs)
        out_val = np.empty(epochs)
        val = self.val_moments or self.moments
        done, status = self.kernels.stats_epochs(
            _as_tuple(self.moments), _as_tuple(val), self.val_moments is not None,
            float(b), np.asarray(w, dtype=np.float64), self.settings.lr,
            out_b, out_w, out_loss, out_val,
        )  # fmt: skip
        if status != self.kernels.OK:
            self._replay(b, w, out_b, out_w, done, start_epoch, epochs)
            raise _diverged(self, status, float(out_loss[done]), start_epoch + done + 1)
        record = self.settings.record_steps
        return History(
            out_b, out_w, out_loss,
            out_val if self.val_moments is not None else None,
            np.r_[b, out_b] if record else None,
            np.vstack([np.asarray(w, dtype=np.float64)[None], out_w]) if record else None,
            first_epoch=start_epoch + 1,
        )  # fmt: skip

    def _replay(self, b, w, out_b, out_w, done, start_epoch, epochs) -> None:
        """Rerun the last epochs before an overflow with the plain steps.

        The moments' loss overflows at a slightly different size than the mean of the
        squared errors, so near the end the plain loop is the one that decides: it
        raises the same error, at the same epoch and step, as the ``numpy`` engine.
        """
        from gradstep.engines.numpy_loop import NumpyLoop

        back = max(0, done - REPLAY_EPOCHS)
        if back > 0:
            b, w = out_b[back - 1], out_w[back - 1]
        NumpyLoop(self.data, self.settings).run(float(b), np.array(w), start_epoch + back,
                                                epochs - back)  # fmt: skip


def _diverged(engine: StatsEngine, status: int, loss: float, epoch: int):
    """The error the plain loop raises at the same epoch (full batch: always step 1)."""
    if status == engine.kernels.BAD_LOSS:
        return divergence_error("the loss", loss, epoch, 1, engine.settings.lr)
    return divergence_error("a parameter", "non-finite", epoch, 1, engine.settings.lr)
