"""Engine ``numpy``: the document's loop, steps 1-4 repeated in float64 NumPy.

The reference every other engine is checked against: each step is the plain
function of :mod:`gradstep.steps` (its unchecked ``fast_*`` form: the data is
validated once by ``fit``), nothing is cached or fused. With an optimizer other
than plain SGD, step 4 is that optimizer's ``step`` (:mod:`gradstep.engines.optimizers`).
"""

from __future__ import annotations

import numpy as np

from gradstep.engines.base import Data, Engine, Settings
from gradstep.engines.optimizers import copy_state
from gradstep.result import History
from gradstep.steps import batch_indices, divergence_error
from gradstep.steps import fast_gradients as gradients
from gradstep.steps import fast_mse_loss as mse_loss
from gradstep.steps import fast_predict as predict
from gradstep.steps import fast_update as update


class NumpyLoop(Engine):
    name = "numpy"

    def __init__(self, data: Data, settings: Settings):
        super().__init__(data, settings)
        as64 = lambda a: None if a is None else np.asarray(a, dtype=np.float64)  # noqa: E731
        self.x, self.y = as64(data.x), as64(data.y)
        self.x_val, self.y_val = as64(data.x_val), as64(data.y_val)

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        x, y, lr = self.x, self.y, self.settings.lr
        n, d = x.shape
        update = self._update(d, state)  # step 4: steps.update, or the optimizer's step
        record = self.settings.record_steps
        b_hist, w_hist, train_loss = np.empty(epochs), np.empty((epochs, d)), np.empty(epochs)
        val_loss = np.empty(epochs) if self.x_val is not None else None
        steps_b, steps_w = ([b], [w.copy()]) if record else (None, None)
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(epochs):
                number = start_epoch + epoch + 1
                loss_sum, n_batches = 0.0, 0
                batches = batch_indices(n, self.settings.batch_size, self.settings.seed, number - 1)
                for step, idx in enumerate(batches, start=1):
                    x_b, y_b = x[idx], y[idx]
                    error = predict(b, w, x_b) - y_b
                    loss = float((error**2).mean())
                    if not np.isfinite(loss):
                        raise divergence_error("the loss", loss, number, step, lr)
                    b_grad, w_grad = gradients(x_b, error)
                    b, w = update(b, w, b_grad, w_grad, lr)
                    if not (np.isfinite(b) and np.isfinite(w).all()):
                        raise divergence_error("a parameter", "non-finite", number, step, lr)
                    loss_sum += loss
                    n_batches += 1
                    if record:
                        steps_b.append(b)
                        steps_w.append(w)
                b_hist[epoch], w_hist[epoch] = b, w
                train_loss[epoch] = loss_sum / n_batches
                if val_loss is not None:
                    val_loss[epoch] = mse_loss(predict(b, w, self.x_val), self.y_val)
        return History(
            b_hist, w_hist, train_loss, val_loss,
            np.array(steps_b) if record else None,
            np.array(steps_w) if record else None,
            first_epoch=start_epoch + 1,
        )  # fmt: skip

    def _update(self, d: int, state: dict | None):
        """Step 4: the document's ``update``, or the optimizer's step with the same signature."""
        optimizer = self.settings.optimizer
        if not optimizer.stateful:
            return update
        self.state = copy_state(state) if state is not None else optimizer.init_state(d)

        def optimizer_update(b, w, b_grad, w_grad, lr):
            theta = optimizer.step(np.r_[b, w], np.r_[b_grad, w_grad], self.state, lr)
            return float(theta[0]), theta[1:]

        return optimizer_update
