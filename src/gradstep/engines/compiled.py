"""Engine ``compiled``: mini-batch, stochastic and full-batch descent in a compiled loop.

The same permutation per ``(seed, epoch)`` as every engine
(:func:`gradstep.steps.epoch_order`), the same arithmetic per step as the plain
loop, but one compiled call per epoch instead of a dozen NumPy calls per step.
The data stays in its dtype (float32 is read as it is) and every sum is float64.
The validation loss comes from the validation set's statistics (one pass, at
preparation). The permutation of the next epoch is drawn on another thread while
the current epoch runs (the kernel releases the GIL).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gradstep.engines.base import Data, Engine, Settings
from gradstep.moments import Moments
from gradstep.result import History
from gradstep.steps import divergence_error, epoch_order


class CompiledEngine(Engine):
    name = "compiled"

    def __init__(self, data: Data, settings: Settings):
        super().__init__(data, settings)
        start = time.perf_counter()
        from gradstep.engines import kernels

        self.kernels = kernels
        self.timings["compile_seconds"] = kernels.warm(data.x.dtype, data.d)
        self.x = np.ascontiguousarray(data.x)
        self.y = np.ascontiguousarray(data.y)
        self.val_moments = (
            Moments.from_data(data.x_val, data.y_val, "validation") if data.has_val else None
        )
        self.timings["prepare_seconds"] = time.perf_counter() - start

    def _orders(self, start_epoch: int, epochs: int):
        n, batch, seed = self.x.shape[0], self.settings.batch_size, self.settings.seed
        if batch is None or batch >= n:
            whole = np.arange(n)
            for _ in range(epochs):
                yield whole, n
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            upcoming = pool.submit(epoch_order, n, seed, start_epoch)
            for epoch in range(start_epoch, start_epoch + epochs):
                order = upcoming.result()
                if epoch + 1 < start_epoch + epochs:
                    upcoming = pool.submit(epoch_order, n, seed, epoch + 1)
                yield order, batch

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        n, d = self.x.shape  # plain SGD only: no optimizer state
        lr, record = self.settings.lr, self.settings.record_steps
        batch = self.settings.batch_size or n
        steps_per_epoch = -(-n // min(batch, n))
        b, w = float(b), np.array(w, dtype=np.float64)
        rec = Record(self, b, w, epochs, steps_per_epoch)
        for e, (order, size) in enumerate(self._orders(start_epoch, epochs)):
            at = e * steps_per_epoch
            b, loss, status, step = self.kernels.batch_epoch(
                self.x, self.y, order, size, b, w, lr,
                rec.step_b[at:], rec.step_w[at:], record,
            )  # fmt: skip
            if status != self.kernels.OK:
                number = start_epoch + e + 1
                if status == self.kernels.BAD_LOSS:
                    raise divergence_error("the loss", loss, number, step, lr)
                raise divergence_error("a parameter", "non-finite", number, step, lr)
            rec.epoch(e, b, w, loss)
        return rec.history(start_epoch)


class Record:
    """What a compiled run fills in: parameters and losses per epoch, the validation loss
    (from the validation statistics) and, when asked, the parameters after every step."""

    def __init__(self, engine: Engine, b: float, w: np.ndarray, epochs: int, steps: int):
        d = w.shape[0]
        self.val_moments, self.record = engine.val_moments, engine.settings.record_steps
        self.b, self.w, self.loss = np.empty(epochs), np.empty((epochs, d)), np.empty(epochs)
        self.val = np.empty(epochs) if self.val_moments is not None else None
        total = epochs * steps + 1 if self.record else 1
        self.step_b, self.step_w = np.empty(total), np.empty((total, d))
        self.step_b[0], self.step_w[0] = b, w

    def epoch(self, e: int, b: float, w: np.ndarray, loss: float) -> None:
        self.b[e], self.w[e], self.loss[e] = b, w, loss
        if self.val is not None:
            self.val[e] = self.val_moments.loss(np.array([b]), w[None])[0]

    def history(self, start_epoch: int) -> History:
        steps = (self.step_b, self.step_w) if self.record else (None, None)
        return History(self.b, self.w, self.loss, self.val, *steps,
                       first_epoch=start_epoch + 1)  # fmt: skip
