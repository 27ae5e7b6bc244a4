"""``gradstep.fit``: validate the inputs, choose the start and the engine, hand over to the
driver."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np

from gradstep.data import as_xy, check_finite
from gradstep.drive import Rules, descend
from gradstep.engines import Data, Settings, choose, prepare
from gradstep.engines.base import refuse
from gradstep.engines.optimizers import check_state, resolve
from gradstep.errors import GradstepError
from gradstep.moments import SMALL
from gradstep.progress import DescentBar, check_setting, wanted
from gradstep.result import FitResult

# epochs * (d + 1) parameters of history must fit in memory: refuse absurd requests early
MAX_HISTORY_VALUES = 250_000_000


def initial_params(init, d: int, seed: int, engine: str | None = None) -> tuple[float, np.ndarray]:
    """Starting ``(b, w)``.

    ``"random"``: ``RandomState(seed).randn(1)`` for b, then ``randn(d)`` for w —
    the document's ``np.random.seed(42); b = randn(1); w = randn(1)`` without the
    global state. ``"torch"``: the book's PyTorch start, ``torch.manual_seed(seed)``
    then ``b = torch.randn(1)``, ``w = torch.randn(d)`` (float32 values), or for
    ``engine="torch-linear"`` the weight and bias ``nn.Linear(d, 1)`` starts with
    after ``torch.manual_seed(seed)``; drawn from a private ``torch.Generator``
    (:mod:`gradstep.torch_start`), PyTorch's global random state untouched.
    ``"zeros"``: all zero. Or explicit values: ``(b, w)`` or ``{"b": b, "w": w}``.
    """
    if isinstance(init, str):
        if init == "random":
            rng = np.random.RandomState(seed)
            return float(rng.randn(1)[0]), rng.randn(d)
        if init == "torch":
            from gradstep.torch_start import torch_start

            return torch_start(d, seed, linear=engine == "torch-linear")
        if init == "zeros":
            return 0.0, np.zeros(d)
        raise GradstepError(
            f"init={init!r} is not known; use 'random', 'torch', 'zeros', (b, w) or "
            "{'b': ..., 'w': ...}"
        )
    if isinstance(init, Mapping) and set(init) == {"b", "w"}:
        b, w = init["b"], init["w"]
    elif isinstance(init, Sequence) and len(init) == 2:
        b, w = init
    else:
        raise GradstepError(
            "init must be 'random', 'torch', 'zeros', (b, w) or {'b': ..., 'w': ...}"
        )
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


def check_hyperparams(
    lr, epochs, batch_size, n: int, tol=None, seed=0, start_epoch=0, d: int = 1
) -> None:
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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise GradstepError(f"seed={seed!r} must be a whole number from 0 to 2**32 - 1, e.g. 42")
    if (
        isinstance(start_epoch, bool)
        or not isinstance(start_epoch, (int, np.integer))
        or start_epoch < 0
    ):
        raise GradstepError(
            f"start_epoch={start_epoch!r} must be a whole number >= 0 (the epochs already run)"
        )
    if epochs * (d + 1) > MAX_HISTORY_VALUES:
        raise GradstepError(
            f"epochs={epochs} would need a history of {epochs * (d + 1):.3g} values, more than "
            "memory holds; pass fewer epochs (with tol to stop early) or run in parts with "
            "start_epoch"
        )


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
    engine: str = "auto",
    record_steps: bool = False,
    tol: float | None = None,
    start_epoch: int = 0,
    device: str = "auto",
    dtype: str | None = None,
    progress=None,
    optimizer="sgd",
    optimizer_state: dict | None = None,
) -> FitResult:
    """Fit ``y ≈ b + x @ w`` by gradient descent on the MSE.

    Parameters
    ----------
    x, y : array-like, shapes (n,) or (n, d), and (n,) or (n, 1); float32 arrays are
        read as they are (every engine but the torch ones sums in float64).
    lr : learning rate (eta).
    epochs : passes over the training data (the most, with ``tol``).
    batch_size : None for batch descent (all points per step), k for mini-batches
        of k points (reshuffled every epoch with a generator seeded by ``(seed, epoch)``),
        1 for stochastic descent.
    init : ``"random"`` (the document's seeded ``randn``), ``"torch"`` (the book's
        ``torch.manual_seed(seed); torch.randn``, or ``nn.Linear``'s own initialisation
        for ``engine="torch-linear"``; PyTorch's global random state is left alone),
        ``"zeros"`` or ``(b, w)``.
    x_val, y_val : optional validation data; its loss is recorded every epoch.
    engine : ``"auto"`` (the fastest engine for the model, the batching and the data)
        or one of ``gradstep.engines.names()``; ``result.engine`` says which ran.
    record_steps : also keep the parameters after every update (for path plots).
    tol : stop after the first epoch at which every parameter is *certified* to be
        within ``tol * max(1, max|parameter|)`` of the least-squares answer
        (``gradstep.policies``); ``history.converged`` says whether that happened.
    start_epoch : the number of epochs already run, when continuing a run from
        ``init``; the batches then continue exactly where they left off.
    device : torch engines only: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    dtype : torch engines only: ``"float32"`` (PyTorch's default) or ``"float64"``;
        the other engines compute in float64.
    progress : None or False (nothing shown), True (a progress bar on standard error, or
        a widget in a notebook with ipywidgets), ``"auto"`` (a bar only on a terminal or
        in a notebook), or ``callable(done, epochs, train_loss, bound)`` called between
        chunks. With ``tol`` the bar shows the way to convergence (the certified bound
        on a log scale, from the start to ``tol``; :mod:`gradstep.progress`), without it
        the epochs toward ``epochs``.
    optimizer : ``"sgd"`` (the document's step), ``"momentum"``, ``"nesterov"``,
        ``"rmsprop"``, ``"adagrad"``, ``"adam"``, or a dict such as ``{"name": "adam",
        "betas": (0.9, 0.99), "amsgrad": True}`` with ``torch.optim``'s hyperparameter names
        and defaults (``lr`` is this function's own); see
        :mod:`gradstep.engines.optimizers`. ``result.extra["optimizer"]`` says what ran.
    optimizer_state : the state a previous run ended with,
        ``result.extra["optimizer_state"]``, to continue it exactly (with ``init`` set to
        its parameters and ``start_epoch`` to its epochs); None starts the optimizer afresh.
    """
    check_setting("progress", progress, allow_callable=True)
    x_arr, y_arr = as_xy(x, y, "training", keep_float32=True, finite=False)
    if (x_val is None) != (y_val is None):
        raise GradstepError("pass both x_val and y_val, or neither")
    if x_val is not None:
        x_val, y_val = as_xy(x_val, y_val, "validation", keep_float32=True)
        if x_val.shape[1] != x_arr.shape[1]:
            raise GradstepError(
                f"validation x has {x_val.shape[1]} feature(s) but training x has "
                f"{x_arr.shape[1]}; pass the same columns"
            )
    n, d = x_arr.shape
    check_hyperparams(lr, epochs, batch_size, n, tol, seed, start_epoch, d)
    if dtype not in (None, "float32", "float64"):
        raise GradstepError(f"dtype={dtype!r} is not known; use 'float32' or 'float64'")
    batch = None if batch_size is None or batch_size >= n else int(batch_size)
    opt = resolve(optimizer)
    state = check_state(opt, optimizer_state, d)
    settings = Settings(float(lr), batch, int(seed), record_steps, device, dtype, opt)
    spec = choose(engine, n, d, settings)
    refuse(spec, settings)
    b0, w0 = initial_params(init, d, seed, engine=spec.name)
    compile_seconds = 0.0
    if spec.name in ("stats", "compiled") or (tol is not None and n * d > SMALL):
        from gradstep.engines.kernels import warm

        compile_seconds = warm(x_arr.dtype, d)  # apart from the run time
    started = time.perf_counter()
    moments = None
    if tol is not None or spec.capabilities.cost == "stats":
        from gradstep.moments import Moments

        moments = Moments.from_data(x_arr, y_arr)  # also refuses NaN and inf
    else:
        check_finite(x_arr, y_arr)
    data = Data(x_arr, y_arr, x_val, y_val)
    prepared = prepare(spec.name, data, settings, moments)
    prepare_seconds = time.perf_counter() - started
    certificate = None
    if tol is not None:
        from gradstep.policies import Certificate

        certificate = Certificate(moments)
    bar = None
    if not callable(progress) and wanted(progress):
        bound0 = None if certificate is None else float(certificate.relative_bound(b0, w0)[0])
        bar = DescentBar(int(epochs), tol=tol, start_bound=bound0)
    try:
        outcome = descend(
            prepared, b0, w0.copy(), start_epoch=int(start_epoch), epochs=int(epochs),
            rules=Rules(tol=tol), certificate=certificate, state=state,
            progress=progress if callable(progress) else bar,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    history = outcome.history
    extra = {**prepared.timings, "prepare_seconds": prepare_seconds}
    extra["compile_seconds"] = compile_seconds + prepared.timings.get("compile_seconds", 0.0)
    extra["seconds"] = time.perf_counter() - started
    extra["stop_reason"] = outcome.reason
    extra["optimizer"] = opt.config()
    extra["optimizer_state"] = outcome.state
    if certificate is not None:
        extra["bound"] = outcome.bound
        extra["condition_number"] = certificate.condition
    return FitResult(
        intercept=float(history.b[-1]),
        coef=history.w[-1].copy(),
        history=history,
        init_b=b0,
        init_w=w0,
        engine=spec.name,
        lr=float(lr),
        epochs=int(epochs),
        batch_size=batch_size,
        extra=extra,
    )
