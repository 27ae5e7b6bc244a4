"""The options of ``gradstep train``: defaults, parsing, a TOML file, and which value wins.

Every option can come from four places; the first that has it wins:

1. the command line,
2. the TOML file given with ``--config`` (flat ``key = value`` lines, or a
   ``[train]`` table; keys are the option names, ``-`` or ``_`` alike),
3. with ``--resume``, the run being resumed (its ``config.json``),
4. the default below.

The resolved configuration records where each value came from. Options that
shape the descent (``LOCKED``) cannot change when a run is resumed: the resumed
descent must be the one that was started.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradstep.defaults import DEFAULT_TOL
from gradstep.errors import GradstepError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_LR = "auto"
DEFAULT_EPOCHS = 100_000
DEFAULT_VAL_FRACTION = 0.2
DEFAULT_SEED = 42
RUNS_FOLDER = "runs"


class _Bad(ValueError):
    """A value that does not parse; the message says what it must be."""


def _text(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("must be a non-empty string")
    return value.strip()


def _optional_text(value) -> str | None:
    return None if value is None else _text(value)


def _features(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad("must be column names separated by commas (in TOML: a list of strings)")
    names = [v.strip() for v in value]
    if not names or any(not name for name in names):
        raise _Bad("must name columns separated by commas, with no empty names, e.g. age,bmi")
    return names


def _format(value) -> str | None:
    if value is None:
        return None
    if value not in ("csv", "parquet"):
        raise _Bad("must be csv or parquet")
    return value


def _number(value, what: str) -> float:
    if isinstance(value, bool):
        raise _Bad(what)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Bad(what) from None
    if not math.isfinite(number):
        raise _Bad(what)
    return number


def _whole(value, what: str, minimum: int) -> int:
    number = _number(value, what)
    if number != int(number) or number < minimum:
        raise _Bad(what)
    return int(number)


def _lr(value):
    if value == "auto":
        return "auto"
    number = _number(value, "must be a positive number or 'auto', e.g. 0.01")
    if number <= 0:
        raise _Bad("must be a positive number or 'auto', e.g. 0.01")
    return number


def _epochs(value) -> int:
    return _whole(value, "must be a whole number >= 1, e.g. 5000", 1)


def _optional_count(what: str) -> Callable[[Any], int | None]:
    def parse(value):
        return None if value is None else _whole(value, f"must be a whole number >= 1{what}", 1)

    return parse


def _tol(value) -> float:
    number = _number(value, "must be a number >= 0 (0: run every epoch), e.g. 1e-8")
    if number < 0:
        raise _Bad("must be a number >= 0 (0: run every epoch), e.g. 1e-8")
    return number


def _batch_size(value) -> int | None:
    if value is None or value == "full":
        return None
    return _whole(value, "must be a whole number >= 1 or 'full' (all training rows)", 1)


def _fraction(value) -> float:
    number = _number(value, "must be a number from 0 up to (not including) 1, e.g. 0.2")
    if not 0 <= number < 1:
        raise _Bad("must be a number from 0 up to (not including) 1, e.g. 0.2")
    return number


def _scale(value):
    if value == "auto" or isinstance(value, bool):
        return value
    raise _Bad("must be true, false or 'auto' (on for more than one feature)")


def _seed(value) -> int:
    return _whole(value, "must be a whole number >= 0, e.g. 42", 0)


def _dtype(value) -> str | None:
    if value is None:
        return None
    if value not in ("float32", "float64"):
        raise _Bad("must be float32 or float64")
    return value


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def _optional_flag(value) -> bool | None:
    return None if value is None else _flag(value)


def _optimizer(value) -> str:
    from gradstep.engines.optimizers import NAMES

    if value not in NAMES:
        raise _Bad(f"is not known; choose one of {', '.join(NAMES)}")
    return value


def _hyper(value) -> float | None:
    """An optimizer hyperparameter: a number >= 0 (torch.optim checks the rest)."""
    if value is None:
        return None
    number = _number(value, "must be a finite number >= 0")
    if number < 0:
        raise _Bad("must be a finite number >= 0")
    return number


def _betas(value) -> tuple[float, float] | None:
    if value is None:
        return None
    what = "must be two numbers in [0, 1) separated by a comma, e.g. 0.9,0.999"
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _Bad(what)
    betas = tuple(_number(v.strip() if isinstance(v, str) else v, what) for v in value)
    if not all(0 <= v < 1 for v in betas):
        raise _Bad(what)
    return betas


@dataclass(frozen=True)
class Option:
    default: Any
    parse: Callable[[Any], Any]
    locked: bool = False  # must stay the same when the run is resumed
    inherited: bool = True  # taken from the resumed run when not given


OPTIONS: dict[str, Option] = {
    "data": Option(None, _optional_text),
    "target": Option(None, _optional_text, locked=True),
    "features": Option(None, _features, locked=True),
    "format": Option(None, _format),
    "drop_missing": Option(False, _flag, locked=True),
    "engine": Option("auto", _text, locked=True),
    "device": Option("auto", _text),
    "dtype": Option(None, _dtype, locked=True),
    "lr": Option(DEFAULT_LR, _lr, locked=True),
    "epochs": Option(DEFAULT_EPOCHS, _epochs),
    "tol": Option(DEFAULT_TOL, _tol),
    "batch_size": Option(None, _batch_size, locked=True),
    "optimizer": Option("sgd", _optimizer, locked=True),
    "momentum": Option(None, _hyper, locked=True),
    "nesterov": Option(None, _optional_flag, locked=True),
    "betas": Option(None, _betas, locked=True),
    "alpha": Option(None, _hyper, locked=True),
    "eps": Option(None, _hyper, locked=True),
    "lr_decay": Option(None, _hyper, locked=True),
    "amsgrad": Option(None, _optional_flag, locked=True),
    "centered": Option(None, _optional_flag, locked=True),
    "val_fraction": Option(DEFAULT_VAL_FRACTION, _fraction, locked=True),
    "scale": Option(True, _scale, locked=True),
    "seed": Option(DEFAULT_SEED, _seed, locked=True),
    "early_stopping": Option(None, _optional_count(" (the patience, in epochs)")),
    "checkpoint_every": Option(None, _optional_count(", e.g. 1000")),
    "out": Option(None, _optional_text, inherited=False),
    "resume": Option(False, _flag, inherited=False),
    "force": Option(False, _flag, inherited=False),
    "report": Option(True, _flag),
    "json": Option(False, _flag, inherited=False),
    "stream": Option(False, _flag),
    "chunk_rows": Option(1_000_000, _optional_count(", e.g. 1000000")),
    "shuffle_buffer": Option(1_000_000, _optional_count(" (rows), e.g. 1000000"), locked=True),
    "distributed": Option(False, _flag, inherited=False),
    "workers": Option(None, _optional_count(" (local processes)"), inherited=False),
    "backend": Option(None, _optional_text, inherited=False),
}
# The optimizer's hyperparameters, named as torch.optim names them (lr is --lr).
OPTIMIZER_OPTIONS = ("momentum", "nesterov", "betas", "alpha", "eps", "lr_decay", "amsgrad",
                     "centered")  # fmt: skip
# Not an option of the run: where the other options came from.
CONFIG_OPTION = "config"


@dataclass(frozen=True)
class TrainOptions:
    """The resolved options of one ``gradstep train``; ``sources`` says where each came from."""

    data: str | None
    target: str | None
    features: list[str] | None
    format: str | None
    drop_missing: bool
    engine: str
    device: str
    dtype: str | None
    lr: float | str
    epochs: int
    tol: float
    batch_size: int | None
    optimizer: str
    momentum: float | None
    nesterov: bool | None
    betas: tuple[float, float] | None
    alpha: float | None
    eps: float | None
    lr_decay: float | None
    amsgrad: bool | None
    centered: bool | None
    val_fraction: float
    scale: bool | str
    seed: int
    early_stopping: int | None
    checkpoint_every: int | None
    out: str | None
    resume: bool
    force: bool
    report: bool
    json: bool
    stream: bool = False
    chunk_rows: int = 1_000_000
    shuffle_buffer: int = 1_000_000
    distributed: bool = False
    workers: int | None = None
    backend: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    config: str | None = None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in OPTIONS}

    def optimizer_spec(self) -> dict:
        """``{"name": ..., **the hyperparameters given}`` for
        :func:`gradstep.engines.optimizers.resolve` (torch.optim's defaults for the rest)."""
        given = {name: getattr(self, name) for name in OPTIMIZER_OPTIONS}
        return {"name": self.optimizer, **{k: v for k, v in given.items() if v is not None}}


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_option(name: str, raw, label: str):
    try:
        return OPTIONS[name].parse(raw)
    except _Bad as exc:
        raise GradstepError(f"{label} {raw!r} {exc}") from None


# ------------------------------------------------------------------ TOML files


def read_toml(path: str) -> dict[str, Any]:
    """The options in a TOML file, keyed by option name (``-`` read as ``_``)."""
    try:
        with open(path, "rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise GradstepError(f"no such config file: {path}") from None
    except IsADirectoryError:
        raise GradstepError(f"config {path} is a folder; pass a TOML file") from None
    except OSError as exc:
        raise GradstepError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GradstepError(f"config file {path} is not valid TOML: {exc}") from None
    if isinstance(document.get("train"), dict):
        document = {**{k: v for k, v in document.items() if k != "train"}, **document["train"]}
    options = {}
    for key, value in document.items():
        name = key.replace("-", "_")
        if name == CONFIG_OPTION:
            raise GradstepError(f"{path}: 'config' cannot be set inside a config file")
        if name not in OPTIONS:
            raise GradstepError(f"{path}: unknown option {key!r}{_did_you_mean(name)}")
        options[name] = value
    return options


def _did_you_mean(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(OPTIONS), n=1)
    known = ", ".join(OPTIONS)
    return f"; did you mean {close[0]!r}?" if close else f"; known options: {known}"


# ------------------------------------------------------------------ resolving


def resolve(
    command_line: dict[str, Any],
    config_path: str | None = None,
    resumed: dict[str, Any] | None = None,
    check: bool = True,
) -> TrainOptions:
    """Combine the command line (only options the user typed), a TOML file and a resumed run.

    With ``check`` (the default) options that contradict each other are an error;
    before a run to resume has been read, only ``--resume`` with ``--force`` is.
    """
    from_file = read_toml(config_path) if config_path else {}
    values, sources = {}, {}
    for name, option in OPTIONS.items():
        if name in command_line:
            value = parse_option(name, command_line[name], flag_name(name))
            source = "command line"
        elif name in from_file:
            value = parse_option(name, from_file[name], f"{name} in {config_path}:")
            source = f"config file {config_path}"
        elif resumed is not None and option.inherited and name in resumed:
            value = parse_option(name, resumed[name], f"{name} in the resumed run's config.json:")
            source = "resumed run"
        else:
            value, source = option.default, "default"
        if resumed is not None and option.locked and source != "resumed run":
            _check_unchanged(name, value, source, resumed)
        values[name], sources[name] = value, source
    options = TrainOptions(**values, sources=sources, config=config_path)
    if check:
        check_consistent(options)
    else:
        check_run_flags(options)
    return options


def _check_unchanged(name: str, value, source: str, resumed: dict[str, Any]) -> None:
    raw = resumed.get(name, OPTIONS[name].default)
    stored = parse_option(name, raw, f"{name} in the resumed run's config.json:")
    if source != "default" and value != stored:
        raise GradstepError(
            f"{flag_name(name)} {value!r} ({source}) contradicts the run being resumed, "
            f"which used {stored!r}; --resume continues the same descent: drop "
            f"{flag_name(name)}, or train a new run with another --out"
        )


def check_run_flags(options: TrainOptions) -> None:
    if options.resume and options.force:
        raise GradstepError(
            "--resume and --force contradict each other: --resume continues the run folder, "
            "--force replaces it; pass one of them"
        )


def check_consistent(options: TrainOptions) -> None:
    """Raise for options that contradict each other."""
    check_run_flags(options)
    if options.early_stopping is not None and options.val_fraction == 0:
        raise GradstepError(
            "--early-stopping watches the validation loss, but --val-fraction 0 keeps no "
            "validation rows; pass --val-fraction 0.2 (say) or drop --early-stopping"
        )
    if options.data == "-" and options.format == "parquet":
        raise GradstepError(
            "standard input ('-') is read as CSV, so --format parquet cannot be used with it"
        )
    check_stream(options)
    optimizer = check_optimizer(options)
    from gradstep.engines import AUTO, REGISTRY

    if options.engine != AUTO and options.engine not in REGISTRY:
        raise GradstepError(
            f"--engine {options.engine!r} is not known; choose auto or one of {', '.join(REGISTRY)}"
        )
    if options.engine == AUTO:
        return
    caps = REGISTRY[options.engine].capabilities
    if optimizer.name not in caps.optimizers:
        raise GradstepError(
            f"--engine {options.engine} runs --optimizer {'/'.join(sorted(caps.optimizers))} "
            f"only, not {optimizer.name}; drop --engine (auto picks one that does) or pass "
            "--engine numpy"
        )
    if "cuda" not in caps.devices and options.device not in ("auto", "cpu"):
        raise GradstepError(
            f"--device {options.device} needs a torch engine, but --engine "
            f"{options.engine} runs on the CPU; pass --engine torch-autograd, or drop --device"
        )
    if options.dtype is not None and options.dtype not in caps.dtypes:
        raise GradstepError(
            f"--dtype {options.dtype} needs a torch engine, but --engine {options.engine} "
            "computes in float64; pass --engine torch-autograd, or drop --dtype"
        )


def check_optimizer(options: TrainOptions):
    """The optimizer the options describe; a hyperparameter it does not take, or a value
    ``torch.optim`` would refuse, is a one-line error naming the flag."""
    from gradstep.engines.optimizers import OPTIMIZERS, resolve

    spec = options.optimizer_spec()
    name = spec["name"]
    takes = {f for f in OPTIMIZERS[name].__dataclass_fields__}
    if name == "sgd":  # --momentum turns SGD into torch.optim.SGD with momentum
        takes = {"momentum", "nesterov"}
    for key in spec:
        if key != "name" and key not in takes:
            flags = ", ".join(flag_name(k) for k in OPTIMIZER_OPTIONS if k in takes) or "none"
            raise GradstepError(
                f"{flag_name(key)} is not a hyperparameter of --optimizer {name} (it takes: "
                f"{flags}); drop {flag_name(key)} or choose another --optimizer"
            )
    return resolve(spec)


def check_stream(options: TrainOptions) -> None:
    """``--stream`` runs full-batch descent from streamed statistics; say what it cannot do."""
    several = options.workers is not None or options.distributed
    if several:
        flag = "--workers" if options.workers is not None else "--distributed"
        if options.workers is not None and options.distributed:
            raise GradstepError(
                "--workers starts its own processes; drop --distributed (it is for torchrun)"
            )
        if not options.stream:
            check_distributed_minibatch(options, flag)
    given = options.sources.get("shuffle_buffer", "default") not in ("default", "resumed run")
    if given and not (options.stream and options.batch_size is not None):
        raise GradstepError(
            "--shuffle-buffer is for streamed mini-batches (--stream --batch-size K); "
            "drop --shuffle-buffer, or add --stream and --batch-size"
        )
    if not options.stream:
        if options.backend is not None and not several:
            raise GradstepError("--backend is for --distributed/--workers runs")
        return
    if options.optimizer_spec() != {"name": "sgd"}:
        raise GradstepError(
            f"--stream with --optimizer {options.optimizer} (or its hyperparameters) is not "
            "supported yet: streamed runs take plain gradient descent steps; drop them, or "
            "drop --stream"
        )
    if options.batch_size is not None and several:
        raise GradstepError(
            "--stream --batch-size runs on one process (streamed mini-batches over several "
            "processes are not supported yet); drop --workers/--distributed, or drop "
            "--batch-size for full batch over processes"
        )
    check_stream_resume(options)
    if options.engine not in ("auto", "stats"):
        raise GradstepError(
            f"--stream runs the stats engine (full batch from the statistics); --engine "
            f"{options.engine} needs the rows in memory: drop --stream or --engine"
        )
    if options.device not in ("auto", "cpu") or options.dtype is not None:
        raise GradstepError("--stream computes in float64 on the CPU; drop --device and --dtype")


def check_stream_resume(options: TrainOptions) -> None:
    """A streamed ``--resume`` runs on one process."""
    if options.resume and (options.workers is not None or options.distributed):
        raise GradstepError(
            "--resume with --stream runs on one process (resuming over several processes is "
            "not supported yet); drop --workers/--distributed to continue the run"
        )


def check_distributed_minibatch(options: TrainOptions, flag: str) -> None:
    """In memory, several processes run mini-batches (the ``distributed`` engine)."""
    if options.batch_size is None:
        raise GradstepError(
            f"{flag} without --stream splits mini-batches over processes: add --batch-size K, "
            "or add --stream for full batch from the statistics"
        )
    if options.engine not in ("auto", "distributed"):
        raise GradstepError(
            f"{flag} runs the distributed engine (each process sums its part of every batch); "
            f"drop --engine {options.engine}"
        )
    if options.device not in ("auto", "cpu") or options.dtype is not None:
        raise GradstepError(f"{flag} computes in float64 on the CPU; drop --device and --dtype")


def default_out(data: str) -> str:
    """``runs/<name>``: the data file's name without its extension (``stdin`` for ``-``)."""
    name = "stdin" if data == "-" else Path(data).stem or "run"
    return os.path.join(RUNS_FOLDER, name)
