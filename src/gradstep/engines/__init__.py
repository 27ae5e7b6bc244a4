"""The engine registry: every way gradstep can run the descent, and what each declares.

Adding an engine is one module (a subclass of :class:`~gradstep.engines.base.Engine`)
and one line here; ``tests/test_conformance.py`` then checks it against the plain
loop in every mode it declares. Nothing heavy is imported until an engine is used.
"""

from __future__ import annotations

from gradstep.engines.base import FULL, MINI, Capabilities, Data, Engine, Settings, Spec
from gradstep.engines.optimizers import NAMES as OPTIMIZERS
from gradstep.errors import GradstepError

_BOTH = frozenset({FULL, MINI})
_ALL = frozenset(OPTIMIZERS)  # numpy and stats through optimizers.py, torch through torch.optim
_TORCH = Capabilities(
    _BOTH, frozenset({"cpu", "cuda"}), frozenset({"float32", "float64"}), optimizers=_ALL
)

REGISTRY: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec("numpy", "gradstep.engines.numpy_loop:NumpyLoop",
             Capabilities(_BOTH, optimizers=_ALL),
             "the document's loop: steps 1-4 in float64 NumPy"),
        Spec("stats", "gradstep.engines.stats:StatsEngine",
             Capabilities(frozenset({FULL}), cost="stats", optimizers=_ALL),
             "full batch from sufficient statistics: one pass, then O(d^2) per epoch"),
        Spec("compiled", "gradstep.engines.compiled:CompiledEngine",
             Capabilities(_BOTH, optimizers=frozenset({"sgd"})),
             "mini-batch and stochastic steps in a compiled (numba) loop"),
        Spec("distributed", "gradstep.engines.distributed:DistributedEngine",
             Capabilities(_BOTH, distributed=True),
             "each rank of a torch.distributed group sums its part of every batch; one "
             "all_reduce per step"),
        Spec("torch-autograd", "gradstep.engines.torch_loop:TorchAutograd", _TORCH,
             "tensors with requires_grad, backward(), the update under no_grad()"),
        Spec("torch-optim", "gradstep.engines.torch_loop:TorchOptim", _TORCH,
             "the same tensors with optim.SGD and nn.MSELoss"),
        Spec("torch-module", "gradstep.engines.torch_loop:TorchModule", _TORCH,
             "an nn.Module holding b and w as nn.Parameters"),
        Spec("torch-linear", "gradstep.engines.torch_loop:TorchLinear", _TORCH,
             "nn.Sequential(nn.Linear(d, 1))"),
    )
}  # fmt: skip
AUTO = "auto"

# engine="auto" keeps the plain loop for data of fewer values (rows x features) than these:
# there, loading the compiled kernels (about 0.5 s a process) costs more than it saves. A
# plain mini-batch step costs ~10 us whatever its size, so the compiled loop pays off
# sooner. The rule depends on the data only, not on the epochs asked for, so a resumed
# run continues on the engine it started on.
AUTO_MIN_VALUES = {"full": 50_000, "mini": 10_000}

__all__ = ["REGISTRY", "Capabilities", "Data", "Engine", "Settings", "Spec", "choose", "names",
           "prepare", "spec"]  # fmt: skip


def names() -> list[str]:
    """The registered engines (``"auto"`` is not one: it picks one of these)."""
    return list(REGISTRY)


def spec(name: str) -> Spec:
    if name not in REGISTRY:
        raise GradstepError(
            f"engine={name!r} is not known; choose 'auto' or one of {', '.join(REGISTRY)}"
        )
    return REGISTRY[name]


def choose(name: str, n: int, d: int, settings: Settings) -> Spec:
    """The engine to run: ``name``, or for ``"auto"`` the fastest exact one.

    ``"auto"``: a torch engine when float32 or a GPU is asked for (only they compute
    there); otherwise ``stats`` for full batch and ``compiled`` for mini-batches, from
    :data:`AUTO_MIN_VALUES` values on, and the plain ``numpy`` loop below — or where the
    faster engine does not run the optimizer asked for.
    """
    if name != AUTO:
        return spec(name)
    if settings.dtype == "float32" or settings.device not in ("auto", "cpu"):
        return REGISTRY["torch-autograd"]
    mode = FULL if settings.batch_size is None else MINI
    if n * d < AUTO_MIN_VALUES[mode]:
        return REGISTRY["numpy"]
    fast = REGISTRY["stats" if mode == FULL else "compiled"]
    if settings.optimizer.name not in fast.capabilities.optimizers:
        return REGISTRY["numpy"]
    return fast


def prepare(name: str, data: Data, settings: Settings, moments=None) -> Engine:
    """Choose (``"auto"`` included), check and prepare the engine for ``data``.

    ``moments``: the data's :class:`~gradstep.moments.Moments` when the caller has them,
    so an engine built on them does not pass over the data again.
    """
    from gradstep.engines.base import refuse

    chosen = choose(name, data.n, data.d, settings)
    refuse(chosen, settings)
    kwargs = {"moments": moments} if chosen.capabilities.cost == "stats" else {}
    return chosen.load()(data, settings, **kwargs)
