r"""The engine benchmark: every way to fit :math:`y = b + x w` by gradient descent, side by side.

For each data size N and dtype, on data like the document's (``y = 1 + 2x + 0.1·noise``,
x uniform on [0, 1)), one run times:

* the physical limit: one read pass over the same arrays (NumPy, and multithreaded torch
  on the same memory);
* the document's NumPy loop, written out here; the document's PyTorch full-batch loop
  (autograd + ``optim.SGD``); the book's ``DataLoader`` + ``nn.Linear`` + ``optim.SGD``
  loop, mini-batches of 16, one epoch, shuffle included;
* every gradstep engine in every batching it declares, and ``engine="auto"``;
* scikit-learn's ``LinearRegression`` and ``SGDRegressor`` (one fit each).

Each cell's work is scaled to a time budget: full-batch runs take up to ``EPOCHS`` epochs,
mini-batch runs one epoch on up to all N rows; where the budget allows less, fewer epochs
(or one epoch on the first m rows) are timed and the time per epoch is extrapolated
linearly, and the row says so. Times are the best of k repeats (k adaptive; the minimum,
because load from elsewhere only ever adds time); the compile time is the first call minus
the steady state, at the probe size. Parameter errors are relative,
:math:`|\theta - \theta_{ref}| / |\theta_{ref}|`, against least squares in float64 on the same
data for runs long enough to converge, else against float64 full-batch descent for the same
epochs (from the data's sufficient statistics), or, for mini-batch runs, against the plain
``numpy`` engine on the same rows with the same seed (so the same batches).

The module measures and returns plain data; it never prints (``progress`` is a callback).
"""

from __future__ import annotations

import datetime
import importlib
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

EPOCHS = 1000  # full-batch runs: the document's 1000 epochs
EXPECTED_ENGINES = ("numpy", "stats", "compiled", "torch-autograd", "torch-optim",
                    "torch-module", "torch-linear")  # fmt: skip
# Capabilities of the engines gradstep had before the registry (gradstep.api.ENGINES).
LEGACY_CAPABILITIES = {
    "numpy": (("full", "mini"), ("float64",)),
    "torch-autograd": (("full", "mini"), ("float32", "float64")),
    "torch-optim": (("full", "mini"), ("float32", "float64")),
    "torch-module": (("full", "mini"), ("float32", "float64")),
    "torch-linear": (("full", "mini"), ("float32", "float64")),
}
MINI_PROBE_ROWS = 2000
HEADLINE_A = {"n": 10**7, "dtype": "float32", "max_read_ratio": 1.5, "min_speedup": 1000.0}
HEADLINE_B = {"n": 10**5, "min_rows_ratio": 500.0, "rel_tol": 1e-12}


@dataclass(frozen=True)
class Config:
    """What to run. ``cell_seconds`` is the time budget of one cell's timed repeats."""

    sizes: tuple[int, ...] = (100, 10**5, 10**6, 10**7)
    dtypes: tuple[str, ...] = ("float32", "float64")
    features: int = 1
    batch_size: int = 16
    lr: float = 0.1
    seed: int = 42
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    cell_seconds: float = 1.0
    max_repeats: int = 5
    max_repeats_fast: int = 100  # for cells under 10 ms
    quick: bool = False


def quick_config(**changes) -> Config:
    """Small sizes and budgets: finishes in well under 30 s."""
    return replace(Config(sizes=(100, 10**5), cell_seconds=0.15, max_repeats=2,
                          max_repeats_fast=20, quick=True),
                   **changes)  # fmt: skip


@dataclass
class Case:
    """The data of one cell group: x (n, d) and y (n,) in ``dtype``, and the float64 answers."""

    n: int
    dtype: str
    x: np.ndarray
    y: np.ndarray
    theta_lstsq: np.ndarray  # (b, w_1, ..., w_d), float64 least squares on these very values
    gram: np.ndarray  # E[z z^T] for z = (1, x), float64
    zy: np.ndarray  # E[z y], float64
    init: tuple[float, np.ndarray]


@dataclass
class Row:
    n: int
    dtype: str
    label: str
    group: str  # "read", "baseline", "engine", "sklearn"
    engine: str | None = None
    engine_ran: str | None = None
    batching: str | None = None  # "full", "mini"
    available: bool = True
    reason: str | None = None
    epochs_target: float | None = None
    epochs_timed: float | None = None
    rows_timed: int | None = None
    extrapolated: bool = False
    note: str | None = None
    repeats: int = 0
    seconds_per_epoch: float | None = None
    rows_per_second: float | None = None
    ratio_to_read: float | None = None
    ratio_to_doc_loop: float | None = None
    compile_seconds: float | None = None
    engine_compile_seconds: float | None = None
    engine_prepare_seconds: float | None = None
    theta: list[float] | None = None
    error: float | None = None
    reference: str | None = None  # "lstsq", "gd64", "numpy-engine"
    converged: bool = False


# ---------------------------------------------------------------- data and references


def make_case(x64: np.ndarray, y64: np.ndarray, dtype: str, seed: int) -> Case:
    """Cast to ``dtype`` and compute, in float64 on the cast values, what the rows are judged by."""
    x = np.ascontiguousarray(x64, dtype=dtype)
    y = np.ascontiguousarray(y64, dtype=dtype)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    n, d = xd.shape
    x_mean, y_mean = xd.mean(axis=0), yd.mean()
    xc = xd - x_mean
    cov = xc.T @ xc / n
    w = np.linalg.solve(cov, xc.T @ (yd - y_mean) / n)
    theta = np.concatenate([[y_mean - x_mean @ w], w])
    gram = np.empty((d + 1, d + 1))
    gram[0, 0], gram[0, 1:], gram[1:, 0] = 1.0, x_mean, x_mean
    gram[1:, 1:] = cov + np.outer(x_mean, x_mean)
    zy = np.concatenate([[y_mean], xd.T @ yd / n])
    from gradstep.api import initial_params

    b0, w0 = initial_params("random", d, seed)
    return Case(n, dtype, x, y, theta, gram, zy, (b0, w0))


def make_data64(n: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The document's data at size n: ``y = 1 + 2 x + 0.1 noise`` (2 for every feature)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features))
    y = 1.0 + 2.0 * x.sum(axis=1) + 0.1 * rng.standard_normal(n)
    return x, y


def full_batch_gd64(case: Case, lr: float, epochs: int) -> np.ndarray:
    """Full-batch descent from the case's start, in float64, via the sufficient statistics.

    The MSE gradient is ``2 (G theta - E[z y])`` with ``G = E[z z^T]``, so this is the
    document's loop in exact arithmetic, rounded differently.
    """
    theta = np.concatenate([[case.init[0]], case.init[1]])
    for _ in range(int(epochs)):
        theta = theta - lr * 2.0 * (case.gram @ theta - case.zy)
    return theta


def rel_error(theta, ref) -> float:
    theta, ref = np.asarray(theta, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(theta - ref) / np.linalg.norm(ref))


# ---------------------------------------------------------------- timing


@dataclass
class Timing:
    seconds: float  # best time for `units` of work
    units: int
    repeats: int
    compile_seconds: float
    result: object


def timed(run: Callable[[int], object], units: int) -> tuple[float, object]:
    start = time.perf_counter()
    result = run(units)
    return time.perf_counter() - start, result


def scaled_timing(run, full_units: int, probe_units: int, cfg: Config, force_full=False) -> Timing:
    """Time ``run(units)``: warm up, grow the work while it is cheap, then time repeats.

    ``units`` are epochs (full batch) or rows of one epoch (mini-batch). The work grows
    fourfold from ``probe_units`` while a run takes under a tenth of the cell's budget; the
    last two sizes separate a fixed cost (a data pass, say) from the cost per unit, which
    picks the largest work that fits the budget, up to ``full_units`` (always, if forced).
    """
    budget = cfg.cell_seconds
    units = min(probe_units, full_units)
    first, _ = timed(run, units)
    seconds, result = timed(run, units)
    compile_seconds = max(0.0, first - seconds)
    previous = None
    while units < full_units and (force_full or seconds < budget / 10):
        previous = (units, seconds)
        units = full_units if force_full else min(full_units, 4 * units)
        seconds, result = timed(run, units)
    if units < full_units and previous is not None:
        # Noise (other load on the machine) can make the second run no slower than the
        # first: never assume a unit costs less than half its average in the last run.
        slope = max((seconds - previous[1]) / (units - previous[0]), 0.5 * seconds / units)
        fixed = max(previous[1] - slope * previous[0], 0.0)
        target = min(full_units, 16 * units, int((0.8 * budget - fixed) / slope))
        if target > 1.25 * units:
            units = target
            seconds, result = timed(run, units)
    best, repeats = seconds, 1
    limit = cfg.max_repeats if best > 0.01 else cfg.max_repeats_fast
    while repeats < limit and (repeats + 1) * best <= budget:
        seconds, result = timed(run, units)
        best, repeats = min(best, seconds), repeats + 1
    return Timing(best, units, repeats, compile_seconds, result)


def fill_timing(row: Row, timing: Timing, full_units: int, unit: str) -> None:
    """Time per epoch from a (possibly scaled-down) timing; say what was timed."""
    scale = full_units / timing.units
    if unit == "epochs":
        row.epochs_timed, row.rows_timed = timing.units, row.n
        row.seconds_per_epoch = timing.seconds / timing.units
        row.extrapolated = timing.units < full_units
        if row.extrapolated:
            row.note = f"{timing.units:,} of {full_units:,} epochs timed"
    else:
        row.epochs_timed, row.rows_timed = 1, timing.units
        row.seconds_per_epoch = timing.seconds * scale
        row.extrapolated = timing.units < full_units
        if row.extrapolated:
            row.note = f"1 epoch on the first {timing.units:,} rows, scaled to {full_units:,}"
    row.repeats = timing.repeats
    row.compile_seconds = timing.compile_seconds
    row.rows_per_second = row.n / row.seconds_per_epoch if row.seconds_per_epoch > 0 else None


def full_batch_reference(row: Row, case: Case, cfg: Config) -> None:
    """Converged runs against least squares; shorter ones against float64 descent, same epochs."""
    if row.epochs_timed >= EPOCHS:
        row.error, row.reference = rel_error(row.theta, case.theta_lstsq), "lstsq"
        row.converged = True
    else:
        ref = full_batch_gd64(case, cfg.lr, int(row.epochs_timed))
        row.error, row.reference = rel_error(row.theta, ref), "gd64"


# ---------------------------------------------------------------- the rows


def theta_of(b, w) -> list[float]:
    return [float(np.asarray(b).reshape(-1)[0]), *np.asarray(w, dtype=np.float64).reshape(-1)]


def read_numpy(case: Case, cfg: Config) -> Row:
    row = Row(case.n, case.dtype, "read pass, NumPy `x.sum() + y.sum()`", "read")
    x, y = case.x, case.y
    timing = scaled_timing(lambda _: x.sum() + y.sum(), 1, 1, cfg)
    fill_timing(row, timing, 1, "epochs")
    return row


def read_torch(case: Case, cfg: Config) -> Row:
    import torch

    row = Row(case.n, case.dtype, f"read pass, torch ({cfg.threads} threads)", "read")
    x, y = case.x, case.y

    def run(_):
        return torch.from_numpy(x).sum() + torch.from_numpy(y).sum()

    fill_timing(row, scaled_timing(run, 1, 1, cfg), 1, "epochs")
    return row


def doc_loop(case: Case, cfg: Config) -> Row:
    """The document's NumPy loop, written out (matrix form when d > 1)."""
    row = Row(case.n, case.dtype, "document's NumPy loop, full batch", "baseline",
              batching="full", epochs_target=EPOCHS)  # fmt: skip
    lr, (b0, w0) = cfg.lr, case.init
    one = case.x.shape[1] == 1
    x, y = (case.x[:, 0] if one else case.x), case.y

    def run(epochs):
        b, w = b0, (float(w0[0]) if one else w0.copy())
        for _ in range(epochs):
            yhat = b + w * x if one else b + x @ w
            error = yhat - y
            loss = (error**2).mean()  # noqa: F841 -- the document computes it every epoch
            b_grad = 2 * error.mean()
            w_grad = 2 * (x * error).mean() if one else 2 * (x.T @ error) / len(error)
            b -= lr * b_grad
            w -= lr * w_grad
        return theta_of(b, w)

    timing = scaled_timing(run, EPOCHS, 1, cfg)
    fill_timing(row, timing, EPOCHS, "epochs")
    row.theta = timing.result
    full_batch_reference(row, case, cfg)
    return row


def torch_full_batch(case: Case, cfg: Config) -> Row:
    """The document's PyTorch loop: tensors, autograd, ``optim.SGD``, full batch."""
    import torch

    row = Row(case.n, case.dtype, "PyTorch full batch (autograd + optim.SGD)", "baseline",
              batching="full", epochs_target=EPOCHS)  # fmt: skip
    dtype = getattr(torch, case.dtype)
    b0, w0 = case.init

    def run(epochs):
        x_t, y_t = torch.from_numpy(case.x), torch.from_numpy(case.y)[:, None]
        b = torch.tensor([b0], dtype=dtype, requires_grad=True)
        w = torch.tensor(w0[:, None], dtype=dtype, requires_grad=True)
        optimizer = torch.optim.SGD([b, w], lr=cfg.lr)
        for _ in range(epochs):
            yhat = b + w[0] * x_t if w.shape[0] == 1 else b + x_t @ w
            loss = ((yhat - y_t) ** 2).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        return theta_of(b.detach().numpy(), w.detach().numpy())

    timing = scaled_timing(run, EPOCHS, 1, cfg)
    fill_timing(row, timing, EPOCHS, "epochs")
    row.theta = timing.result
    full_batch_reference(row, case, cfg)
    return row


def dataloader_loop(case: Case, cfg: Config, force_full: bool) -> Row:
    """The book's loop: ``DataLoader(TensorDataset, 16, shuffle=True)``, ``nn.Linear``, SGD."""
    import torch
    from torch import nn

    row = Row(case.n, case.dtype, f"DataLoader + nn.Linear + SGD, batch {cfg.batch_size}",
              "baseline", batching="mini", epochs_target=1)  # fmt: skip
    dtype = getattr(torch, case.dtype)
    b0, w0 = case.init
    x_all, y_all = torch.from_numpy(case.x), torch.from_numpy(case.y)[:, None]

    def run(rows):
        model = nn.Linear(case.x.shape[1], 1, dtype=dtype)
        with torch.no_grad():
            model.weight.copy_(torch.as_tensor(w0[None, :]))
            model.bias.fill_(b0)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
        loss_fn = nn.MSELoss()
        dataset = torch.utils.data.TensorDataset(x_all[:rows], y_all[:rows])
        generator = torch.Generator().manual_seed(cfg.seed)
        loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True,
                                             generator=generator)  # fmt: skip
        losses = []
        for x_batch, y_batch in loader:
            loss = loss_fn(model(x_batch), y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        return theta_of(model.bias.detach().numpy(), model.weight.detach().numpy())

    timing = scaled_timing(run, case.n, MINI_PROBE_ROWS, cfg, force_full=force_full)
    fill_timing(row, timing, case.n, "rows")
    row.theta = timing.result
    row.error, row.reference = rel_error(row.theta, case.theta_lstsq), "lstsq"
    return row


def sklearn_linear(case: Case, cfg: Config) -> Row:
    from sklearn.linear_model import LinearRegression

    row = Row(case.n, case.dtype, "scikit-learn LinearRegression (one fit)", "sklearn",
              epochs_target=1)  # fmt: skip
    seconds, model = timed(lambda _: LinearRegression().fit(case.x, case.y), 1)
    fill_timing(row, Timing(seconds, 1, 1, 0.0, model), 1, "epochs")
    row.compile_seconds, row.note = None, "one fit, time per fit"
    row.theta = theta_of(model.intercept_, model.coef_)
    row.error, row.reference, row.converged = rel_error(row.theta, case.theta_lstsq), "lstsq", True
    return row


def sklearn_sgd(case: Case, cfg: Config) -> Row:
    from sklearn.linear_model import SGDRegressor

    row = Row(case.n, case.dtype, "scikit-learn SGDRegressor (one fit, no penalty)", "sklearn")
    model = SGDRegressor(penalty=None, random_state=cfg.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, model = timed(lambda _: model.fit(case.x, case.y), 1)
    epochs = int(model.n_iter_)
    row.epochs_target = epochs
    fill_timing(row, Timing(seconds, epochs, 1, 0.0, model), epochs, "epochs")
    row.compile_seconds = None
    row.note = f"one fit of {epochs} epochs (its own stopping rule), time per epoch"
    row.theta = theta_of(model.intercept_, model.coef_)
    row.error, row.reference = rel_error(row.theta, case.theta_lstsq), "lstsq"
    return row


# ---------------------------------------------------------------- gradstep engines


@dataclass(frozen=True)
class EngineInfo:
    name: str
    batching: tuple[str, ...]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]


def engine_catalogue() -> tuple[list[EngineInfo], str, dict[str, str]]:
    """The engines to time, where that list came from, and the expected ones that are missing."""
    try:
        registry = importlib.import_module("gradstep.engines")
    except ModuleNotFoundError:
        from gradstep.api import ENGINES

        infos = [EngineInfo(name, *LEGACY_CAPABILITIES.get(name, (("full", "mini"), ("float64",))),
                            ("cpu",)) for name in ENGINES]  # fmt: skip
        source = "gradstep.api.ENGINES (gradstep.engines does not exist in this version)"
        why = "not registered: gradstep.engines does not exist in this version"
    else:
        infos = []
        for name in registry.names():
            caps = registry.spec(name).capabilities
            infos.append(EngineInfo(name, tuple(sorted(caps.batching)), tuple(sorted(caps.dtypes)),
                                    tuple(sorted(caps.devices))))  # fmt: skip
        source = "gradstep.engines.names()"
        why = "not registered in gradstep.engines"
    known = {info.name for info in infos}
    missing = {name: why for name in EXPECTED_ENGINES if name not in known}
    return infos, source, missing


def batching_label(batching: str, batch_size: int) -> str:
    return "full batch" if batching == "full" else f"mini-batch {batch_size}"


class MiniReferences:
    """The plain ``numpy`` engine's parameters after one mini-batch epoch, per (case, rows)."""

    def __init__(self, cfg: Config):
        self.cfg, self.cache = cfg, {}

    def get(self, case: Case, rows: int) -> np.ndarray | None:
        key = (case.n, case.dtype, rows)
        if key not in self.cache:
            import gradstep

            try:
                x64 = case.x[:rows].astype(np.float64)
                result = gradstep.fit(x64, case.y[:rows], lr=self.cfg.lr, epochs=1,
                                      batch_size=self.cfg.batch_size, init=case.init,
                                      seed=self.cfg.seed, engine="numpy")  # fmt: skip
                self.cache[key] = np.array(theta_of(result.intercept, result.coef))
            except Exception:  # noqa: BLE001 -- no reference: the row shows no error
                self.cache[key] = None
        return self.cache[key]


def engine_row(case: Case, cfg: Config, info: EngineInfo, batching: str, refs: MiniReferences,
               force_full: bool = False) -> Row:  # fmt: skip
    import gradstep

    label = f"gradstep `{info.name}`, {batching_label(batching, cfg.batch_size)}"
    dtype = None if info.name == "auto" else case.dtype
    if info.name != "auto" and case.dtype not in info.dtypes:
        # the engine reads the data as it is and computes (sums) in its own dtype
        dtype = None
        label += f" (sums in {', '.join(info.dtypes)})"
    row = Row(case.n, case.dtype, label, "engine", engine=info.name, batching=batching,
              epochs_target=EPOCHS if batching == "full" else 1)  # fmt: skip
    common = dict(lr=cfg.lr, init=case.init, seed=cfg.seed, engine=info.name, device="cpu",
                  dtype=dtype)  # fmt: skip
    if batching == "full":

        def run(epochs):
            return gradstep.fit(case.x, case.y, epochs=epochs, batch_size=None, **common)

        full_units, probe, unit = EPOCHS, 1, "epochs"
    else:

        def run(rows):
            return gradstep.fit(case.x[:rows], case.y[:rows], epochs=1,
                                batch_size=cfg.batch_size, **common)  # fmt: skip

        full_units, probe, unit = case.n, MINI_PROBE_ROWS, "rows"
    try:
        timing = scaled_timing(run, full_units, probe, cfg, force_full=force_full)
    except Exception as exc:  # noqa: BLE001 -- a missing or failing engine is a row, not a crash
        row.available, row.reason = False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return row
    fill_timing(row, timing, full_units, unit)
    result = timing.result
    row.engine_ran = getattr(result, "engine", info.name)
    extra = getattr(result, "extra", {}) or {}
    row.engine_compile_seconds = extra.get("compile_seconds")
    row.engine_prepare_seconds = extra.get("prepare_seconds")
    row.theta = theta_of(result.intercept, result.coef)
    if batching == "full":
        full_batch_reference(row, case, cfg)
    elif row.engine_ran != "numpy" or case.dtype != "float64":
        ref = refs.get(case, row.rows_timed)
        if ref is not None:
            row.error, row.reference = rel_error(row.theta, ref), "numpy-engine"
    return row


# ---------------------------------------------------------------- one run


def machine_info(cfg: Config) -> dict:
    import numpy
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    info = {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "torch_threads": cfg.threads,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
    }
    for name in ("sklearn", "numba"):
        try:
            info[name] = importlib.import_module(name).__version__
        except ImportError:
            info[name] = None
    return info


def plan(cfg: Config, engines: list[EngineInfo]) -> list[tuple[str, object]]:
    """The rows of one (N, dtype): (kind, what) pairs, in table order."""
    rows = [("read_numpy", None), ("read_torch", None), ("doc_loop", None), ("torch_full", None),
            ("dataloader", None)]  # fmt: skip
    for info in engines:
        rows += [("engine", (info, b)) for b in ("full", "mini") if b in info.batching]
    auto = EngineInfo("auto", ("full", "mini"), (), ("cpu",))
    rows += [("engine", (auto, "full")), ("engine", (auto, "mini"))]
    return rows + [("sklearn_linear", None), ("sklearn_sgd", None)]


def run_cell(kind: str, what, case: Case, cfg: Config, refs: MiniReferences) -> Row:
    headline_b = case.n == headline_b_size(cfg)
    if kind == "read_numpy":
        return read_numpy(case, cfg)
    if kind == "read_torch":
        return read_torch(case, cfg)
    if kind == "doc_loop":
        return doc_loop(case, cfg)
    if kind == "torch_full":
        return torch_full_batch(case, cfg)
    if kind == "dataloader":
        return dataloader_loop(case, cfg, force_full=headline_b)
    if kind == "sklearn_linear":
        return sklearn_linear(case, cfg)
    if kind == "sklearn_sgd":
        return sklearn_sgd(case, cfg)
    info, batching = what
    force = headline_b and batching == "mini" and info.name in ("compiled", "numpy")
    return engine_row(case, cfg, info, batching, refs, force_full=force)


def add_ratios(rows: list[Row]) -> None:
    read = next((r for r in rows if r.group == "read" and r.label.startswith("read pass, NumPy")),
                None)  # fmt: skip
    doc = next((r for r in rows if r.label.startswith("document's NumPy loop")), None)
    for row in rows:
        if row.seconds_per_epoch is None:
            continue
        if read is not None and read.seconds_per_epoch:
            row.ratio_to_read = row.seconds_per_epoch / read.seconds_per_epoch
        if doc is not None and doc.seconds_per_epoch:
            row.ratio_to_doc_loop = row.seconds_per_epoch / doc.seconds_per_epoch


def run(cfg: Config, progress: Callable[[str], None] | None = None) -> dict:
    """Run the whole benchmark; return a JSON-ready document (machine, config, rows, headlines)."""
    import torch

    start = time.perf_counter()
    say = progress or (lambda _: None)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        engines, source, missing = engine_catalogue()
        cells = plan(cfg, engines)
        refs = MiniReferences(cfg)
        rows: list[Row] = []
        total, done = len(cfg.sizes) * len(cfg.dtypes) * len(cells), 0
        for n in cfg.sizes:
            x64, y64 = make_data64(n, cfg.features, cfg.seed)
            for dtype in cfg.dtypes:
                case = make_case(x64, y64, dtype, cfg.seed)
                case_rows = []
                for kind, what in cells:
                    done += 1
                    name = what[0].name + " " + what[1] if what else kind
                    say(f"[{done}/{total}] N={n:,} {dtype} {name} "
                        f"(elapsed {time.perf_counter() - start:.0f} s)")  # fmt: skip
                    case_rows.append(run_cell(kind, what, case, cfg, refs))
                add_ratios(case_rows)
                rows += case_rows
                del case
            del x64, y64
        document = {
            "benchmark": "engines",
            "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(cfg),
            "config": {**asdict(cfg), "epochs_full_batch": EPOCHS},
            "engines": {
                "source": source,
                "timed": [e.name for e in engines],
                "not_available": missing,
            },  # fmt: skip
            "rows": [asdict(r) for r in rows],
        }
        document["headlines"] = headlines(rows, cfg)
        document["elapsed_seconds"] = time.perf_counter() - start
        return document
    finally:
        torch.set_num_threads(previous_threads)


# ---------------------------------------------------------------- headline checks


def headline_b_size(cfg: Config) -> int:
    """N for check (b): 10^5, else the size closest to it."""
    return min(cfg.sizes, key=lambda n: (abs(math.log(n / HEADLINE_B["n"])), -n))


def find(rows: list[Row], n: int, dtype: str, label_start: str) -> Row | None:
    for row in rows:
        if row.n == n and row.dtype == dtype and row.label.startswith(label_start):
            return row
    return None


def headline_a(rows: list[Row], cfg: Config) -> dict:
    n = HEADLINE_A["n"] if HEADLINE_A["n"] in cfg.sizes else max(cfg.sizes)
    dtype = HEADLINE_A["dtype"] if HEADLINE_A["dtype"] in cfg.dtypes else cfg.dtypes[0]
    out = {"n": n, "dtype": dtype, "epochs": EPOCHS,
           "indicative": (n, dtype) != (HEADLINE_A["n"], HEADLINE_A["dtype"])}  # fmt: skip
    auto = find(rows, n, dtype, "gradstep `auto`, full batch")
    read = find(rows, n, dtype, "read pass, NumPy")
    doc = find(rows, n, dtype, "document's NumPy loop")
    if auto is None or not auto.available or read is None or doc is None:
        reason = auto.reason if auto is not None else "no auto row"
        return {**out, "pass": None, "reason": f"engine='auto' not available: {reason}"}
    total = auto.seconds_per_epoch * EPOCHS
    doc_total = doc.seconds_per_epoch * EPOCHS
    read_ratio = total / read.seconds_per_epoch
    speedup = doc_total / total
    return {**out, "engine_ran": auto.engine_ran, "auto_total_seconds": total,
            "auto_extrapolated": auto.extrapolated, "read_pass_seconds": read.seconds_per_epoch,
            "read_ratio": read_ratio, "doc_loop_seconds": doc_total,
            "doc_loop_extrapolated": doc.extrapolated, "speedup_vs_doc_loop": speedup,
            "pass": bool(read_ratio <= HEADLINE_A["max_read_ratio"]
                         and speedup >= HEADLINE_A["min_speedup"])}  # fmt: skip


def headline_b(rows: list[Row], cfg: Config) -> dict:
    n = headline_b_size(cfg)
    out = {"n": n, "batch_size": cfg.batch_size, "indicative": n != HEADLINE_B["n"]}
    ratios, why = {}, "no compiled engine"
    for dtype in cfg.dtypes:
        ours = find(rows, n, dtype, "gradstep `compiled`, mini-batch")
        loader = find(rows, n, dtype, "DataLoader")
        if ours is None or not ours.available or loader is None:
            why = ours.reason if ours is not None else why
            continue
        ratios[dtype] = ours.rows_per_second / loader.rows_per_second
        out[f"rows_per_second_{dtype}"] = {"compiled": ours.rows_per_second,
                                          "dataloader": loader.rows_per_second}  # fmt: skip
    if not ratios:
        return {**out, "pass": None, "reason": f"compiled engine not available: {why}"}
    out["rows_ratio"] = ratios
    equal = None
    ours64 = find(rows, n, "float64", "gradstep `compiled`, mini-batch")
    numpy64 = find(rows, n, "float64", "gradstep `numpy`, mini-batch")
    thetas = [r.theta if r is not None else None for r in (ours64, numpy64)]
    full_epochs = None not in thetas
    if full_epochs and ours64.rows_timed == numpy64.rows_timed == n:
        out["param_rel_diff_float64"] = rel_error(ours64.theta, numpy64.theta)
        equal = out["param_rel_diff_float64"] <= HEADLINE_B["rel_tol"]
    out["params_equal"] = equal
    out["pass"] = bool(min(ratios.values()) >= HEADLINE_B["min_rows_ratio"] and equal)
    return out


def headlines(rows: list[Row], cfg: Config) -> dict:
    return {"a": headline_a(rows, cfg), "b": headline_b(rows, cfg)}


# ---------------------------------------------------------------- Markdown


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}x" if value >= 0.01 else f"1/{1 / value:,.0f}"


def fmt_rate(value: float | None) -> str:
    if value is None:
        return ""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def fmt_epochs(row: Row) -> str:
    if row.epochs_timed is None:
        return ""
    text = f"{row.epochs_timed:,}"
    if row.rows_timed is not None and row.rows_timed < row.n:
        text += f" on {row.rows_timed:,} rows"
    if row.extrapolated:
        text += " (extrap.)"
    return text


def fmt_error(row: Row) -> str:
    if row.error is None:
        return "(reference)" if row.engine_ran == "numpy" and row.batching == "mini" else ""
    ref = {"lstsq": "lstsq", "gd64": "gd64", "numpy-engine": "numpy eng."}[row.reference]
    return f"{row.error:.1e} ({ref}{'' if row.converged or ref != 'lstsq' else ', not conv.'})"


def fmt_compile(row: Row) -> str:
    parts = []
    if row.compile_seconds is not None and row.compile_seconds >= 1e-3:
        parts.append(fmt_seconds(row.compile_seconds))
    if row.engine_compile_seconds:
        parts.append(f"engine says {fmt_seconds(row.engine_compile_seconds)}")
    return "; ".join(parts)


def row_label(row: Row) -> str:
    if row.engine == "auto" and row.engine_ran:
        return f"{row.label} → `{row.engine_ran}`"
    return row.label


TABLE_HEAD = (
    "| what | dtype | epochs timed | time / epoch | rows/s | vs read pass | vs document's loop "
    "| compile (first − steady) | rel. error of θ (reference) |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---|"
)


def table_line(row: Row) -> str:
    if not row.available:
        return f"| {row_label(row)} | {row.dtype} | not available: {row.reason} | | | | | | |"
    cells = [row_label(row), row.dtype, fmt_epochs(row), fmt_seconds(row.seconds_per_epoch),
             fmt_rate(row.rows_per_second), fmt_ratio(row.ratio_to_read),
             fmt_ratio(row.ratio_to_doc_loop), fmt_compile(row), fmt_error(row)]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def headline_lines(heads: dict) -> list[str]:
    a, b = heads["a"], heads["b"]
    mark = {True: "PASS", False: "FAIL", None: "NOT EVALUATED"}
    where_a = f"N={a['n']:,}, {a['dtype']}" + (" (indicative: the check is for N=10^7, float32)"
                                                if a["indicative"] else "")  # fmt: skip
    if a["pass"] is None:
        line_a = f"**(a) {mark[None]}** — full batch, {EPOCHS} epochs, {where_a}: {a['reason']}."
    else:
        line_a = (
            f"**(a) {mark[a['pass']]}** — full batch, {EPOCHS} epochs, {where_a}: "
            f'`engine="auto"` (ran `{a["engine_ran"]}`) took '
            f"{fmt_seconds(a['auto_total_seconds'])} in all"
            f"{' (extrapolated)' if a['auto_extrapolated'] else ''}, "
            f"{a['read_ratio']:.2f}x one NumPy read pass ({fmt_seconds(a['read_pass_seconds'])}; "
            f"target ≤ {HEADLINE_A['max_read_ratio']}x), and {a['speedup_vs_doc_loop']:,.0f}x "
            f"faster than the document's loop for {EPOCHS} epochs "
            f"({fmt_seconds(a['doc_loop_seconds'])}"
            f"{', extrapolated' if a['doc_loop_extrapolated'] else ''}; "
            f"target ≥ {HEADLINE_A['min_speedup']:,.0f}x)."
        )
    where_b = f"N={b['n']:,}" + (
        " (indicative: the check is for N=10^5)" if b["indicative"] else ""
    )
    if b["pass"] is None and "rows_ratio" not in b:
        line_b = f"**(b) {mark[None]}** — mini-batch {b['batch_size']}, {where_b}: {b['reason']}."
    else:
        ratios = ", ".join(f"{d}: {r:,.0f}x" for d, r in b["rows_ratio"].items())
        diff = b.get("param_rel_diff_float64")
        line_b = (
            f"**(b) {mark[b['pass']]}** — mini-batch {b['batch_size']}, one epoch, {where_b}: "
            f"`compiled` rows/s over the DataLoader loop's (shuffle included) {ratios} "
            f"(target ≥ {HEADLINE_B['min_rows_ratio']:,.0f}x); parameters vs the `numpy` engine, "
            f"same seed, float64: rel. diff "
            f"{'n/a' if diff is None else f'{diff:.1e}'} (target ≤ {HEADLINE_B['rel_tol']:.0e})."
        )
    return [line_a, "", line_b]


def to_markdown(document: dict) -> str:
    m, cfg = document["machine"], document["config"]
    rows = [Row(**r) for r in document["rows"]]
    lines = [
        "## Engines: every way to fit the line, side by side (benchmarks/bench_engines.py)",
        "",
        f"{m['cpu_model']}, {m['cpu_count']} CPUs; torch {m['torch']} with "
        f"{m['torch_threads']} threads, NumPy {m['numpy']}, scikit-learn {m['sklearn']}, "
        f"numba {m['numba'] or 'not installed'}; {document['when']}; "
        f"{document['elapsed_seconds']:.0f} s in all{' (--quick)' if cfg['quick'] else ''}.",
        "",
        f"Data: y = 1 + 2x + 0.1·noise, x uniform on [0, 1), d = {cfg['features']}; lr = "
        f"{cfg['lr']}, start (b, w) = the document's seeded randn; full batch: {EPOCHS} epochs; "
        f"mini-batch {cfg['batch_size']}: one epoch, shuffle included. Time per epoch: best of "
        f"up to {cfg['max_repeats']} repeats within ~{cfg['cell_seconds']} s per cell. "
        '"(extrap.)": the budget allowed fewer epochs, or one epoch on the first rows only, '
        "and the time per epoch is scaled linearly. Reference of the error: lstsq = least "
        'squares in float64 on the same data (runs of 1000 epochs; "not conv.": stochastic '
        "runs that stop short of it); gd64 = float64 full-batch descent for the same epochs; "
        "numpy eng. = the plain `numpy` engine on the same rows with the same seed (same "
        f"batches). Engines from {document['engines']['source']}.",
        "",
        *headline_lines(document["headlines"]),
        "",
    ]
    missing = document["engines"]["not_available"]
    if missing:
        lines += ["Not available: " + "; ".join(f"`{k}` ({v})" for k, v in missing.items()), ""]
    for n in cfg["sizes"]:
        lines += [f"### N = {n:,}", "", TABLE_HEAD]
        lines += [table_line(r) for r in rows if r.n == n]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
