"""Engine ``stats``: full-batch descent from the sufficient statistics.

Prepared with one pass over the data (:class:`gradstep.moments.Moments`, float64
whatever the input dtype); after that every epoch — the gradient, the update and
the exact training and validation losses — costs O(d²), not O(n d). The iterates
are the plain loop's: the same gradient, summed in another order. Plain SGD runs in a
compiled kernel; the other optimizers (the gradient being exact, any of them works here)
take the same O(d²) gradient and loss in NumPy and their ``step`` from
:mod:`gradstep.engines.optimizers`, about 20 µs an epoch.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from gradstep.engines.base import Data, Engine, Settings
from gradstep.engines.optimizers import copy_state
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

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        if self.settings.optimizer.stateful:
            return self._run_optimizer(b, w, start_epoch, epochs, state)
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

    def _run_optimizer(self, b, w, start_epoch, epochs, state) -> History:
        """Full-batch epochs of a stateful optimizer: the exact gradient from the moments."""
        optimizer, lr, moments = self.settings.optimizer, self.settings.lr, self.moments
        d = moments.d
        theta = np.r_[float(b), np.asarray(w, dtype=np.float64)]
        self.state = copy_state(state) if state is not None else optimizer.init_state(d)
        # the start of the last few epochs, for the plain loop to replay before an overflow
        recent = deque([(theta.copy(), copy_state(self.state))], maxlen=REPLAY_EPOCHS + 1)
        out_theta, out_loss = np.empty((epochs, d + 1)), np.empty(epochs)
        with np.errstate(over="ignore", invalid="ignore"):
            for e in range(epochs):
                b_arr, w_arr = theta[:1], theta[None, 1:]
                loss = float(moments.loss(b_arr, w_arr)[0])
                if np.isfinite(loss):
                    b_grad, w_grad = moments.gradient(b_arr, w_arr)
                    optimizer.step(theta, np.r_[b_grad, w_grad[0]], self.state, lr)
                if not (np.isfinite(loss) and np.isfinite(theta).all()):
                    back, (theta0, state0) = max(0, e - len(recent) + 1), recent[0]
                    self._replay_optimizer(theta0, state0, start_epoch + back, epochs - back)
                    bad_loss = not np.isfinite(loss)
                    status = self.kernels.BAD_LOSS if bad_loss else self.kernels.BAD_PARAM
                    raise _diverged(self, status, loss, start_epoch + e + 1)
                out_theta[e], out_loss[e] = theta, loss
                recent.append((theta.copy(), copy_state(self.state)))
        val = None
        if self.val_moments is not None:
            val = self.val_moments.loss(out_theta[:, 0], out_theta[:, 1:])
        record = self.settings.record_steps
        steps = np.vstack([np.r_[float(b), np.asarray(w, dtype=np.float64)], out_theta])
        return History(
            out_theta[:, 0].copy(), out_theta[:, 1:].copy(), out_loss, val,
            steps[:, 0].copy() if record else None, steps[:, 1:].copy() if record else None,
            first_epoch=start_epoch + 1,
        )  # fmt: skip

    def _replay_optimizer(self, theta, state, start_epoch, epochs) -> None:
        """:meth:`_replay` for a stateful optimizer: the plain loop from a recent epoch."""
        from gradstep.engines.numpy_loop import NumpyLoop

        plain = NumpyLoop(self.data, self.settings)
        plain.run(float(theta[0]), theta[1:].copy(), start_epoch, epochs, state)

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
