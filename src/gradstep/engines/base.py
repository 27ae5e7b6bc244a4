"""What an engine is: its declared capabilities, the data it is prepared for, and the
two calls every engine answers.

An engine is *prepared once* for its data (``Engine(data, settings)``: it keeps
whatever is costly to rebuild — statistics, device tensors, compiled kernels) and
then *continues* a descent from any state: ``run(b, w, start_epoch, epochs)``
returns the :class:`~gradstep.result.History` of the next ``epochs`` epochs. The
batches of epoch ``k`` depend only on ``(seed, k)`` (:func:`gradstep.steps.batch_indices`),
so continuing from a state needs nothing else. Engines never stop early, plot,
print or write files; the one driver (:mod:`gradstep.drive`) applies the stopping
rules to what they return.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from gradstep.errors import GradstepError
from gradstep.result import History

FULL, MINI = "full", "mini"


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do. ``batching``: ``"full"`` and/or ``"mini"`` (mini-batch and
    stochastic); ``devices``: ``"cpu"``, ``"cuda"``; ``dtypes``: the compute dtypes it
    offers (``"float64"`` engines accept float32 data and accumulate in float64);
    ``cost``: rows touched per epoch, ``"data"`` (n) or ``"stats"`` (O(d²), after one pass).
    """

    batching: frozenset[str]
    devices: frozenset[str] = frozenset({"cpu"})
    dtypes: frozenset[str] = frozenset({"float64"})
    cost: str = "data"
    streaming: bool = False
    distributed: bool = False

    def supports(self, batch_size: int | None) -> bool:
        return (FULL if batch_size is None else MINI) in self.batching


@dataclass(frozen=True)
class Spec:
    """A registry entry: the engine's name, where its class lives, and what it declares.

    The class is imported only when the engine is used, so asking what engines exist
    imports neither torch nor numba.
    """

    name: str
    target: str  # "module:Class"
    capabilities: Capabilities
    summary: str

    def load(self) -> type[Engine]:
        module_name, attr = self.target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class Data:
    """Validated training (and optional validation) arrays: ``x`` (n, d), ``y`` (n,).

    Arrays stay in the dtype they came in (float32 or float64): the engines that read
    them accumulate in float64 whatever they hold.
    """

    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def d(self) -> int:
        return self.x.shape[1]

    @property
    def has_val(self) -> bool:
        return self.x_val is not None


@dataclass(frozen=True)
class Settings:
    """What a descent needs beyond the data; the same for every engine."""

    lr: float
    batch_size: int | None  # None: full batch
    seed: int
    record_steps: bool = False
    device: str = "auto"
    dtype: str | None = None  # None: the engine's own default


class Engine:
    """Base class: subclasses set ``name`` and implement ``run``.

    ``run(b, w, start_epoch, epochs)`` continues the descent from ``(b, w)`` after
    ``start_epoch`` epochs for ``epochs`` more and returns their history (parameters
    after each epoch, float64). At the first non-finite loss or parameter it raises
    :class:`~gradstep.errors.DivergenceError` naming the epoch and step
    (:func:`gradstep.steps.divergence_error`).
    """

    name = "?"
    #: filled in by engines that report it: seconds spent compiling / in the data pass
    timings: dict

    def __init__(self, data: Data, settings: Settings):
        self.data, self.settings = data, settings
        self.timings = {}

    def run(self, b: float, w: np.ndarray, start_epoch: int, epochs: int) -> History:
        raise NotImplementedError


def refuse(spec: Spec, settings: Settings) -> None:
    """Raise a one-line GradstepError when ``spec`` cannot run ``settings``."""
    caps = spec.capabilities
    if not caps.supports(settings.batch_size):
        kind = "full-batch" if settings.batch_size is None else "mini-batch"
        others = "batch_size=None" if settings.batch_size is not None else "a batch_size"
        raise GradstepError(
            f"engine={spec.name!r} does not run {kind} descent; pass {others}, or "
            "engine='auto' to pick an engine that does"
        )
    if settings.dtype is not None and settings.dtype not in caps.dtypes:
        raise GradstepError(
            f"engine={spec.name!r} computes in {'/'.join(sorted(caps.dtypes))} only, so "
            f"dtype={settings.dtype!r} cannot be used; leave dtype out or choose a torch "
            "engine (e.g. engine='torch-autograd')"
        )
    if not isinstance(settings.device, str):
        raise GradstepError(f"device={settings.device!r} must be a string: 'auto', 'cpu' or 'cuda'")
    if "cuda" not in caps.devices and settings.device not in ("auto", "cpu"):
        raise GradstepError(
            f"engine={spec.name!r} runs on the CPU only, so device={settings.device!r} "
            "cannot be used; pass device='cpu' or choose a torch engine "
            "(e.g. engine='torch-autograd')"
        )
