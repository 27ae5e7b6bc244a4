"""``Trainer``: the training loop for any PyTorch model, written once and carefully.

``Trainer(model, loss_fn, optimizer).fit(x, y, epochs=..., batch_size=...)`` runs
the book's loop (forward, loss, backward, step, zero the gradients) over
mini-batches, records the losses, validates, checkpoints and predicts.

Randomness. Array input is cut into batches by
:func:`gradstep.steps.batch_indices` with the trainer's ``seed`` and the epoch
number, so the Trainer sees the same batches as every other gradstep engine.
Each epoch runs with PyTorch's default generator (CPU, and the model's CUDA
device) seeded from ``(seed, epoch)``; the user's generator state is saved before
and put back after, so training never changes the global random state, yet
dropout, ``DataLoader(shuffle=True)`` and anything else drawing from it are the
same in every run with that seed. Because each epoch depends only on the state at
its start and ``(seed, epoch)``, ``fit(epochs=10)`` twice equals ``fit(epochs=20)``
once, and a run resumed from a checkpoint continues bit for bit.

Divergence. The loss of every step is checked (it is read with ``.item()`` for
the history anyway); the parameters are checked at the end of every epoch. When a
parameter turns out non-finite, the epoch is replayed from a snapshot taken at its
start, checking after every step, to name the exact step and to leave the model
with the last finite parameters.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from gradstep import reprs, steps
from gradstep.checkpoint import CheckpointError, load_tree, save_tree
from gradstep.engines.torch_loop import check_shapes, resolve_device
from gradstep.errors import DivergenceError, GradstepError
from gradstep.trainer.batching import ArrayBatches, LoaderBatches, input_tensor, is_loader
from gradstep.trainer.callbacks import (
    CheckpointSaver,
    CSVLogger,
    EarlyStopping,
    ProgressBar,
    TensorBoardLogger,
    monitored_loss,
)
from gradstep.trainer.distributed import distributed_training
from gradstep.trainer.restore import TrainerSnapshot, check_state
from gradstep.trainer.seeding import SeededRNG, epoch_seed, rng_states, set_rng_states
from gradstep.trainer.state import EpochStart, TrainingHistory

CHECKPOINT_KIND = "gradstep.Trainer"
# Losses that compare predictions and targets element by element: their shapes must agree.
_ELEMENTWISE_LOSSES = (
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
    nn.BCELoss,
    nn.BCEWithLogitsLoss,
)
_CLASS_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss)
_FIX = "build this trainer the same way as the one that wrote it, or use another checkpoint"


class Trainer:
    """Train any ``nn.Module`` with a loss and an optimizer; predict; checkpoint.

    Parameters
    ----------
    model, loss_fn, optimizer : the model, a loss ``loss_fn(prediction, target)``
        and an optimizer built on ``model.parameters()``.
    scheduler : an LR scheduler built on ``optimizer``, stepped every epoch or, with
        ``scheduler_interval="batch"``, after every update. ``ReduceLROnPlateau``
        gets the monitored loss (validation loss, else training loss; per batch: the
        batch loss).
    device : None (where the model already is), ``"auto"``, ``"cpu"``, ``"cuda[:N]"``;
        the model is moved there and every batch follows it.
    seed : fixes the batches and every draw from PyTorch's default generator during
        training (see the module docstring); None draws one, kept in ``self.seed``.
    clip_value, clip_norm : clip every gradient to ``[-clip_value, clip_value]`` and/or
        rescale all of them to a total 2-norm of at most ``clip_norm``.
    early_stopping : an :class:`gradstep.trainer.callbacks.EarlyStopping`, or None.
    record_steps : keep the parameters after every update (``history.step_params``).
    progress : a progress bar over the epochs: ``"auto"`` (on standard error when it is
        a terminal; in a Jupyter notebook a widget when ipywidgets is installed, text
        otherwise; nothing when the output is neither), True (always) or False.
    csv_log : a CSV file for per-epoch metrics; ``tensorboard_dir``: a TensorBoard
        log folder (needs the ``tensorboard`` package).
    checkpoint_dir, checkpoint_every, keep_last, keep_best : periodic checkpoints,
        see :class:`gradstep.trainer.callbacks.CheckpointSaver`.
    distributed : train on every rank of a ``torch.distributed`` job through
        ``DistributedDataParallel``, each rank taking its part of every batch, only rank 0
        writing (see :mod:`gradstep.trainer.distributed`); ``"auto"``: when a process group
        of more than one rank is initialised; True joins one (torchrun's environment).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn,
        optimizer: torch.optim.Optimizer,
        *,
        scheduler=None,
        scheduler_interval: str = "epoch",
        device: str | torch.device | None = None,
        seed: int | None = 42,
        clip_value: float | None = None,
        clip_norm: float | None = None,
        early_stopping: EarlyStopping | None = None,
        record_steps: bool = False,
        progress: bool | str = "auto",
        csv_log: str | os.PathLike | None = None,
        tensorboard_dir: str | os.PathLike | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        keep_last: int = 0,
        keep_best: bool = False,
        distributed: bool | str = "auto",
    ):
        _check_parts(model, loss_fn, optimizer, scheduler, scheduler_interval)
        for name, value in (("clip_value", clip_value), ("clip_norm", clip_norm)):
            if value is not None and not (_is_number(value) and 0 < value < math.inf):
                raise GradstepError(f"{name}={value!r} must be a positive number or None")
        seed = _checked_seed(seed)
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise GradstepError("early_stopping must be a gradstep.trainer.callbacks.EarlyStopping")
        csv_logger = None if csv_log is None else CSVLogger(csv_log)
        tensorboard = None if tensorboard_dir is None else TensorBoardLogger(tensorboard_dir)
        saver = (
            None
            if checkpoint_dir is None
            else CheckpointSaver(checkpoint_dir, checkpoint_every, keep_last, keep_best)
        )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.seed = int(seed)
        self.clip_value, self.clip_norm = clip_value, clip_norm
        self.early_stopping = early_stopping
        self.record_steps = record_steps
        self.device = _model_device(model) if device is None else resolve_device(device)
        self.model.to(self.device)
        self._distributed = distributed_training(model, self.device, distributed)
        self.dtype = _model_dtype(model)
        self.epoch = 0  # epochs completed
        self.history = TrainingHistory()
        self.progress = ProgressBar(progress)
        self.csv_log, self.tensorboard, self.checkpoints = csv_logger, tensorboard, saver
        self._generators: list[torch.Generator] = []  # of the last DataLoader trained on
        self._pending_generator_states: list[torch.Tensor] | None = None
        self._rng: SeededRNG | None = None  # lent PyTorch's generators during fit
        self._plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        self._params = [p for p in model.parameters() if p.requires_grad]
        # Integer inputs stay integers (indices) only for models that embed them.
        self._index_input = any(
            isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in model.modules()
        )

    # ------------------------------------------------------------------ repr

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        n_params = sum(p.numel() for p in self.model.parameters())
        loss_name = getattr(self.loss_fn, "__name__", None) or type(self.loss_fn).__name__
        lr = self.optimizer.param_groups[0].get("lr")
        optimizer = type(self.optimizer).__name__
        if isinstance(lr, int | float):
            optimizer += f", lr {lr:g}"
        rows = [("loss", loss_name), ("optimizer", optimizer)]
        if self.scheduler is not None:
            rows.append(("scheduler", f"{type(self.scheduler).__name__}, every "
                                      f"{self.scheduler_interval}"))  # fmt: skip
        rows.append(("epochs trained", str(self.epoch)))
        rows += self.history.summary_rows()
        if self.early_stopping is not None:
            stopper = self.early_stopping
            state = f"stopped at epoch {stopper.stopped_epoch}" if stopper.stopped else "watching"
            rows.append(("early stopping", f"patience {stopper.patience}, {state}"))
        rows.append(("seed", str(self.seed)))
        title = (f"Trainer: {type(self.model).__name__}, {n_params} parameters, "
                 f"{self.dtype}, on {self.device}")  # fmt: skip
        return title, rows

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        x,
        y=None,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_data=None,
        shuffle: bool = True,
    ) -> TrainingHistory:
        """Train for ``epochs`` more epochs; return the history of every fit so far.

        ``x, y``: arrays or tensors (a 1-D float ``x`` is one feature, shape (n, 1)),
        cut into mini-batches of ``batch_size`` rows (None: all rows, batch descent),
        reshuffled every epoch unless ``shuffle=False``. Or ``x`` is a
        ``DataLoader`` (any iterable of ``(inputs, targets)``) and ``y`` is None.
        ``validation_data``: ``(x_val, y_val)`` or a DataLoader; its loss is
        recorded after every epoch, in eval mode without gradients.
        Targets of shape (n,) for a model that outputs (n, 1) are reshaped to (n, 1).
        """
        _check_whole("epochs", epochs, 1)
        source = self._train_source(x, y, batch_size, shuffle)
        val_source = None if validation_data is None else self._val_source(validation_data)
        callbacks = [
            c for c in (self.checkpoints, self.csv_log, self.tensorboard, self.progress) if c
        ]
        if self._distributed is not None:  # only rank 0 writes
            callbacks = self._distributed.callbacks(callbacks)
        if self.early_stopping is not None and self.early_stopping.stopped:
            self.early_stopping.restore(self.model)
            return self.history
        if not self._params_finite():
            raise GradstepError(
                "the model's parameters contain NaN or inf before training; "
                "initialise them (or load a good checkpoint) first"
            )
        if self.record_steps and not self.history.steps:
            self.history.param_shapes = {
                name: list(p.shape) for name, p in self.model.named_parameters() if p.requires_grad
            }
            self.history.steps.append(self._flat_params())
        self.optimizer.zero_grad(set_to_none=True)
        snapshot = EpochStart(self.model)
        for callback in callbacks:
            callback.on_fit_start(self, epochs)
        try:
            rng = SeededRNG(self.device) if self._distributed is None else None
            with rng or self._distributed.rng(self.device) as self._rng:
                for _ in range(int(epochs)):
                    logs = self._epoch(source, val_source, snapshot)
                    self._end_epoch(logs, callbacks)
                    if self.early_stopping is not None and self.early_stopping.stopped:
                        break
                for callback in callbacks:  # while the rng is lent: saved states are the user's
                    callback.on_fit_end(self)
        finally:
            self._rng = None
            for callback in callbacks:
                callback.close()
        if self.early_stopping is not None:
            self.early_stopping.restore(self.model)
        return self.history

    def _epoch(self, source, val_source, snapshot: EpochStart) -> dict:
        start = time.perf_counter()
        lr = float(self.optimizer.param_groups[0]["lr"])
        self._rng.seed(epoch_seed(self.seed, self.epoch))
        snapshot.take(self, source)
        self.model.train()
        try:
            train_loss = self._run_batches(source, careful=False)
        except _NonFinite as bad:
            if bad.params_finite:
                raise self._divergence("the loss", bad.value, bad.step) from None
            train_loss = None
        if self._distributed is not None:  # the whole batches' loss
            train_loss = self._distributed.mean_loss(train_loss)
        if train_loss is None or not self._params_finite():
            self._replay(snapshot, source)
        val_loss = math.nan if val_source is None else self.evaluate_source(val_source)
        return {
            "epoch": self.epoch + 1,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "lr": lr,
            "seconds": time.perf_counter() - start,
        }

    def _run_batches(self, source, careful: bool) -> float:
        """One pass over the batches; raise _NonFinite at the first non-finite loss
        (or, when ``careful``, parameter)."""
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        if self._distributed is not None:
            model, loss_fn = self._distributed.parts(source, loss_fn)
        params, clip_value, clip_norm = self._params, self.clip_value, self.clip_norm
        per_batch = self.scheduler if self.scheduler_interval == "batch" else None
        steps = self.history.steps if self.record_steps else None
        total, step = 0.0, 0
        for step, (x_batch, y_batch) in enumerate(source.batches(self.epoch), 1):
            loss = loss_fn(model(x_batch), y_batch)
            value = loss.item()
            if not math.isfinite(value):
                raise _NonFinite(value, step, self._params_finite())
            if careful:
                before = [p.detach().clone() for p in params]
            loss.backward()
            if clip_value is not None:
                nn.utils.clip_grad_value_(params, clip_value)
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(params, clip_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if careful and not self._params_finite():
                with torch.no_grad():
                    for p, old in zip(params, before, strict=True):
                        p.copy_(old)
                raise self._divergence("a parameter", "non-finite", step)
            if per_batch is not None:
                per_batch.step(value) if self._plateau else per_batch.step()
            if steps is not None:
                steps.append(self._flat_params())
            total += value
        if step == 0:
            raise GradstepError("the training data gave no batches; pass at least one row")
        return total / step

    def _replay(self, snapshot: EpochStart, source) -> None:
        """Rerun the epoch from its snapshot, checking the parameters after every step."""
        snapshot.restore(self, source)
        try:
            self._run_batches(source, careful=True)
        except _NonFinite as bad:  # the loss went first this time
            raise self._divergence("the loss", bad.value, bad.step) from None
        snapshot.restore(self, source)
        raise DivergenceError(
            f"the descent diverged: a parameter became non-finite during epoch {self.epoch + 1} "
            "(the replay could not repeat it, so the data pipeline draws from a random state "
            "the Trainer does not control); the parameters are back at the start of that "
            "epoch; try a smaller learning rate or scale the features"
        )

    def _end_epoch(self, logs: dict, callbacks) -> None:
        history = self.history
        history.epoch.append(logs["epoch"])
        history.train_loss.append(logs["train_loss"])
        history.val_loss.append(logs["val_loss"])
        history.lr.append(logs["lr"])
        history.seconds.append(logs["seconds"])
        self.epoch += 1
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if self._plateau:
                self.scheduler.step(monitored_loss(logs))
            else:
                self.scheduler.step()
        if self.early_stopping is not None:
            self.early_stopping.update(self, logs)
        for callback in callbacks:
            callback.on_epoch_end(self, logs)

    def _divergence(self, what: str, value, step: int) -> DivergenceError:
        lr = float(self.optimizer.param_groups[0]["lr"])
        error = steps.divergence_error(what, value, self.epoch + 1, step, lr)
        return DivergenceError(f"{error}; the model keeps its last finite parameters")

    def _params_finite(self) -> bool:
        # One sum per tensor: NaN or inf anywhere makes it non-finite (and so does a sum
        # beyond the dtype's range, which is divergence by any measure); ~3x cheaper
        # than isfinite().all().
        with torch.no_grad():
            return math.isfinite(sum(p.sum().item() for p in self._params))

    def _flat_params(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params]).clone()

    # ------------------------------------------------------------------ data

    def _train_source(self, x, y, batch_size, shuffle):
        if is_loader(x):
            if y is not None or batch_size is not None:
                raise GradstepError(
                    "with a DataLoader, pass neither y nor batch_size (the loader holds both)"
                )
            source = LoaderBatches(x, self.device, self._target_fix)
            if self._pending_generator_states is not None:
                if len(self._pending_generator_states) == len(source.generators):
                    pending = self._pending_generator_states
                    for g, state in zip(source.generators, pending, strict=True):
                        g.set_state(state)
                self._pending_generator_states = None
            self._generators = source.generators
            return source
        x_t, y_t = self._tensors(x, y, "training")
        n = len(x_t)
        if batch_size is not None:
            _check_whole("batch_size", batch_size, 1)
            if batch_size > n:
                raise GradstepError(
                    f"batch_size={batch_size} is larger than the {n} training rows; "
                    f"use at most {n}, or None for full batch"
                )
        self._generators = []
        source = ArrayBatches(x_t, y_t, batch_size, self.seed, shuffle)
        return source if self._distributed is None else self._distributed.source(source)

    def _val_source(self, data):
        if is_loader(data):
            return LoaderBatches(data, self.device, self._target_fix)
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise GradstepError("validation_data must be (x_val, y_val) or a DataLoader")
        return ArrayBatches(*self._tensors(*data, "validation"), None, self.seed, False)

    def _tensors(self, x, y, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        if y is None:
            raise GradstepError(f"{what} data: pass both x and y (or a DataLoader as x)")
        x_t = self._input(x, f"{what} x")
        y_t = input_tensor(y, f"{what} y", self.dtype, self.device, long_ok=True)
        if y_t.dim() == 0 or len(x_t) != len(y_t):
            raise GradstepError(
                f"{what} x has shape {tuple(x_t.shape)} and y {tuple(y_t.shape)}; "
                "pass one row of y per row of x"
            )
        if len(x_t) == 0:
            raise GradstepError(f"{what} data has no rows; pass at least one")
        if not (y_t.is_floating_point() or self._class_targets(x_t[:2], y_t[:2])):
            y_t = y_t.to(self.dtype)
        if self._target_fix(x_t[:1], y_t[:1], what) == "unsqueeze":
            y_t = y_t.unsqueeze(-1)
        return x_t, y_t

    def _input(self, x, what: str) -> torch.Tensor:
        x_t = input_tensor(x, what, self.dtype, self.device, long_ok=self._index_input)
        if x_t.dim() == 0:
            raise GradstepError(f"{what} is a single number; pass rows, e.g. [[{x_t.item()}]]")
        return x_t[:, None] if x_t.dim() == 1 and x_t.is_floating_point() else x_t

    def _class_targets(self, x_sample, y_sample) -> bool:
        """Whether integer targets are class labels (kept int64) rather than numbers.

        Known losses decide by their class; for any other callable the loss is tried
        on two rows with the targets as numbers, and labels are kept when it refuses.
        """
        if isinstance(self.loss_fn, _CLASS_LOSSES):
            return True
        if isinstance(self.loss_fn, (*_ELEMENTWISE_LOSSES, nn.GaussianNLLLoss)):
            return False
        out = self._probe(x_sample, "training x")
        try:
            with torch.no_grad():
                self.loss_fn(out, y_sample.to(self.dtype))
        except (RuntimeError, TypeError, ValueError, IndexError):
            return True
        return False

    def _probe(self, x_sample, what: str):
        """The model's output for a few rows in eval mode, or a one-line error."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return self.model(x_sample)
        except (RuntimeError, TypeError, ValueError, IndexError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise GradstepError(
                f"the model cannot take {what} of shape {tuple(x_sample.shape)[1:]} per row "
                f"({first}); pass the columns the model was built for"
            ) from exc
        finally:
            self.model.train(was_training)

    def _target_fix(self, x_sample, y_sample, what: str = "training") -> str | None:
        """Check what the loss compares; ``"unsqueeze"``: targets (n,) meet outputs (n, 1)."""
        out = self._probe(x_sample, f"{what} x")
        if not isinstance(out, torch.Tensor):
            return None
        if (
            y_sample.dim() == out.dim() - 1
            and out.shape[-1] == 1
            and out.shape[:-1] == y_sample.shape
        ):
            return "unsqueeze"
        if isinstance(self.loss_fn, _ELEMENTWISE_LOSSES):
            check_shapes(out, y_sample)
        return None

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, x, y=None, batch_size: int | None = None) -> float:
        """The loss on ``(x, y)`` or a DataLoader, in eval mode without gradients."""
        if is_loader(x):
            return self.evaluate_source(LoaderBatches(x, self.device, self._target_fix))
        return self.evaluate_source(ArrayBatches(*self._tensors(x, y, "evaluation"), batch_size))

    def evaluate_source(self, source) -> float:
        was_training = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        try:
            with torch.no_grad():
                for x_batch, y_batch in source.batches(None):
                    n = len(y_batch)
                    total += self.loss_fn(self.model(x_batch), y_batch).item() * n
                    count += n
        finally:
            self.model.train(was_training)
        return total / count

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """The model's output for ``x`` (array, tensor or list; 1-D: one feature) as a
        NumPy array: eval mode, no grad, in batches of ``batch_size`` rows (None: all)."""
        if batch_size is not None:
            _check_whole("batch_size", batch_size, 1)
        x_t = self._input(x, "x")
        if len(x_t) == 0:
            return np.empty((0,))
        self._probe(x_t[:1], "x")
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                size = batch_size or len(x_t)
                parts = [self.model(x_t[i : i + size]) for i in range(0, len(x_t), size)]
        finally:
            self.model.train(was_training)
        return torch.cat(parts).cpu().numpy()

    def lr_range_test(self, x, y=None, **options):
        """Run :func:`~gradstep.trainer.lr_finder.lr_range_test` here (the state is kept)."""
        from gradstep.trainer.lr_finder import lr_range_test

        return lr_range_test(self, x, y, **options)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue bit for bit."""
        model_state = self.model.state_dict()
        return {
            "epoch": self.epoch,
            "seed": self.seed,
            "classes": self._classes(),
            "model": dict(model_state),
            "model_metadata": _plain_metadata(getattr(model_state, "_metadata", None)),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "early_stopping": None
            if self.early_stopping is None
            else self.early_stopping.state_dict(),
            "checkpoint_saver": None if self.checkpoints is None else self.checkpoints.state_dict(),
            "history": self.history.state_dict(),
            "rng": rng_states(self._generators, self._rng),
        }

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write :meth:`state_dict` to ``path`` (atomically, checksummed, no pickle)."""
        save_tree(path, self.state_dict(), kind=CHECKPOINT_KIND)

    def load_checkpoint(self, path: str | os.PathLike, *, restore_global_rng: bool = False) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` into this trainer.

        The trainer must be built like the one that wrote it (same model, optimizer
        and scheduler classes). Weights, optimizer, scheduler, early stopping,
        history, epoch, seed and the DataLoader's generator (for the next ``fit``)
        come back; that is all a resumed run needs to continue bit for bit, because
        every epoch seeds PyTorch's generators from ``(seed, epoch)`` itself.

        The global torch, CUDA, NumPy and Python random states saved with it are put
        back only with ``restore_global_rng=True`` (for code of your own that draws
        from them, e.g. a ``Dataset`` using ``np.random``): loading never changes
        your random state unless you ask.

        All or nothing: every section (model keys, shapes and dtypes, optimizer
        groups and state, scheduler, early stopping, history, epoch, random states)
        is checked before anything is changed; a checkpoint that does not fit raises
        a one-line :class:`~gradstep.checkpoint.CheckpointError` naming the section,
        and the trainer, its model, optimizer and scheduler and the random states
        are left exactly as they were.
        """
        state = load_tree(path, kind=CHECKPOINT_KIND)
        try:
            check_state(self, state)
        except CheckpointError as exc:
            raise CheckpointError(
                f"{path}: cannot restore this checkpoint: {exc}; {_FIX}"
            ) from None
        before = TrainerSnapshot(self, restore_global_rng)
        try:
            self._load_state(state, restore_global_rng)
        except BaseException as exc:  # all or nothing, whatever went wrong
            before.restore()
            if not isinstance(exc, (KeyError, TypeError, ValueError, RuntimeError, IndexError)):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: cannot restore this checkpoint: {first}; {_FIX}"
            ) from None

    def _load_state(self, state: dict, restore_global_rng: bool) -> None:
        """Apply a state that :func:`check_state` accepted."""
        model_state = OrderedDict(state["model"])
        if state["model_metadata"] is not None:
            model_state._metadata = OrderedDict(state["model_metadata"])  # type: ignore[attr-defined]
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.early_stopping is not None and state["early_stopping"] is not None:
            self.early_stopping.load_state_dict(state["early_stopping"])
        if self.checkpoints is not None and state["checkpoint_saver"] is not None:
            self.checkpoints.load_state_dict(state["checkpoint_saver"])
        history = TrainingHistory()
        history.load_state_dict(state["history"])
        self._pending_generator_states = set_rng_states(
            state["rng"], self._generators, restore_global=restore_global_rng
        )
        self.history, self.epoch, self.seed = history, int(state["epoch"]), int(state["seed"])

    def _classes(self) -> dict:
        return {
            "model": type(self.model).__name__,
            "optimizer": type(self.optimizer).__name__,
            "scheduler": None if self.scheduler is None else type(self.scheduler).__name__,
        }


# ---------------------------------------------------------------------- helpers


class _NonFinite(Exception):
    def __init__(self, value: float, step: int, params_finite: bool):
        super().__init__(value, step)
        self.value, self.step, self.params_finite = value, step, params_finite


def _plain_metadata(metadata) -> dict | None:
    return None if metadata is None else {k: dict(v) for k, v in metadata.items()}


def _model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _checked_seed(seed) -> int:
    if seed is None:
        return secrets.randbits(63)
    # Checkpoints refuse seeds outside 64 bits: never start a run that could not resume.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise GradstepError(f"seed={seed!r} must be a whole number in [0, 2**64) or None, e.g. 42")
    return int(seed)


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number))


def _check_whole(name: str, value, low: int) -> None:
    if not _is_number(value) or int(value) != value or value < low:
        raise GradstepError(f"{name}={value!r} must be a whole number >= {low}")


def _check_parts(model, loss_fn, optimizer, scheduler, interval) -> None:
    if not isinstance(model, nn.Module):
        raise GradstepError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise GradstepError("loss_fn must be callable, e.g. torch.nn.MSELoss()")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise GradstepError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    model_params = {id(p) for p in model.parameters()}
    opt_params = [p for g in optimizer.param_groups for p in g["params"]]
    if not any(id(p) in model_params for p in opt_params):
        raise GradstepError(
            "the optimizer holds none of the model's parameters; build it from "
            "model.parameters() of this very model"
        )
    if interval not in ("epoch", "batch"):
        raise GradstepError(f"scheduler_interval={interval!r} must be 'epoch' or 'batch'")
    if scheduler is not None and getattr(scheduler, "optimizer", None) is not optimizer:
        raise GradstepError("the scheduler must be built on the same optimizer as the trainer's")
