"""The one loop driver: every descent — ``gradstep.fit``, ``GDRegressor``, ``gradstep
train`` — is an engine continued chunk after chunk by :func:`descend`.

Between chunks the driver applies the stopping rules of :mod:`gradstep.policies`
to what the engine returned (the certified ``tol`` and patience on a loss), cuts
the history at the first epoch that meets one, and reports progress. Engines only
compute; since the batches of epoch ``k`` depend only on ``(seed, k)``, a chunk cut
short and a run resumed later both continue exactly. A stateful optimizer's state is
carried from chunk to chunk; at a cut the chunk is replayed up to the cut for the state
there (:mod:`gradstep.engines.base` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradstep.engines.base import Engine
from gradstep.policies import Certificate, Patience
from gradstep.result import History

# A chunk is long enough to amortise the call (MIN_CALL_WORK rows touched), at most a
# quarter of the epochs done so far (so a rule met mid-chunk wastes little), and at
# most MAX_CHUNK epochs.
MIN_CALL_WORK = 1_000_000
MAX_CHUNK = 10_000


@dataclass(frozen=True)
class Rules:
    """When to stop before the epoch cap.

    ``tol``: the certified accuracy of :class:`~gradstep.policies.Certificate`.
    ``patience``: epochs without a new best of the monitored loss; ``monitor`` is
    ``"val_loss"`` (the validation loss) or ``"full_loss"`` (the exact training loss
    at the end of each epoch, from the certificate's statistics — steadier than the
    mean of the mini-batch losses).
    """

    tol: float | None = None
    patience: int | None = None
    monitor: str = "val_loss"


@dataclass
class Outcome:
    """The new epochs' ``history`` and why the descent stopped.

    ``reason``: ``"tol"`` (certified), ``"patience"`` or ``"epochs"`` (the cap).
    ``converged``: whether ``tol`` was certified (None without ``tol``). ``bound``:
    the last certified relative distance to least squares (None without a certificate).
    ``best_epoch``: the epoch (1-based, counting from the run's start) with the best
    monitored loss, when patience is used. ``state``: the optimizer state after the last
    epoch kept (None for plain SGD), to continue from.
    """

    history: History
    reason: str
    converged: bool | None
    bound: float | None = None
    best_epoch: int | None = None
    state: dict | None = None


def chunk_epochs(done: int, remaining: int, epoch_work: int) -> int:
    low = max(1, MIN_CALL_WORK // max(1, epoch_work))
    return int(min(remaining, MAX_CHUNK, max(low, done // 4)))


def descend(
    engine: Engine,
    b: float,
    w: np.ndarray,
    *,
    start_epoch: int,
    epochs: int,
    rules: Rules = Rules(),
    certificate: Certificate | None = None,
    patience: Patience | None = None,
    progress: Callable[[int, int, float, float | None], None] | None = None,
    state: dict | None = None,
) -> Outcome:
    """Run ``engine`` from ``(b, w)`` (and the optimizer ``state``, None: a fresh one) after
    ``start_epoch`` epochs, for at most ``epochs``.

    ``patience`` may be a :class:`Patience` already fed with earlier epochs (a resumed
    run); otherwise one is made from ``rules.patience``. ``progress(done, epochs,
    train_loss, bound)`` is called after every chunk.
    """
    if rules.tol is not None and certificate is None:
        raise ValueError("rules.tol needs a certificate")
    if patience is None and rules.patience is not None:
        patience = Patience(rules.patience)
    epoch_work = _epoch_work(engine)
    chunks: list[History] = []
    done, reason, bound = 0, "epochs", None
    while done < epochs:
        size = chunk_epochs(done, epochs - done, epoch_work)
        chunk = engine.run(b, w, start_epoch + done, size, state)
        stop, reason = _first_stop(chunk, rules, certificate, patience)
        if stop is not None and stop + 1 < chunk.epochs:
            chunk = chunk.head(stop + 1)
            if engine.state is not None:  # the state at the cut: replay up to it
                engine.run(b, w, start_epoch + done, stop + 1, state)
        state = engine.state
        if certificate is not None:
            bound = float(certificate.relative_bound(chunk.b[-1:], chunk.w[-1:])[0])
        chunks.append(chunk)
        done += chunk.epochs
        b, w = float(chunk.b[-1]), chunk.w[-1].copy()
        if progress is not None:
            progress(done, epochs, float(chunk.train_loss[-1]), bound)
        if stop is not None:
            break
    history = History.concat(chunks)
    converged = None if rules.tol is None else reason == "tol"
    history.converged = converged
    best = None
    if patience is not None and patience.best_epoch_index is not None:
        best = patience.best_epoch_index + 1
    return Outcome(history, reason, converged, bound, best, state)


def _epoch_work(engine: Engine) -> int:
    data = engine.data
    if getattr(engine, "moments", None) is not None:
        return data.d * data.d + 1
    return data.n * data.d


def _first_stop(chunk: History, rules: Rules, certificate, patience) -> tuple[int | None, str]:
    """``(index, reason)`` of the first epoch in ``chunk`` that meets a rule.

    Patience sees only the epochs up to a certified stop, so its best epoch is
    always one the history keeps; a tie goes to ``tol`` (the run converged).
    """
    at_tol = None
    if rules.tol is not None and certificate.certifiable:
        at_tol = certificate.first_met(chunk.b, chunk.w, rules.tol)
    at_patience = None
    if patience is not None:
        seen = chunk if at_tol is None else chunk.head(at_tol + 1)
        at_patience = patience.first_stop(_monitored(seen, rules.monitor, certificate))
    if at_patience is not None and (at_tol is None or at_patience < at_tol):
        return at_patience, "patience"
    if at_tol is not None:
        return at_tol, "tol"
    return None, "epochs"


def _monitored(chunk: History, monitor: str, certificate) -> np.ndarray:
    if monitor == "val_loss" and chunk.val_loss is not None:
        return chunk.val_loss
    if monitor == "full_loss" and certificate is not None:
        return certificate.moments.loss(chunk.b, chunk.w)
    raise ValueError(f"cannot monitor {monitor!r} here")
