"""``gradstep.fit``: validate the inputs, choose the start, hand over to an engine."""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence

import numpy as np

from gradstep.data import as_xy
from gradstep.errors import GradstepError
from gradstep.result import FitResult

# engine name -> "module:function" running the loop; imported only when chosen.
# Every engine takes (x, y, b, w, *, lr, epochs, batch_size, seed, x_val, y_val,
# record_steps, tol, start_epoch, **options) and returns a History.
ENGINES = {
    "numpy": "gradstep.numpy_gd:run",
    "torch-autograd": "gradstep.torch_gd:run_autograd",
    "torch-optim": "gradstep.torch_gd:run_optim",
    "torch-module": "gradstep.torch_gd:run_module",
    "torch-linear": "gradstep.torch_gd:run_linear",
}


def engine_function(engine: str):
    if engine not in ENGINES:
        raise GradstepError(f"engine={engine!r} is not known; choose one of {', '.join(ENGINES)}")
    module_name, attr = ENGINES[engine].split(":")
    return getattr(importlib.import_module(module_name), attr)


def engine_options(engine: str, device: str, dtype: str | None) -> dict:
    """The ``device``/``dtype`` keywords for ``engine``: passed to torch engines only."""
    if not isinstance(device, str):
        raise GradstepError(f"device={device!r} must be a string: 'auto', 'cpu' or 'cuda'")
    if dtype not in (None, "float32", "float64"):
        raise GradstepError(f"dtype={dtype!r} is not known; use 'float32' or 'float64'")
    if engine.startswith("torch-"):
        return {"device": device, "dtype": dtype}
    if device not in ("auto", "cpu"):
        raise GradstepError(
            f"engine={engine!r} runs on the CPU only, so device={device!r} cannot be used; "
            "pass device='cpu' or choose a torch engine (e.g. engine='torch-autograd')"
        )
    if dtype not in (None, "float64"):
        raise GradstepError(
            f"engine={engine!r} computes in float64 only, so dtype={dtype!r} cannot be used; "
            "leave dtype out or choose a torch engine (e.g. engine='torch-autograd')"
        )
    return {}


def initial_params(init, d: int, seed: int) -> tuple[float, np.ndarray]:
    """Starting ``(b, w)``.

    ``"random"``: ``RandomState(seed).randn(1)`` for b, then ``randn(d)`` for w —
    the document's ``np.random.seed(42); b = randn(1); w = randn(1)`` without the
    global state. ``"zeros"``: all zero. Or explicit values: ``(b, w)`` or
    ``{"b": b, "w": w}``.
    """
    if isinstance(init, str):
        if init == "random":
            rng = np.random.RandomState(seed)
            return float(rng.randn(1)[0]), rng.randn(d)
        if init == "zeros":
            return 0.0, np.zeros(d)
        raise GradstepError(
            f"init={init!r} is not known; use 'random', 'zeros', (b, w) or {{'b': ..., 'w': ...}}"
        )
    if isinstance(init, Mapping) and set(init) == {"b", "w"}:
        b, w = init["b"], init["w"]
    elif isinstance(init, Sequence) and len(init) == 2:
        b, w = init
    else:
        raise GradstepError("init must be 'random', 'zeros', (b, w) or {'b': ..., 'w': ...}")
    b_arr = np.asarray(b, dtype=np.float64).reshape(-1)
    w_arr = np.asarray(w, dtype=np.float64).reshape(-1)
    if b_arr.size != 1 or w_arr.size != d:
        raise GradstepError(
            f"init gives {b_arr.size} value(s) for b and {w_arr.size} for w; "
            f"pass one b and {d} w value(s), one per feature"
        )
    if not (np.isfinite(b_arr).all() and np.isfinite(w_arr).all()):
        raise GradstepError("init contains NaN or inf; pass finite starting values")
    return float(b_arr[0]), w_arr


def check_hyperparams(lr, epochs, batch_size, n: int, tol=None, seed=0) -> None:
    """Raise a GradstepError naming the bad argument and a value that would work."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise GradstepError(f"lr={lr!r} must be a positive finite number, e.g. lr=0.1")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise GradstepError(f"epochs={epochs!r} must be a whole number >= 1, e.g. epochs=1000")
    if batch_size is not None and (
        isinstance(batch_size, bool) or int(batch_size) != batch_size or not 1 <= batch_size <= n
    ):
        raise GradstepError(
            f"batch_size={batch_size!r} must be a whole number from 1 to the {n} training "
            "points, or None for full batch"
        )
    if tol is not None and (isinstance(tol, bool) or not math.isfinite(tol) or tol <= 0):
        raise GradstepError(f"tol={tol!r} must be a positive finite number, e.g. tol=1e-10")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GradstepError(f"seed={seed!r} must be a whole number >= 0, e.g. seed=42")


def fit(
    x,
    y,
    lr: float = 0.1,
    epochs: int = 1000,
    batch_size: int | None = None,
    init="random",
    seed: int = 42,
    x_val=None,
    y_val=None,
    engine: str = "numpy",
    record_steps: bool = False,
    tol: float | None = None,
    start_epoch: int = 0,
    device: str = "auto",
    dtype: str | None = None,
) -> FitResult:
    """Fit ``y ≈ b + x @ w`` by gradient descent on the MSE.

    Parameters
    ----------
    x, y : array-like, shapes (n,) or (n, d), and (n,) or (n, 1)
    lr : learning rate (eta).
    epochs : passes over the training data.
    batch_size : None for batch descent (all points per step), k for mini-batches
        of k points (reshuffled every epoch with a generator seeded by ``seed``),
        1 for stochastic descent.
    init : ``"random"`` (the document's seeded ``randn``), ``"zeros"`` or ``(b, w)``.
    x_val, y_val : optional validation data; its loss is recorded every epoch.
    engine : which implementation runs the loop (see ``gradstep.api.ENGINES``).
    record_steps : also keep the parameters after every update (for path plots).
    tol : stop early once an epoch moves no parameter by more than
        ``tol * max(1, max|parameter|)``; ``history.converged`` tells whether it did.
    start_epoch : the number of epochs already run, when continuing a run from
        ``init``; the batches then continue exactly where they left off.
    device : torch engines only: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    dtype : torch engines only: ``"float32"`` (default, PyTorch's) or ``"float64"``;
        the NumPy engine computes in float64.
    """
    run_engine = engine_function(engine)
    options = engine_options(engine, device, dtype)
    x_arr, y_arr = as_xy(x, y, "training")
    if (x_val is None) != (y_val is None):
        raise GradstepError("pass both x_val and y_val, or neither")
    if x_val is not None:
        x_val, y_val = as_xy(x_val, y_val, "validation")
        if x_val.shape[1] != x_arr.shape[1]:
            raise GradstepError(
                f"validation x has {x_val.shape[1]} feature(s) but training x has "
                f"{x_arr.shape[1]}; pass the same columns"
            )
    n, d = x_arr.shape
    check_hyperparams(lr, epochs, batch_size, n, tol, seed)
    b0, w0 = initial_params(init, d, seed)
    history = run_engine(
        x_arr, y_arr, b0, w0.copy(),
        lr=float(lr), epochs=int(epochs),
        batch_size=None if batch_size is None else int(batch_size),
        seed=int(seed), x_val=x_val, y_val=y_val, record_steps=record_steps,
        tol=tol, start_epoch=int(start_epoch), **options,
    )  # fmt: skip
    return FitResult(
        intercept=float(history.b[-1]),
        coef=history.w[-1].copy(),
        history=history,
        init_b=b0,
        init_w=w0,
        engine=engine,
        lr=float(lr),
        epochs=int(epochs),
        batch_size=batch_size,
    )
