"""Loading a Trainer checkpoint all or nothing.

:func:`check_state` checks every section of a loaded checkpoint against the trainer
it is meant for (model keys, shapes and dtypes; the optimizer's groups and
per-parameter state; scheduler; early stopping; history; every random state)
before anything is changed, so a damaged or foreign checkpoint leaves the trainer
exactly as it was. torch's own ``load_state_dict`` methods are not enough: they
fail half-way, after the weights are already overwritten, and some (schedulers,
:class:`EarlyStopping`) set whatever attributes the file names.
:class:`TrainerSnapshot` is the second line: should a restore still fail after the
checks, it puts everything back.

Each check raises :class:`CheckpointError` with ``section: problem``; the caller adds
the file and the fix.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from gradstep.checkpoint import CheckpointError
from gradstep.trainer.seeding import rng_states, set_rng_states
from gradstep.trainer.state import copy_tree

SECTIONS = (
    *("epoch", "seed", "classes", "model", "model_metadata", "optimizer", "scheduler"),
    *("early_stopping", "checkpoint_saver", "history", "rng"),
)
# Per-parameter optimizer state that torch.optim keeps in the parameter's shape
# (Adam*, SGD, Adagrad, Adadelta, RMSprop, Rprop, ASGD). Other keys (LBFGS's flat
# vectors, Adafactor's factored rows) have shapes of their own and are left to torch.
_PARAM_SHAPED = frozenset(
    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "exp_inf", "momentum_buffer", "sum"}
    | {"square_avg", "acc_delta", "grad_avg", "prev", "step_size", "ax"}
)
_HISTORY_LISTS = ("epoch", "train_loss", "val_loss", "lr", "seconds")
_STOPPER_KEYS = ("best", "best_epoch", "wait", "stopped_epoch", "best_state")
_MT_WORDS = 624  # NumPy's MT19937 key length; its position may be 0..624


def check_state(trainer, state) -> None:
    """Raise :class:`CheckpointError` unless ``state`` can be restored into ``trainer``.

    ``epoch`` and ``seed`` were range-checked by :func:`gradstep.checkpoint.load_tree`.
    """
    _check_sections(state)
    _check_classes(trainer, state["classes"])
    check_tensors_like(state["model"], trainer.model.state_dict(), "model")
    _check_metadata(state["model_metadata"])
    _check_optimizer(trainer.optimizer, state["optimizer"])
    if trainer.scheduler is not None:
        check_like(state["scheduler"], trainer.scheduler.state_dict(), "section 'scheduler'")
    if trainer.early_stopping is not None and state["early_stopping"] is not None:
        _check_stopper(trainer.model, state["early_stopping"], state["epoch"])
    if trainer.checkpoints is not None and state["checkpoint_saver"] is not None:
        saver = trainer.checkpoints.state_dict()
        check_like(state["checkpoint_saver"], saver, "section 'checkpoint_saver'")
    _check_history(trainer.model, state["history"], state["epoch"])
    _check_rng(state["rng"], trainer._generators)


def _check_sections(state) -> None:
    if not isinstance(state, dict):
        raise CheckpointError("it holds no trainer state")
    missing = [name for name in SECTIONS if name not in state]
    unknown = [str(name) for name in state if name not in SECTIONS]
    if missing or unknown:
        raise CheckpointError(
            "sections " + "; ".join(_listed(("missing", missing), ("unknown", unknown)))
        )


def _check_classes(trainer, saved) -> None:
    current = trainer._classes()
    if saved != current:
        written = ", ".join(f"{k}={v}" for k, v in saved.items()) if _is_dict(saved) else saved
        mine = ", ".join(f"{k}={v}" for k, v in current.items())
        raise CheckpointError(f"it was written by a trainer with {written}, this one has {mine}")


def check_tensors_like(saved, current: dict, section: str) -> None:
    """``saved`` must have ``current``'s names, each a tensor of the same shape and dtype."""
    if not _is_dict(saved):
        raise CheckpointError(f"section {section!r} holds {_kind(saved)}, not named tensors")
    missing = [name for name in current if name not in saved]
    unknown = [str(name) for name in saved if name not in current]
    if missing or unknown:
        found = "; ".join(_listed(("missing", missing), ("unexpected", unknown)))
        raise CheckpointError(f"section {section!r}: tensors {found}")
    for name, ref in current.items():
        value = saved[name]
        if not isinstance(value, torch.Tensor) or (value.shape, value.dtype) != (
            ref.shape,
            ref.dtype,
        ):
            raise CheckpointError(
                f"section {section!r}: {name!r} is {_kind(value)}, this model's is {_kind(ref)}"
            )


def _check_metadata(saved) -> None:
    # load_state_dict reads a "version" number per module prefix from it.
    if saved is None:
        return
    if not _is_dict(saved) or not all(_is_dict(v) for v in saved.values()):
        raise CheckpointError("section 'model_metadata' is not a dict of dicts")


# ---------------------------------------------------------------- optimizer


def _check_optimizer(optimizer, saved) -> None:
    if not _is_dict(saved) or set(saved) != {"state", "param_groups"}:
        raise CheckpointError("section 'optimizer' must hold exactly 'state' and 'param_groups'")
    groups, current_groups = saved["param_groups"], optimizer.param_groups
    if not isinstance(groups, list) or len(groups) != len(current_groups):
        raise CheckpointError(
            f"section 'optimizer' has {_count(groups)} parameter groups, "
            f"this optimizer has {len(current_groups)}"
        )
    param_of: dict = {}  # saved id -> this optimizer's parameter, as torch maps them
    for index, (group, current) in enumerate(zip(groups, current_groups, strict=True)):
        where = f"section 'optimizer', parameter group {index}"
        _check_group(group, current, where)
        for saved_id, param in zip(group["params"], current["params"], strict=True):
            if saved_id in param_of:
                raise CheckpointError(f"{where}: parameter id {saved_id} appears twice")
            param_of[saved_id] = param
    if not _is_dict(saved["state"]):
        raise CheckpointError("section 'optimizer': 'state' is not a dict")
    for saved_id, entry in saved["state"].items():
        if saved_id not in param_of:
            raise CheckpointError(
                f"section 'optimizer': state for parameter id {_short(saved_id)}, "
                "which no parameter group holds"
            )
        _check_param_state(entry, param_of[saved_id], f"section 'optimizer', state {saved_id}")


def _check_group(group, current: dict, where: str) -> None:
    if not _is_dict(group) or not isinstance(group.get("params"), list):
        raise CheckpointError(f"{where} is not a dict with a 'params' list")
    ids = group["params"]
    if not all(_is_int(i) for i in ids) or len(ids) != len(current["params"]):
        raise CheckpointError(
            f"{where} lists {_count(ids)} parameter ids, this optimizer's has "
            f"{len(current['params'])}"
        )
    for key, value in current.items():
        if key == "params":
            continue
        if key in group:
            check_like(group[key], value, f"{where}, {key!r}")
        elif _is_real(value) or isinstance(value, (tuple, torch.Tensor)):
            # Flags (bool, None, str) that a newer torch added are filled in by torch.
            raise CheckpointError(f"{where} has no hyperparameter {key!r}")


def _check_param_state(entry, param: torch.Tensor, where: str) -> None:
    if not _is_dict(entry):
        raise CheckpointError(f"{where} is {_kind(entry)}, not a dict")
    for key, value in entry.items():
        if key == "step":
            if not (_is_real(value) or _is_scalar_tensor(value)):
                raise CheckpointError(f"{where}: 'step' is {_kind(value)}, not a number")
        elif key in _PARAM_SHAPED and value is not None:
            ok = isinstance(value, torch.Tensor) and value.shape == param.shape
            if not ok or not (value.is_floating_point() or value.is_complex()):
                raise CheckpointError(
                    f"{where}: {key!r} is {_kind(value)}, the parameter is {_kind(param)}"
                )


# ---------------------------------------------------------------- like the trainer's own


def check_like(saved, current, where: str) -> None:
    """``saved`` must have the structure of ``current``, a state this trainer produced.

    Dicts may omit keys but not add any (a scheduler's ``load_state_dict`` sets every
    key as an attribute: ``"optimizer"`` or ``"step"`` would replace its own); lists
    and tuples keep their length; numbers stay numbers; tensors keep shape and dtype.
    Objects of other types are left to torch.
    """
    if not _like(saved, current):
        raise CheckpointError(f"{where} is {_kind(saved)}, where this trainer has {_kind(current)}")
    if isinstance(current, dict):
        unknown = [str(key) for key in saved if key not in current]
        if unknown:
            raise CheckpointError(f"{where} has unknown keys: {', '.join(unknown[:5])}")
        for key in saved:
            check_like(saved[key], current[key], f"{where}, {key!r}")
    elif isinstance(current, (list, tuple)):
        for index, (value, ref) in enumerate(zip(saved, current, strict=True)):
            check_like(value, ref, f"{where}[{index}]")


def _like(saved, current) -> bool:
    if current is None:
        return saved is None or isinstance(saved, (bool, str)) or _is_real(saved)
    if isinstance(current, bool):
        return saved is None or isinstance(saved, bool)
    if _is_real(current) or _is_scalar_tensor(current):
        return _is_real(saved) or _is_scalar_tensor(saved)
    if isinstance(current, str):
        return saved is None or isinstance(saved, str)
    if isinstance(current, (list, tuple)):
        return isinstance(saved, (list, tuple)) and len(saved) == len(current)
    if isinstance(current, dict):
        return _is_dict(saved)
    if isinstance(current, torch.Tensor):
        return isinstance(saved, torch.Tensor) and (saved.shape, saved.dtype) == (
            current.shape,
            current.dtype,
        )
    return True


# ---------------------------------------------------------------- early stopping, history


def _check_stopper(model, saved, epoch: int) -> None:
    if not _is_dict(saved) or set(saved) != set(_STOPPER_KEYS):
        raise CheckpointError(f"section 'early_stopping' must hold {', '.join(_STOPPER_KEYS)}")
    if not _is_real(saved["best"]) or math.isnan(saved["best"]):
        raise CheckpointError(f"section 'early_stopping': best={_short(saved['best'])}")
    for key in ("best_epoch", "wait", "stopped_epoch"):
        if not (_is_int(saved[key]) and 0 <= saved[key] <= epoch):
            raise CheckpointError(
                f"section 'early_stopping': {key}={_short(saved[key])} is not a whole number "
                f"from 0 to the checkpoint's epoch {epoch}"
            )
    if saved["best_state"] is not None:
        check_tensors_like(saved["best_state"], model.state_dict(), "early_stopping.best_state")


def _check_history(model, saved, epoch: int) -> None:
    keys = (*_HISTORY_LISTS, "param_shapes", "steps")
    if not _is_dict(saved) or set(saved) != set(keys):
        raise CheckpointError(f"section 'history' must hold {', '.join(keys)}")
    for name in _HISTORY_LISTS:
        values = saved[name]
        if not isinstance(values, list) or len(values) != epoch:
            raise CheckpointError(
                f"section 'history': {name!r} has {_count(values)} entries, "
                f"the checkpoint's epoch is {epoch}"
            )
        if not all(map(_is_real, values)):
            raise CheckpointError(f"section 'history': {name!r} holds something not a number")
    if saved["epoch"] != list(range(1, epoch + 1)):
        raise CheckpointError(f"section 'history': 'epoch' is not 1, 2, ..., {epoch}")
    _check_steps(model, saved["param_shapes"], saved["steps"])


def _check_steps(model, shapes, steps) -> None:
    if not _is_dict(shapes):
        raise CheckpointError("section 'history': 'param_shapes' is not a dict")
    if shapes:  # recorded: they are this model's trainable parameters
        own = {n: list(p.shape) for n, p in model.named_parameters() if p.requires_grad}
        if shapes != own:
            raise CheckpointError(
                "section 'history': 'param_shapes' does not match this model's parameters"
            )
    if steps is None:
        return
    width = sum(math.prod(shape) for shape in shapes.values())
    ok = isinstance(steps, torch.Tensor) and steps.dim() == 2 and steps.is_floating_point()
    if not ok or not shapes or steps.shape[1] != width:
        raise CheckpointError(
            f"section 'history': 'steps' is {_kind(steps)}, not (updates, {width}) floats"
        )


# ---------------------------------------------------------------- random states


def _check_rng(saved, generators) -> None:
    """Each state is tried on a scratch generator of its kind, never on a live one."""
    keys = ("torch", "cuda", "numpy", "python", "loader")
    if not _is_dict(saved) or set(saved) != set(keys):
        raise CheckpointError(f"section 'rng' must hold {', '.join(keys)}")
    _try_torch_state(saved["torch"], "rng.torch")
    cuda = saved["cuda"]
    if not isinstance(cuda, list) or not all(map(_is_byte_vector, cuda)):
        raise CheckpointError("section 'rng.cuda' is not a list of uint8 vectors")
    _check_numpy_state(saved["numpy"])
    _check_python_state(saved["python"])
    loader = saved["loader"]
    if not isinstance(loader, list):
        raise CheckpointError(f"section 'rng.loader' is {_kind(loader)}, not a list")
    for index, value in enumerate(loader):
        _try_torch_state(value, f"rng.loader[{index}]")


def _try_torch_state(value, section: str) -> None:
    if _is_byte_vector(value):
        try:
            torch.Generator().set_state(value)
            return
        except RuntimeError:
            pass
    raise CheckpointError(f"section {section!r} is not a valid torch generator state")


def _check_numpy_state(value) -> None:
    ok = isinstance(value, tuple) and len(value) == 5 and value[0] == "MT19937"
    ok = ok and isinstance(value[1], np.ndarray) and value[1].shape == (_MT_WORDS,)
    # NumPy does not range-check the position: a larger one would read past the key.
    ok = ok and _is_int(value[2]) and 0 <= value[2] <= _MT_WORDS and value[3] in (0, 1)
    if ok:
        try:
            np.random.RandomState().set_state(value)
            return
        except (TypeError, ValueError, OverflowError):
            pass
    raise CheckpointError("section 'rng.numpy' is not a valid NumPy MT19937 state")


def _check_python_state(value) -> None:
    if isinstance(value, tuple):
        try:
            random.Random().setstate(value)
            return
        except (TypeError, ValueError, OverflowError, IndexError):
            pass
    raise CheckpointError("section 'rng.python' is not a valid Python random state")


# ---------------------------------------------------------------- undo


class TrainerSnapshot:
    """Everything :meth:`Trainer.load_checkpoint` may change, to put back if it fails."""

    _FIELDS = ("history", "epoch", "seed", "_pending_generator_states")

    def __init__(self, trainer, with_global_rng: bool):
        self.trainer, self.with_global_rng = trainer, with_global_rng
        self.model = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        self.optimizer = copy_tree(trainer.optimizer.state_dict())
        parts = (trainer.scheduler, trainer.early_stopping, trainer.checkpoints)
        self.parts = [None if p is None else copy_tree(p.state_dict()) for p in parts]
        self.fields = {name: getattr(trainer, name) for name in self._FIELDS}
        self.rng = rng_states(trainer._generators)

    def restore(self) -> None:
        trainer = self.trainer
        trainer.model.load_state_dict(self.model)
        trainer.optimizer.load_state_dict(self.optimizer)
        parts = (trainer.scheduler, trainer.early_stopping, trainer.checkpoints)
        for part, saved in zip(parts, self.parts, strict=True):
            if part is not None:
                part.load_state_dict(saved)
        for name, value in self.fields.items():
            setattr(trainer, name, value)
        set_rng_states(self.rng, trainer._generators, restore_global=self.with_global_rng)


# ---------------------------------------------------------------- small predicates


def _is_dict(value) -> bool:
    return isinstance(value, dict)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar_tensor(value) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == 1


def _is_byte_vector(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1


def _count(value) -> str:
    return str(len(value)) if isinstance(value, (list, tuple)) else _kind(value)


def _kind(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {list(value.shape)}"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {_short(value)}"
    return f"a {type(value).__name__}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _listed(*pairs) -> list[str]:
    return [f"{label}: {', '.join(map(str, names[:5]))}" for label, names in pairs if names]
