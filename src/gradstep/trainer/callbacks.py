"""What a :class:`gradstep.Trainer` does at the end of every epoch, one small class each.

Each callback has ``on_fit_start(trainer, epochs)``, ``on_epoch_end(trainer, logs)``,
``on_fit_end(trainer)`` (after the last epoch of a fit that did not fail) and
``close()`` (always, last); ``logs`` holds ``epoch`` (1-based), ``train_loss``,
``val_loss`` (NaN without validation data), ``lr`` and ``seconds``. The Trainer
builds them from its own arguments; :class:`EarlyStopping` is the only one users
construct, because it has settings of its own.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gradstep.errors import GradstepError
from gradstep.files import atomic_write_text

CSV_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


@dataclass
class EarlyStopping:
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    An epoch improves when its loss is below ``best - min_delta``. With
    ``restore_best`` the model gets the weights of the best epoch back at the end
    of ``fit``, whether or not training stopped early. ``monitor`` is
    ``"val_loss"``, ``"train_loss"`` or ``"auto"`` (validation loss when there is
    validation data). Once it has stopped, further ``fit`` calls train no more
    epochs until :meth:`reset` is called; its state is part of every checkpoint,
    so a resumed run stops exactly where the uninterrupted one would.
    """

    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "auto"
    best: float = field(default=math.inf, init=False)
    best_epoch: int = field(default=0, init=False)
    wait: int = field(default=0, init=False)
    stopped_epoch: int = field(default=0, init=False)
    best_state: dict | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        patience, min_delta = self.patience, self.min_delta
        if not isinstance(patience, numbers.Integral) or isinstance(patience, bool) or patience < 1:
            raise GradstepError(f"patience={patience!r} must be a whole number >= 1, e.g. 10")
        if (
            not isinstance(min_delta, numbers.Real)
            or isinstance(min_delta, bool)
            or not 0 <= min_delta < math.inf
        ):
            raise GradstepError(f"min_delta={min_delta!r} must be a finite number >= 0, e.g. 0")
        if self.monitor not in ("auto", "val_loss", "train_loss"):
            raise GradstepError(
                f"monitor={self.monitor!r} is not known; use 'auto', 'val_loss' or 'train_loss'"
            )

    @property
    def stopped(self) -> bool:
        return self.stopped_epoch > 0

    def reset(self) -> None:
        """Forget the best loss, the waiting and the stop: the next fit starts afresh."""
        self.best, self.best_epoch, self.wait, self.stopped_epoch = math.inf, 0, 0, 0
        self.best_state = None

    def update(self, trainer, logs: dict) -> None:
        value = monitored_loss(logs, self.monitor)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            if self.restore_best:
                self.best_state = {
                    k: v.detach().clone() for k, v in trainer.model.state_dict().items()
                }
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = logs["epoch"]

    def restore(self, model) -> None:
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        names = ("best", "best_epoch", "wait", "stopped_epoch", "best_state")
        return {name: getattr(self, name) for name in names}

    def load_state_dict(self, state: dict) -> None:
        # Only its own fields: a file must not set patience, restore or anything else.
        for name in ("best", "best_epoch", "wait", "stopped_epoch", "best_state"):
            setattr(self, name, state[name])


def monitored_loss(logs: dict, monitor: str = "auto") -> float:
    """``logs[monitor]``; ``"auto"``: the validation loss, or the training loss without one."""
    if monitor == "auto":
        monitor = "train_loss" if math.isnan(logs["val_loss"]) else "val_loss"
    return logs[monitor]


class ProgressBar:
    """A bar over the epochs with the loss, the validation loss and the lr.

    ``"auto"`` shows one on a terminal or in a Jupyter notebook (a widget when ipywidgets
    is installed, text otherwise) and nothing when the output is neither
    (:func:`gradstep.progress.wanted`).
    """

    def __init__(self, enabled: bool | str = "auto"):
        if enabled not in (True, False, "auto"):
            raise GradstepError(f"progress={enabled!r} must be True, False or 'auto'")
        self.enabled = enabled
        self.bar = None

    def on_fit_start(self, trainer, epochs: int) -> None:
        from gradstep.progress import bar_class, wanted

        if wanted(self.enabled):
            tqdm = bar_class()
            self.bar = tqdm(total=epochs, desc="training", unit="epoch", leave=True)

    def on_epoch_end(self, trainer, logs: dict) -> None:
        if self.bar is not None:
            postfix = {"epoch": logs["epoch"], "loss": f"{logs['train_loss']:.4g}"}
            if not math.isnan(logs["val_loss"]):
                postfix["val_loss"] = f"{logs['val_loss']:.4g}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)

    def on_fit_end(self, trainer) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CSVLogger:
    """One row per epoch (``CSV_COLUMNS``) in ``path``.

    At the start of every fit the file is rewritten atomically from the history,
    so rows written after the last checkpoint of a run that crashed disappear
    when it is resumed; during the fit rows are appended and flushed.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = checked_path("csv_log", path, folder=False)
        self.handle = None

    def on_fit_start(self, trainer, epochs: int) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in trainer.history.rows():
            writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        atomic_write_text(self.path, buffer.getvalue())
        self.handle = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115

    def on_epoch_end(self, trainer, logs: dict) -> None:
        self.handle.write(",".join(_cell(logs[c]) for c in CSV_COLUMNS) + "\n")
        self.handle.flush()

    def on_fit_end(self, trainer) -> None:
        self.close()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def checked_path(name: str, path, *, folder: bool) -> Path:
    """``path`` as a Path, refused at construction (not epochs later, mid-fit) when it
    cannot be written: a file where a folder is wanted or the reverse, or a path that
    runs through an existing file."""
    try:
        path = Path(path)
    except TypeError:
        raise GradstepError(f"{name}={path!r} must be a path (a str or os.PathLike)") from None
    want, other = ("folder", "file") if folder else ("file", "folder")
    if path.exists() and path.is_dir() != folder:
        raise GradstepError(
            f"{name}={str(path)!r} is an existing {other}, not a {want}; pass a {want} path"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise GradstepError(
                    f"{name}={str(path)!r} lies inside {str(parent)!r}, which is a file, not a "
                    f"folder; pass a {want} path outside it"
                )
            break
    return path


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


class TensorBoardLogger:
    """Scalars ``loss/train``, ``loss/val`` and ``lr`` per epoch, when tensorboard is installed."""

    def __init__(self, log_dir: str | os.PathLike):
        log_dir = checked_path("tensorboard_dir", log_dir, folder=True)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GradstepError(
                "tensorboard logging needs the tensorboard package; install it with "
                "'pip install tensorboard' or drop tensorboard_dir"
            ) from None
        self.writer_class = SummaryWriter
        self.log_dir = str(log_dir)
        self.writer = None

    def on_fit_start(self, trainer, epochs: int) -> None:
        # purge_step drops events a crashed run wrote after its last checkpoint.
        self.writer = self.writer_class(self.log_dir, purge_step=trainer.epoch + 1)

    def on_epoch_end(self, trainer, logs: dict) -> None:
        epoch = logs["epoch"]
        self.writer.add_scalar("loss/train", logs["train_loss"], epoch)
        if not math.isnan(logs["val_loss"]):
            self.writer.add_scalar("loss/val", logs["val_loss"], epoch)
        self.writer.add_scalar("lr", logs["lr"], epoch)

    def on_fit_end(self, trainer) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class CheckpointSaver:
    """``last.ckpt`` every ``every`` epochs and at the end of a fit; ``epoch-K.ckpt`` and
    ``best.ckpt`` on request.

    ``keep_last=k`` keeps the ``k`` newest ``epoch-K.ckpt`` files as well (0: none);
    ``keep_best`` writes ``best.ckpt`` whenever the monitored loss (as for
    :class:`EarlyStopping`) reaches a new minimum. Every file is written atomically,
    so a crash leaves the previous one intact; leftover temporary files of a
    crashed write are removed at the start of the next fit.
    """

    _EPOCH_FILE = re.compile(r"epoch-(\d+)\.ckpt")

    def __init__(self, folder, every: int = 1, keep_last: int = 0, keep_best: bool = False):
        for name, value, low in (("checkpoint_every", every, 1), ("keep_last", keep_last, 0)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise GradstepError(f"{name}={value!r} must be a whole number >= {low}")
        self.folder = checked_path("checkpoint_dir", folder, folder=True)
        self.every, self.keep_last, self.keep_best = int(every), int(keep_last), keep_best
        self.best = math.inf
        self.saved_epoch = None

    def on_fit_start(self, trainer, epochs: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.ckpt.*.tmp"):
            stale.unlink(missing_ok=True)
        self.saved_epoch = None

    def on_epoch_end(self, trainer, logs: dict) -> None:
        if self.keep_best:
            stopper = trainer.early_stopping
            value = monitored_loss(logs, stopper.monitor if stopper else "auto")
            if value < self.best:
                self.best = value
                trainer.save_checkpoint(self.folder / "best.ckpt")
        if logs["epoch"] % self.every == 0:
            self.save_last(trainer)

    def on_fit_end(self, trainer) -> None:
        if self.saved_epoch != trainer.epoch:
            self.save_last(trainer)

    def close(self) -> None:
        """Nothing to close; after a failed fit the last good checkpoint stays as it is."""

    def save_last(self, trainer) -> None:
        if self.keep_last:
            trainer.save_checkpoint(self.folder / f"epoch-{trainer.epoch:06d}.ckpt")
            kept = sorted(self.folder.glob("epoch-*.ckpt"), key=self._epoch_of)
            for old in kept[: -self.keep_last]:
                old.unlink(missing_ok=True)
        trainer.save_checkpoint(self.folder / "last.ckpt")
        self.saved_epoch = trainer.epoch

    def _epoch_of(self, path: Path) -> int:
        match = self._EPOCH_FILE.fullmatch(path.name)
        return int(match.group(1)) if match else -1

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state["best"]
