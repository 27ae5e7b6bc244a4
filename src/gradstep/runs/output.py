"""Writing a run folder (``docs/run-folder.md``), and reading back what ``predict``,
``evaluate`` and ``--resume`` need.

The folder is built in a temporary sibling (``.NAME.XXXX.tmp``) and renamed into
place at the end, so an interrupted or failed run leaves whatever was there
before untouched. Replacing an existing folder takes two renames (old folder
aside, new one in) and then removes the old one; only a crash between those two
renames leaves the previous folder under its ``.NAME.old-*`` name instead (a
Ctrl-C is held off until both are done); the next run on the folder puts it back
and removes other leftovers (``runs.safety.clean_leftovers``, under the lock).

The payload builders (``*_payload``) are pure; the functions at the bottom do the I/O.
(``gradstep.runs.folder`` reads a finished folder for plots and reports.)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradstep.errors import GradstepError
from gradstep.interrupts import held_interrupts
from gradstep.result import History
from gradstep.runs.safety import check_not_protected, check_replaceable, parse_json

CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
BEST = "best.ckpt"
CHECKPOINT_KIND = "gradstep-train"
OPTIMIZER_STATE = "optimizer_state"


@dataclass(frozen=True)
class SavedModel:
    """What prediction needs: parameters in original units, feature names, the scaler."""

    features: list[str]
    target: str
    intercept: float
    coef: np.ndarray
    scaler: dict | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.intercept + np.asarray(x, dtype=np.float64) @ self.coef

    def to_dict(self) -> dict:
        return {
            "feature_names": list(self.features),
            "target": self.target,
            "intercept": float(self.intercept),
            "coef": dict(zip(self.features, map(float, self.coef), strict=True)),
            "scaler": self.scaler,
        }

    @classmethod
    def from_dict(cls, payload: dict, source: str) -> SavedModel:
        try:
            names = [str(n) for n in payload["feature_names"]]
            coef = np.array([float(payload["coef"][n]) for n in names])
            model = cls(names, str(payload["target"]), float(payload["intercept"]), coef,
                        payload.get("scaler"))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise GradstepError(
                f"{source} is not a gradstep model (bad or missing {exc}); "
                "train the run again with 'gradstep train'"
            ) from None
        if not names or not np.isfinite(np.r_[model.intercept, coef]).all():
            raise GradstepError(f"{source} holds no usable parameters; train the run again")
        return model


# ------------------------------------------------------------------ payloads


def scaler_payload(scaler) -> dict | None:
    if scaler is None:
        return None
    return scaler.to_dict()


def metrics_table(history: History) -> tuple[list[str], np.ndarray]:
    """``metrics.csv``: header and rows ``epoch, b, w_0.., train_loss[, val_loss]``."""
    d = history.w.shape[1]
    epochs = history.first_epoch + np.arange(history.epochs)
    columns = [epochs, history.b, *history.w.T, history.train_loss]
    header = ["epoch", "b", *(f"w_{j}" for j in range(d)), "train_loss"]
    if history.val_loss is not None:
        columns.append(history.val_loss)
        header.append("val_loss")
    return header, np.column_stack(columns) if history.epochs else np.empty((0, len(header)))


def checkpoint_payload(history: History, epoch: int, meta: dict, full: bool):
    """``(tensors, meta)``: the parameters after ``epoch`` and, when ``full``, the history."""
    i = epoch - 1
    tensors = {"b": np.array([history.b[i]]), "w": np.array(history.w[i])}
    if full:
        tensors.update(
            history_b=np.array(history.b[:epoch]),
            history_w=np.array(history.w[:epoch]),
            train_loss=np.array(history.train_loss[:epoch]),
        )
        if history.val_loss is not None:
            tensors["val_loss"] = np.array(history.val_loss[:epoch])
    return tensors, {**meta, "kind": CHECKPOINT_KIND, "epoch": int(epoch), "history": full}


def checkpoint_payloads(
    history: History, meta: dict, every: int | None, best_epoch: int | None,
    optimizer_state: dict | None = None,
) -> dict[str, tuple[dict, dict]]:  # fmt: skip
    """``last.ckpt`` (with the history and the optimizer state, for ``--resume``),
    ``best.ckpt`` with early stopping, and ``epoch-K.ckpt`` every ``every`` epochs."""
    tensors, last_meta = checkpoint_payload(history, history.epochs, meta, full=True)
    state_tensors, state_meta = optimizer_state_payload(optimizer_state)
    files = {LAST: ({**tensors, **state_tensors}, {**last_meta, "optimizer_state": state_meta})}
    if best_epoch is not None:
        files[BEST] = checkpoint_payload(history, best_epoch, meta, full=False)
    if every:
        for epoch in range(every, history.epochs + 1, every):
            files[f"epoch-{epoch}.ckpt"] = checkpoint_payload(history, epoch, meta, full=False)
    return files


def optimizer_state_payload(state: dict | None) -> tuple[dict, dict | None]:
    """``(tensors, meta)`` of an optimizer state (:mod:`gradstep.engines.optimizers`): its
    arrays as float64 tensors ``optimizer_state.KEY``, its step count and empty buffers in
    the meta (``{"step": 12, "exp_avg": "tensor", ...}``); ``({}, None)`` for plain SGD."""
    if state is None:
        return {}, None
    tensors, meta = {}, {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            tensors[f"{OPTIMIZER_STATE}.{key}"] = np.asarray(value, dtype=np.float64)
            meta[key] = "tensor"
        else:
            meta[key] = None if value is None else int(value)
    return tensors, meta


def optimizer_state_from_checkpoint(tensors: dict, meta: dict, source: str) -> dict | None:
    """The optimizer state saved in ``last.ckpt`` (None: plain SGD, or a checkpoint of an
    older gradstep). ``gradstep.engines.optimizers.check_state`` checks it further."""
    stored = meta.get("optimizer_state")
    if stored is None:
        return None
    if not isinstance(stored, dict):
        raise GradstepError(f"{source}: its optimizer state is damaged; cannot resume")
    state = {}
    for key, value in stored.items():
        if value == "tensor":
            name = f"{OPTIMIZER_STATE}.{key}"
            if name not in tensors:
                raise GradstepError(f"{source} holds no {name!r} (damaged?); cannot resume")
            state[key] = np.array(tensors[name], dtype=np.float64)
        elif value is None or (isinstance(value, int) and not isinstance(value, bool)):
            state[key] = value
        else:
            raise GradstepError(f"{source}: optimizer state {key!r} is damaged; cannot resume")
    return state


def history_from_checkpoint(tensors: dict, meta: dict, source: str) -> History:
    """The history saved in ``last.ckpt`` (tensors as NumPy arrays)."""
    try:
        arrays = {name: np.asarray(value, dtype=np.float64) for name, value in tensors.items()}
        history = History(
            arrays["history_b"], arrays["history_w"], arrays["train_loss"], arrays.get("val_loss")
        )
    except KeyError as exc:
        raise GradstepError(f"{source} holds no history ({exc} missing); cannot resume") from None
    if history.epochs != meta.get("epoch") or history.w.shape[0] != history.epochs:
        raise GradstepError(f"{source} is inconsistent (epochs do not match); cannot resume")
    return history


# ------------------------------------------------------------------ checks


def check_out_path(out: Path) -> None:
    """``out`` and its parents must be folders where they exist."""
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise GradstepError(
                f"--out {out}: {path} is a file, not a folder; choose another --out"
            )


def check_out_dir(out: Path, resume: bool, force: bool, data: str | None = None) -> None:
    """Refuse to overwrite a run folder unless asked; refuse to resume what is not there;
    with ``force``, refuse to replace anything but a run folder (``runs.safety``)."""
    check_out_path(out)
    if out.exists():  # it would be renamed away: never the current folder or the data's
        check_not_protected(out, data)
    occupied = out.is_dir() and any(out.iterdir())
    if resume:
        if not (out / CHECKPOINTS / LAST).is_file():
            what = "does not exist" if not out.exists() else f"has no {CHECKPOINTS}/{LAST}"
            raise GradstepError(
                f"nothing to resume: {out} {what}; drop --resume to start a new run there"
            )
    elif occupied and not force:
        raise GradstepError(
            f"run folder {out} already exists; pass --resume to continue it, --force to "
            "replace it, or choose another --out"
        )
    elif occupied:
        check_replaceable(out, data)


# ------------------------------------------------------------------ I/O


def read_json(path: Path, what: str) -> dict:
    try:
        payload = parse_json(path.read_text(encoding="utf-8"), path)
    except FileNotFoundError:
        raise GradstepError(
            f"{path.parent} is not a gradstep run folder (no {path.name}); pass the --out "
            "folder of 'gradstep train'"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradstepError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(payload, dict):
        raise GradstepError(f"{path} is not a JSON object; train the run again")
    return payload


def read_model(run_dir: str | os.PathLike) -> SavedModel:
    folder = Path(run_dir)
    if not folder.is_dir():
        raise GradstepError(
            f"run folder {folder} does not exist; pass the --out folder of 'gradstep train'"
        )
    path = folder / "model.json"
    return SavedModel.from_dict(read_json(path, "the model"), str(path))


def read_resume(out: Path) -> tuple[dict, History, dict]:
    """``(stored options, history, checkpoint meta)`` of the run folder ``out``; the meta's
    ``"optimizer_state"`` is replaced by the state itself (arrays from the tensors)."""
    from gradstep.checkpoint import load_state

    config = read_json(out / "config.json", "the run's configuration")
    path = out / CHECKPOINTS / LAST
    tensors, meta = load_state(path, as_numpy=True)
    if not isinstance(meta, dict) or meta.get("kind") != CHECKPOINT_KIND:
        raise GradstepError(f"{path} is not a checkpoint of 'gradstep train'; cannot resume")
    options = config.get("options")
    if not isinstance(options, dict):
        raise GradstepError(
            f"{out / 'config.json'} holds no options (damaged?); cannot resume: train a new run"
        )
    history = history_from_checkpoint(tensors, meta, str(path))
    meta = {**meta, "optimizer_state": optimizer_state_from_checkpoint(tensors, meta, str(path))}
    return options, history, meta


@dataclass(frozen=True)
class RunFiles:
    """Everything ``gradstep train`` writes, as data (figures and report come after)."""

    config: dict
    model: dict
    summary: dict
    quadratic: dict | None
    history: History
    checkpoints: dict[str, tuple[dict, dict]]


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def write_metrics(path: Path, history: History) -> None:
    header, table = metrics_table(history)
    formats = ["%d"] + ["%.17g"] * (len(header) - 1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(header) + "\n")
        np.savetxt(fh, table, fmt=formats, delimiter=",")


def write_files(folder: Path, files: RunFiles) -> None:
    from gradstep.checkpoint import save_state

    write_json(folder / "config.json", files.config)
    write_json(folder / "model.json", files.model)
    write_json(folder / "summary.json", files.summary)
    if files.quadratic is not None:
        write_json(folder / "quadratic.json", files.quadratic)
    write_metrics(folder / "metrics.csv", files.history)
    (folder / CHECKPOINTS).mkdir(exist_ok=True)
    for name, (tensors, meta) in files.checkpoints.items():
        save_state(folder / CHECKPOINTS / name, tensors, meta)


def write_run(
    out: Path,
    files: RunFiles,
    keep_existing: bool,
    finish: Callable[[Path], None] | None = None,
    written: Callable[[], None] | None = None,
) -> None:
    """Write the run folder ``out`` atomically; ``finish(folder)`` adds figures and report.

    With ``keep_existing`` (resume) files already in ``out`` that this run does not
    rewrite are kept. ``written()`` is called the moment the new folder is in place
    (so a Ctrl-C after it can say so). Callers hold ``runs.safety.run_lock(out)``.
    """
    try:
        with staging(out, keep_existing, written) as folder:
            write_files(folder, files)
            if finish is not None:
                finish(folder)
            else:  # a resumed run's old figures and report describe earlier epochs
                shutil.rmtree(folder / "figures", ignore_errors=True)
                (folder / "report.html").unlink(missing_ok=True)
    except OSError as exc:
        raise GradstepError(
            f"cannot write the run folder {out}: {exc.strerror or exc}; "
            "choose another --out (nothing was changed)"
        ) from None


@contextlib.contextmanager
def staging(
    out: Path, keep_existing: bool, written: Callable[[], None] | None = None
) -> Iterator[Path]:
    """A temporary sibling of ``out``, renamed to ``out`` if the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_folder(out.parent, f".{out.name}.", ".tmp")
    try:
        if keep_existing and out.is_dir():
            shutil.copytree(out, tmp, dirs_exist_ok=True)
        yield tmp
        # A Ctrl-C between the renames would leave no folder at ``out``: hold it until
        # the swap is done and ``written`` has recorded that it is.
        with held_interrupts():
            swap_into_place(tmp, out)
            if written is not None:
                written()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def new_folder(parent: Path, prefix: str, suffix: str) -> Path:
    """A new, uniquely named folder with the usual permissions (``mkdtemp`` makes them 0700).

    ``runs.safety.leftover_patterns`` recognises these names: keep them in step."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise GradstepError(f"cannot create a temporary folder in {parent}")  # pragma: no cover


def swap_into_place(new: Path, out: Path) -> None:
    if out.exists():
        old = new_folder(out.parent, f".{out.name}.old-", "")
        os.rename(out, old / out.name)
        os.rename(new, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, out)
    with contextlib.suppress(OSError):
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
