r"""``gradstep.race``: several optimizers run from the same start on the same data, for
``gradstep.plots.optimizers.race_figure`` and the report to draw.

Each racer is one :func:`gradstep.fit` with its optimizer and learning rate, and all the
other settings shared (start, epochs, batches, ``tol``): its path *is* that fit's
history. A racer that diverges is kept, not raised: its path up to the last finite epoch
(the same fit, run again for the epochs before the one that diverged) and the epoch it
diverged at. Racing computes; the figure and the report only draw what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gradstep.errors import DivergenceError, GradstepError
from gradstep.quadratic import QuadraticLoss
from gradstep.result import FitResult


@dataclass
class Racer:
    """One optimizer's descent.

    ``theta`` is ``(b, w_0, ...)`` at the start and after each epoch run, ``(k + 1, d + 1)``;
    ``reason`` is ``"tol"`` (certified within ``tol`` of least squares after ``epochs_run``
    epochs), ``"epochs"`` (the cap) or ``"diverged"`` (at epoch ``diverged_at``; ``theta``
    ends at the last finite epoch, ``message`` says what became non-finite).
    """

    label: str
    optimizer: dict
    lr: float
    theta: np.ndarray
    reason: str
    diverged_at: int | None = None
    message: str | None = None
    result: FitResult | None = field(default=None, repr=False)

    @property
    def epochs_run(self) -> int:
        return self.theta.shape[0] - 1

    @property
    def outcome(self) -> str:
        """How the racer ended, in a few words."""
        if self.reason == "diverged":
            return f"diverged at epoch {self.diverged_at}"
        if self.reason == "tol":
            return f"certified at epoch {self.epochs_run}"
        return f"not certified in {self.epochs_run} epochs"


@dataclass
class Race:
    """The racers and what they share: the training loss ``quadratic``, the settings."""

    quadratic: QuadraticLoss
    racers: list[Racer]
    epochs: int
    tol: float | None
    batch_size: int | None

    @property
    def start(self) -> np.ndarray:
        return self.racers[0].theta[0]

    def excess(self, racer: Racer) -> np.ndarray:
        """``L(theta) - L*`` after each epoch of ``racer`` (``delta^T G delta``: exact near
        the minimum, never below 0)."""
        q = self.quadratic
        delta = racer.theta[1:] - np.r_[q.minimum()[0], q.minimum()[1]]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.maximum(np.einsum("ki,ij,kj->k", delta, q.gram, delta), 0.0)

    def most_moved(self) -> tuple[int, int]:
        """The two coordinates of theta the racers moved most (summed over racers that did
        not diverge, or all when every one did): the slice a figure shows for d > 1."""
        from gradstep.report.slices import most_moved

        kept = [r for r in self.racers if r.reason != "diverged"] or self.racers
        moved = sum(np.abs(r.theta[-1] - r.theta[0]) for r in kept)
        return most_moved(np.zeros_like(moved), moved)


def race(
    x,
    y,
    optimizers: Sequence = ("sgd", "momentum", "adam"),
    lr: float | Sequence[float] = 0.1,
    epochs: int = 300,
    tol: float | None = 1e-8,
    batch_size: int | None = None,
    init="random",
    seed: int = 42,
    engine: str = "auto",
) -> Race:
    """Run each optimizer from the same start for at most ``epochs`` epochs.

    Parameters
    ----------
    x, y : the training data, as for :func:`gradstep.fit`.
    optimizers : names or specs (``{"name": "adam", "betas": (0.9, 0.99)}``) as ``fit``'s
        ``optimizer``; the same one may race twice at different rates.
    lr : one learning rate for all, or one per optimizer.
    epochs, tol, batch_size, init, seed, engine : as for ``fit``, shared by every racer
        (``init`` is drawn once; ``tol`` certifies where each stops).

    Returns a :class:`Race`; racer ``i`` is ``fit(x, y, lr=lr[i], optimizer=optimizers[i],
    ...)`` with its parameters after every epoch, or, if that diverges, the epochs before.
    """
    from gradstep.api import fit, initial_params
    from gradstep.data import as_xy
    from gradstep.engines.optimizers import resolve

    specs, rates = _racers(optimizers, lr)
    x_arr, y_arr = as_xy(x, y, "training")
    start = initial_params(init, x_arr.shape[1], seed)
    shared = {"batch_size": batch_size, "init": start, "seed": seed, "tol": tol,
              "engine": engine}  # fmt: skip
    resolved = [resolve(spec) for spec in specs]
    labels = _labels(resolved, rates)
    racers = []
    for label, opt, rate in zip(labels, resolved, rates, strict=True):
        racers.append(_run(fit, x_arr, y_arr, label, opt, rate, epochs, start, shared))
    quadratic = QuadraticLoss.from_data(x_arr, y_arr)
    return Race(quadratic, racers, int(epochs), tol, batch_size)


def _run(fit, x, y, label, opt, rate, epochs, start, shared) -> Racer:
    theta0 = np.r_[start[0], start[1]]
    config = opt.config()
    try:
        result = fit(x, y, lr=rate, epochs=epochs, optimizer=opt, **shared)
    except DivergenceError as exc:
        if exc.epoch is None:
            raise
        kept = exc.epoch - 1
        result = fit(x, y, lr=rate, epochs=kept, optimizer=opt, **shared) if kept else None
        theta = _theta(theta0, result)
        return Racer(label, config, float(rate), theta, "diverged", exc.epoch, str(exc), result)
    reason = "tol" if result.history.converged else "epochs"
    return Racer(label, config, float(rate), _theta(theta0, result), reason, result=result)


def _theta(theta0: np.ndarray, result: FitResult | None) -> np.ndarray:
    if result is None:
        return theta0[None, :].copy()
    hist = result.history
    return np.vstack([theta0, np.column_stack([hist.b, hist.w])])


def _labels(optimizers, rates) -> list[str]:
    """``"adam, lr 0.1"``; a name and rate raced twice get ``#2``, ``#3``."""
    labels, seen = [], {}
    for opt, rate in zip(optimizers, rates, strict=True):
        label = f"{opt.name}, lr {rate:g}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return labels


# -- the race from a quadratic form alone (a run folder's quadratic.json) -------------------
def moments_from_quadratic(q: QuadraticLoss):
    r"""The centred :class:`~gradstep.moments.Moments` of the data behind ``q``:
    :math:`\mu = G_{0,1:}`, :math:`S_{xx} = G_{1:,1:} - \mu\mu^\top`, :math:`s_{xy} =
    c_{1:} - \mu \bar y`, :math:`s_{yy} = s - \bar y^2` (the inverse of
    :meth:`QuadraticLoss.from_moments`; exact up to the cancellation of those differences)."""
    from gradstep.moments import Moments

    mean_x, mean_y = q.gram[0, 1:].copy(), float(q.xty[0])
    return Moments(
        n=int(q.n), mean_x=mean_x, mean_y=mean_y,
        sxx=q.gram[1:, 1:] - np.outer(mean_x, mean_x),
        sxy=q.xty[1:] - mean_x * mean_y, syy=max(float(q.yty) - mean_y**2, 0.0),
    )  # fmt: skip


def race_from_quadratic(
    q: QuadraticLoss,
    start,
    optimizers: Sequence = ("sgd", "momentum", "nesterov", "rmsprop", "adam"),
    lr: float | Sequence[float] = 0.1,
    epochs: int = 300,
    tol: float | None = 1e-8,
) -> Race:
    r"""The full-batch race of :func:`race`, from the loss's quadratic form alone.

    A run folder keeps no data rows, only ``quadratic.json``; the full-batch gradient is
    :math:`2(G\theta - c)` whatever the rows were, so each racer's iterates are those of
    ``gradstep.fit(x, y, optimizer=..., init=start, batch_size=None)`` on the rows behind
    ``q`` (the same gradient summed in another order: about 1e-15 relative an epoch). The
    update is :mod:`gradstep.engines.optimizers`' own; ``tol`` is certified as ``fit``
    certifies it (:class:`gradstep.policies.Certificate`, from the moments of ``q``); a racer
    whose loss or parameters stop being finite is kept up to the epoch before, as in
    :func:`race`. ``start`` is the full ``theta = (b, w_0, ...)``.
    """
    from gradstep.engines.optimizers import resolve
    from gradstep.policies import Certificate

    specs, rates = _racers(optimizers, lr)
    theta0 = np.asarray(start, dtype=np.float64).reshape(-1)
    if theta0.size != q.d + 1 or not np.isfinite(theta0).all():
        raise GradstepError(
            f"start has {theta0.size} value(s); it must be {q.d + 1} finite numbers (b, w_0, ...)"
        )
    certificate = Certificate(moments_from_quadratic(q)) if tol is not None else None
    resolved = [resolve(spec) for spec in specs]
    racers = [
        _run_quadratic(q, label, opt, float(rate), int(epochs), theta0, tol, certificate)
        for label, opt, rate in zip(_labels(resolved, rates), resolved, rates, strict=True)
    ]
    return Race(q, racers, int(epochs), tol, None)


def _run_quadratic(q, label, opt, rate, epochs, theta0, tol, certificate) -> Racer:
    gram, xty = q.gram, q.xty
    certify = certificate is not None and certificate.certifiable
    theta = theta0.copy()
    state = opt.init_state(q.d)
    path = [theta.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        grad = 2.0 * (gram @ theta - xty)
        for epoch in range(1, epochs + 1):
            # the plain loop's checks: the loss before the update (a mean of n squares,
            # infinite once their sum overflows), the parameters after it
            loss = float(theta @ (gram @ theta) - 2.0 * theta @ xty + q.yty)
            if not np.isfinite(loss * q.n) or not np.isfinite(grad).all():
                loss = loss if not np.isfinite(loss) else np.inf
                return _diverged_racer(label, opt, rate, path, epoch, "the loss", loss)
            if opt.stateful:
                opt.step(theta, grad, state, rate)
            else:
                theta -= rate * grad
            if not np.isfinite(theta).all():
                return _diverged_racer(label, opt, rate, path, epoch, "a parameter", None)
            path.append(theta.copy())
            grad = 2.0 * (gram @ theta - xty)
            if certify and _bound(grad, theta, certificate) <= tol:
                return Racer(label, opt.config(), rate, np.array(path), "tol")
    return Racer(label, opt.config(), rate, np.array(path), "epochs")


def _bound(grad: np.ndarray, theta: np.ndarray, certificate) -> float:
    """:meth:`Certificate.relative_bound` from a gradient already computed."""
    active = np.r_[True, certificate.active]
    norm = float(np.sqrt(np.sum(grad[active] ** 2)))
    return norm / certificate.lambda_min / max(1.0, float(np.max(np.abs(theta))))


def _diverged_racer(label, opt, rate, path, epoch, what, value) -> Racer:
    from gradstep.steps import divergence_error

    message = str(divergence_error(what, "non-finite" if value is None else value, epoch, 1, rate))
    return Racer(label, opt.config(), rate, np.array(path), "diverged", epoch, message)


def _racers(optimizers, lr) -> tuple[list, list]:
    """``(specs, rates)``: one optimizer spec and one learning rate per racer."""
    specs = [optimizers] if isinstance(optimizers, str) else list(optimizers)
    if not specs:
        raise GradstepError("optimizers is empty; pass at least one, e.g. ['sgd', 'adam']")
    rates = [lr] * len(specs) if isinstance(lr, int | float) else list(lr)
    if len(rates) != len(specs):
        raise GradstepError(
            f"lr gives {len(rates)} rate(s) for {len(specs)} optimizer(s); pass one number, "
            "or one per optimizer"
        )
    return specs, rates
