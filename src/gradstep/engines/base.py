"""What an engine is: its declared capabilities, the data it is prepared for, and the
two calls every engine answers.

An engine is *prepared once* for its data (``Engine(data, settings)``: it keeps
whatever is costly to rebuild — statistics, device tensors, compiled kernels) and
then *continues* a descent from any state: ``run(b, w, start_epoch, epochs, state)``
returns the :class:`~gradstep.result.History` of the next ``epochs`` epochs. The
batches of epoch ``k`` depend only on ``(seed, k)`` (:func:`gradstep.steps.batch_indices`),
so continuing from a state needs nothing else. Engines never stop early, plot,
print or write files; the one driver (:mod:`gradstep.drive`) applies the stopping
rules to what they return.

Optimizers and their state (``Settings.optimizer``, :mod:`gradstep.engines.optimizers`).
An engine declares the optimizers it runs (``Capabilities.optimizers``; plain ``"sgd"``
only, unless it says more). Plain SGD has no state: ``(b, w)`` is the whole state, an
engine runs its own plain step 4 for it and ``state`` stays ``None`` — nothing is
copied, kept or replayed, so the plain descent is exactly what it was. A stateful
optimizer (momentum buffers, Adam's moments and step count) is continued like ``(b, w)``:

* ``run(b, w, start_epoch, epochs, state)`` starts from ``state`` (the flat dict of
  :mod:`~gradstep.engines.optimizers`, arrays over θ = (b, w) in float64; ``None``: a
  fresh ``init_state``) and leaves the state after its *last* epoch in ``engine.state``.
  The engine's own representation (``torch.optim``'s per-parameter state on the device,
  in the compute dtype) is converted at the ends of ``run`` only; float32 → float64 →
  float32 is exact, so a float32 state continues exactly too.
* Engines keep no per-epoch history of the state (it would cost a copy per epoch). When
  the driver cuts a chunk at the epoch a stopping rule is met, it *replays* the chunk up
  to the cut from the state it started with (the same batches, the same arithmetic, so
  the same iterates) and takes the state from there. A rule is met at most once a
  descent, and a chunk is at most a quarter of the epochs done, so the replay costs at
  most a quarter of the run, once, and only with a stateful optimizer.
* The user gets the final state back (``result.extra["optimizer_state"]``) and passes
  it to the next call (``fit(..., init=(b, w), start_epoch=k, optimizer_state=state)``),
  which then continues exactly as if it had never stopped.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from gradstep.engines.optimizers import SGD, Optimizer
from gradstep.errors import GradstepError
from gradstep.result import History

FULL, MINI = "full", "mini"


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do. ``batching``: ``"full"`` and/or ``"mini"`` (mini-batch and
    stochastic); ``devices``: ``"cpu"``, ``"cuda"``; ``dtypes``: the compute dtypes it
    offers (``"float64"`` engines accept float32 data and accumulate in float64);
    ``cost``: rows touched per epoch, ``"data"`` (n) or ``"stats"`` (O(d²), after one pass);
    ``optimizers``: the names (:data:`gradstep.engines.optimizers.NAMES`) it runs.
    """

    batching: frozenset[str]
    devices: frozenset[str] = frozenset({"cpu"})
    dtypes: frozenset[str] = frozenset({"float64"})
    cost: str = "data"
    streaming: bool = False
    distributed: bool = False
    optimizers: frozenset[str] = frozenset({"sgd"})

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
    optimizer: Optimizer = SGD()


class Engine:
    """Base class: subclasses set ``name`` and implement ``run``.

    ``run(b, w, start_epoch, epochs, state)`` continues the descent from ``(b, w)`` (and,
    for a stateful optimizer, ``state``) after ``start_epoch`` epochs for ``epochs`` more
    and returns their history (parameters after each epoch, float64); ``self.state`` is
    then the optimizer state after the last of them (``None`` for plain SGD). At the
    first non-finite loss or parameter it raises :class:`~gradstep.errors.DivergenceError`
    naming the epoch and step (:func:`gradstep.steps.divergence_error`).
    """

    name = "?"
    #: filled in by engines that report it: seconds spent compiling / in the data pass
    timings: dict
    #: the optimizer state after the last epoch ``run`` returned (None: plain SGD)
    state: dict | None

    def __init__(self, data: Data, settings: Settings):
        self.data, self.settings = data, settings
        self.timings = {}
        self.state = None

    def run(
        self, b: float, w: np.ndarray, start_epoch: int, epochs: int, state: dict | None = None
    ) -> History:
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
    name = settings.optimizer.name
    if name not in caps.optimizers:
        raise GradstepError(
            f"engine={spec.name!r} runs optimizer {'/'.join(sorted(caps.optimizers))} only, so "
            f"optimizer={name!r} cannot be used; pass engine='auto' to pick an engine that does "
            "(e.g. engine='numpy')"
        )
    if not isinstance(settings.device, str):
        raise GradstepError(f"device={settings.device!r} must be a string: 'auto', 'cpu' or 'cuda'")
    if "cuda" not in caps.devices and settings.device not in ("auto", "cpu"):
        raise GradstepError(
            f"engine={spec.name!r} runs on the CPU only, so device={settings.device!r} "
            "cannot be used; pass device='cpu' or choose a torch engine "
            "(e.g. engine='torch-autograd')"
        )
