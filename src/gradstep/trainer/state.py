"""What a :class:`gradstep.Trainer` keeps between epochs: its history, and the
snapshot of an epoch's start from which a diverged epoch is replayed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from gradstep import reprs
from gradstep.trainer.seeding import epoch_seed


@dataclass
class TrainingHistory:
    """Per-epoch record of a Trainer's fits.

    ``train_loss[i]`` is the mean of the mini-batch losses of epoch ``epoch[i]``,
    each computed before its update (the book's ``losses``); ``val_loss[i]`` the
    validation loss after the epoch (NaN without validation data); ``lr[i]`` the
    learning rate of the first parameter group at the start of the epoch;
    ``seconds[i]`` its wall-clock time. With ``record_steps=True``,
    :attr:`step_params` holds the parameters at the start and after every update.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    param_shapes: dict[str, list[int]] = field(default_factory=dict)
    steps: list[torch.Tensor] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.epoch)

    def summary_rows(self) -> list[tuple[str, str]]:
        """The losses, in a few words (for this repr and the Trainer's)."""
        rows = []
        for label, values in (("train loss", self.train_loss), ("val loss", self.val_loss)):
            shown = reprs.losses(values) if values else None
            if shown is not None:
                rows.append((label, shown))
        if self.steps:
            rows.append(("steps recorded", f"{len(self.steps) - 1} updates"))
        return rows

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        if not self.epoch:
            return "TrainingHistory: no epochs", []
        title = f"TrainingHistory: epochs {self.epoch[0]}-{self.epoch[-1]}"
        return title, self.summary_rows()

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    @property
    def step_params(self) -> dict[str, np.ndarray] | None:
        """Parameter name -> array of shape ``(updates + 1, *parameter.shape)``."""
        if not self.steps:
            return None
        flat = torch.stack(self.steps).detach().to("cpu", torch.float64).numpy()
        out, start = {}, 0
        for name, shape in self.param_shapes.items():
            size = math.prod(shape)
            out[name] = flat[:, start : start + size].reshape(-1, *shape)
            start += size
        return out

    def rows(self) -> list[dict]:
        """One dict per epoch with the keys of ``gradstep.trainer.callbacks.CSV_COLUMNS``."""
        columns = zip(
            self.epoch, self.train_loss, self.val_loss, self.lr, self.seconds, strict=True
        )
        return [
            {"epoch": e, "train_loss": t, "val_loss": v, "lr": r, "seconds": s}
            for e, t, v, r, s in columns
        ]

    def state_dict(self) -> dict:
        state = {name: list(getattr(self, name)) for name in self._LISTS}
        state["param_shapes"] = dict(self.param_shapes)
        state["steps"] = torch.stack(self.steps).cpu() if self.steps else None
        return state

    def load_state_dict(self, state: dict) -> None:
        for name in self._LISTS:
            setattr(self, name, list(state[name]))
        self.param_shapes = dict(state["param_shapes"])
        self.steps = [] if state["steps"] is None else list(state["steps"].unbind(0))

    _LISTS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


class EpochStart:
    """What an epoch changes, copied at its start so a diverged epoch can be replayed.

    The parameters are copied into tensors allocated once per fit, with one
    ``_foreach_copy_``: a few microseconds per epoch on a small model.
    """

    def __init__(self, model: nn.Module):
        self.params = [p.detach() for p in model.parameters()]
        self.copies = [p.clone() for p in self.params]
        self.has_buffers = any(True for _ in model.buffers())

    def take(self, trainer, source) -> None:
        if self.params:
            torch._foreach_copy_(self.copies, self.params)
        model, optimizer = trainer.model, trainer.optimizer
        self.buffers = [b.detach().clone() for b in model.buffers()] if self.has_buffers else []
        self.optimizer_state = {
            p: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
            for p, s in optimizer.state.items()
        }
        self.groups = [
            {k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups
        ]
        scheduler = trainer.scheduler
        self.scheduler = None if scheduler is None else copy_tree(scheduler.state_dict())
        self.loader_rng = [g.get_state() for g in source.generators]
        self.seed = epoch_seed(trainer.seed, trainer.epoch)
        self.n_steps = len(trainer.history.steps)

    def restore(self, trainer, source) -> None:
        with torch.no_grad():
            if self.params:
                torch._foreach_copy_(self.params, self.copies)
            for b, saved in zip(trainer.model.buffers(), self.buffers, strict=False):
                b.copy_(saved)
        optimizer = trainer.optimizer
        optimizer.state.clear()
        optimizer.state.update(copy_tree(self.optimizer_state))
        for group, saved in zip(optimizer.param_groups, self.groups, strict=True):
            group.update(saved)
        if self.scheduler is not None:
            trainer.scheduler.load_state_dict(copy_tree(self.scheduler))
        for g, state in zip(source.generators, self.loader_rng, strict=True):
            g.set_state(state)
        trainer._rng.seed(self.seed)
        del trainer.history.steps[self.n_steps :]


def copy_tree(obj):
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: copy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tree(v) for v in obj]
    return obj
