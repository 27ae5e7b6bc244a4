"""The learning-rate range test: raise the lr every step and watch the loss.

Leslie Smith's test (and the book's ``lr_range_test``): starting from the
trainer's current weights, take ``num_iter`` steps with the learning rate growing
from ``start_lr`` to ``end_lr`` (geometrically, or linearly), record the loss of
every step, stop once the smoothed loss exceeds ``diverge`` times its best, and
put the model, the optimizer and every random state back as they were. A good lr
is usually around the steepest descent of the curve, a bit below where it bottoms out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradstep.errors import GradstepError
from gradstep.trainer.seeding import SeededRNG, epoch_seed
from gradstep.trainer.state import copy_tree


@dataclass
class LRRangeTest:
    """The curve: ``lrs[i]`` was used for step ``i``, whose loss was ``losses[i]``."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float | None
    diverged: bool

    def plot(self, ax=None):
        """Loss against lr on a log axis, with the suggestion marked: ``(fig, ax)``."""
        from gradstep.plots.lr_range import lr_range_figure

        return lr_range_figure(self, ax=ax)


def lr_range_test(
    trainer,
    x,
    y=None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: str = "exp",
    batch_size: int | None = None,
    smooth: float = 0.05,
    diverge: float = 5.0,
) -> LRRangeTest:
    """Run the range test with ``trainer``'s model, loss and optimizer on ``(x, y)``.

    ``x, y`` and ``batch_size`` are as in :meth:`Trainer.fit` (or a DataLoader);
    the batches cycle over as many epochs as ``num_iter`` steps need. ``smooth`` is
    the weight of the newest loss in the (bias-corrected) exponential moving average.
    """
    if not (0 < start_lr < end_lr < math.inf):
        raise GradstepError(
            f"start_lr={start_lr!r} and end_lr={end_lr!r} must satisfy 0 < start_lr < end_lr"
        )
    if isinstance(num_iter, bool) or int(num_iter) != num_iter or num_iter < 2:
        raise GradstepError(f"num_iter={num_iter!r} must be a whole number >= 2, e.g. 100")
    if mode not in ("exp", "linear"):
        raise GradstepError(f"mode={mode!r} must be 'exp' or 'linear'")
    if not 0 < smooth <= 1:
        raise GradstepError(f"smooth={smooth!r} must be in (0, 1], e.g. 0.05")
    ratio = np.linspace(0.0, 1.0, int(num_iter))
    if mode == "exp":
        schedule = start_lr * (end_lr / start_lr) ** ratio
    else:
        schedule = start_lr + (end_lr - start_lr) * ratio
    source = trainer._train_source(x, y, batch_size, True)
    model, optimizer = trainer.model, trainer.optimizer
    saved_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_optimizer = copy_tree(optimizer.state_dict())
    saved_generators = [g.get_state() for g in source.generators]
    was_training = model.training
    lrs, losses, smoothed = [], [], []
    running, diverged = 0.0, False
    try:
        with SeededRNG(trainer.device) as rng:
            rng.seed(epoch_seed(trainer.seed, -2))
            model.train()
            optimizer.zero_grad(set_to_none=True)
            for lr, (x_batch, y_batch) in zip(schedule, _cycle(source), strict=False):
                for group in optimizer.param_groups:
                    group["lr"] = float(lr)
                loss = trainer.loss_fn(model(x_batch), y_batch)
                value = loss.item()
                lrs.append(float(lr))
                losses.append(value)
                running = smooth * value + (1 - smooth) * running
                average = running / (1 - (1 - smooth) ** len(losses))  # bias-corrected EMA
                smoothed.append(average)
                if not math.isfinite(average) or average > diverge * min(smoothed):
                    diverged = True
                    break
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for g, state in zip(source.generators, saved_generators, strict=True):
            g.set_state(state)
        model.train(was_training)
    lrs_arr, smoothed_arr = np.array(lrs), np.array(smoothed)
    return LRRangeTest(
        lrs_arr, np.array(losses), smoothed_arr, _suggest(lrs_arr, smoothed_arr), diverged
    )


def _cycle(source):
    epoch = 0
    while True:
        yield from source.batches(epoch)
        epoch += 1


def _suggest(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The lr where the smoothed loss falls fastest against log(lr).

    The first tenth of the curve (still settling) and its last five points (where
    it turns up) are left out, as torch-lr-finder does.
    """
    finite = np.isfinite(smoothed)
    lrs, smoothed = lrs[finite], smoothed[finite]
    skip_start, skip_end = max(1, len(lrs) // 10), 5
    if len(lrs) - skip_start - skip_end < 3:
        return None
    lrs, smoothed = lrs[skip_start:-skip_end], smoothed[skip_start:-skip_end]
    slope = np.gradient(smoothed, np.log(lrs))
    return float(lrs[int(np.argmin(slope))])
