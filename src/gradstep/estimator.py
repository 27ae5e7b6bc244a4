r"""``GDRegressor``: linear regression by gradient descent, as a scikit-learn estimator.

It runs :func:`gradstep.fit` (any engine) on standardised data and reports the
model in the original units. The defaults are meant to behave like
``LinearRegression`` on an ordinary, unscaled table:

* **Standardisation** (``standardize=True``): the columns of ``X`` *and* the target
  are centred and scaled (:class:`gradstep.policies.Scaler`) before the descent, so
  the step size and the tolerance do not depend on the units; a constant column
  gets coefficient 0.
* **Step size** (``lr="auto"``), **stopping** (``tol``, a certified accuracy) and
  **patience**: the shared rules of :mod:`gradstep.policies`, the same as
  ``gradstep.fit`` and ``gradstep train``. With mini-batches constant-step descent
  hovers around the answer and cannot certify a small ``tol``, so it also stops
  when the exact training loss has not reached a new best for ``n_iter_no_change``
  epochs. ``max_iter`` caps the epochs; reaching it issues a ``ConvergenceWarning``.
* **Engine** (``engine="auto"``): the fastest exact engine (``gradstep.engines``);
  ``engine_`` says which ran.

Measured with full batch and ``tol=1e-6`` (the default is now 1e-8;
``tests/test_estimator.py`` checks the first three), the relative error
``|(b, w) - (b*, w*)| / |(b*, w*)|`` against ``numpy.linalg.lstsq``:

========================================================  =====  ======  =======
data (rows x columns)                                     kappa  epochs  error
========================================================  =====  ======  =======
diabetes (442 x 10)                                       470    4,464   4.9e-07
make_regression (200 x 8), columns x1e-3..1e3, shifted    1.7    12      5.3e-09
five features correlated at 0.99 (300 x 5)                620    4,910   6.8e-07
make_regression (2000 x 50), x1e-3..1e3, y x1e5 + 3e6     1.9    13      8.7e-09
target of size 1e-8 (500 x 3)                             1.1    6       1.2e-06
weak signal, R^2 = 0.01 (400 x 6)                         1.2    7       1.0e-07
========================================================  =====  ======  =======

Two columns equal up to noise of 1e-7 (:math:`\kappa = 3.7 \times 10^{14}`) are beyond
any fixed-step descent: it runs to ``max_iter`` and warns, yet its R^2 equals that of
least squares to 1e-13, because the cap on the step settles the well-determined
directions.

Mini-batches stop at the noise of constant-step SGD: with ``batch_size=32``,
diabetes stops after 14 epochs at R^2 0.512 (least squares: 0.518), its poorly
determined coefficients still far from the least-squares ones.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from gradstep.api import check_hyperparams
from gradstep.drive import Rules, descend
from gradstep.engines import Data, Settings, prepare
from gradstep.engines.optimizers import resolve as resolve_optimizer
from gradstep.errors import GradstepError
from gradstep.moments import Moments
from gradstep.policies import (
    DEFAULT_TOL,
    Certificate,
    Scaler,
    auto_lr,
    largest_row_curvature,
)
from gradstep.progress import DescentBar
from gradstep.result import History


@dataclass
class _Problem:
    """One call's data in the internal units, and what the descent needs from it."""

    scaler: Scaler
    z: np.ndarray
    y: np.ndarray
    moments: Moments  # of (z, y)
    validation: tuple[np.ndarray, np.ndarray] | None

    @property
    def active(self) -> np.ndarray:
        return ~self.scaler.constant


def _seed_from(random_state) -> int:
    """An int seed for gradstep (which never touches NumPy's global random state)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**32)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return int(random_state)  # validated by GDRegressor._check_params


def _refuse_fit_params(method: str, fit_params: dict) -> None:
    """Sample weights (or any other fit parameter) would silently change nothing: refuse."""
    if "sample_weight" in fit_params:
        raise GradstepError(
            f"GDRegressor.{method} does not support sample_weight (the descent weighs every "
            "row equally); drop it, or repeat rows in proportion to their weights"
        )
    if fit_params:
        names = ", ".join(sorted(fit_params))
        raise GradstepError(f"GDRegressor.{method} takes only X and y; drop {names}")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression by gradient descent on the mean squared error.

    Parameters
    ----------
    lr : "auto" or float, default="auto"
        Learning rate, in the internal (standardised) units when ``standardize``.
        ``"auto"`` derives it from the data: ``min(2/(L + mu), 1.5/L)`` for full batch,
        from the largest and smallest positive eigenvalues of the MSE Hessian.
    max_iter : int, default=100_000
        The most epochs a call to ``fit`` runs; reaching it without meeting ``tol``
        (or the early-stopping rule) issues a ``ConvergenceWarning``.
    tol : float or None, default=1e-8 (``gradstep.policies.DEFAULT_TOL``)
        Stop once the internal parameters are certified to be within
        ``tol * max(1, max|parameter|)`` of the least-squares answer
        (``gradstep.policies``). Mini-batches also stop when the exact training loss
        has not reached a new best for ``n_iter_no_change`` epochs.
        ``None`` runs exactly ``max_iter`` epochs.
    batch_size : int or None, default=None
        None for batch descent; k for mini-batches of k points, reshuffled every
        epoch; 1 for stochastic descent. A k of at least the rows is full batch.
    standardize : bool, default=True
        Centre and scale the columns of X and the target internally; ``coef_`` and
        ``intercept_`` are always in the original units. With False the descent runs
        on the data as given (e.g. after a ``StandardScaler``) and ``tol`` applies to
        the raw parameters.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their MSE has
        not reached a new best for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    random_state : int, None, RandomState or Generator, default=0
        Seeds the mini-batch shuffles and the validation split. The default makes
        every fit reproducible; None draws fresh entropy (NumPy's global random state
        is never used).
    warm_start : bool, default=False
        ``fit`` continues from the previous ``coef_`` and ``intercept_`` (and, on the
        same data, continues the descent exactly: two warm fits of k epochs equal
        one fit of 2k).
    engine : str, default="auto"
        The gradstep engine that runs the epochs (``gradstep.engines.names()``);
        "auto" picks the fastest exact one.
    device, dtype : str or None, default=None
        Passed to ``gradstep.fit`` when set (the torch engines). In float32 the
        default ``tol`` may be out of reach; use dtype="float64" or a larger tol.
    optimizer : str or dict, default="sgd"
        As in ``gradstep.fit``: "sgd", "momentum", "nesterov", "rmsprop", "adagrad",
        "adam", or e.g. ``{"name": "adam", "betas": (0.9, 0.99)}`` (``torch.optim``'s
        hyperparameter names and defaults). ``lr="auto"`` is derived for plain SGD.
        Warm starts and ``partial_fit`` continue the optimizer's state.
    verbose : int, default=0
        0: ``fit`` shows nothing. 1 or more: a progress bar on standard error during
        ``fit`` (a widget in a notebook with ipywidgets): with ``tol``, the way to
        convergence (the certified bound on a log scale, :mod:`gradstep.progress`);
        without, the epochs toward ``max_iter``. ``partial_fit`` shows none.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    history_ : gradstep.History
        The descent in the original units (parameters and losses per epoch), from the
        last cold start on (warm starts and ``partial_fit`` calls append to it).
    n_iter_ : int
        Epochs run by the last call (1 for ``partial_fit``).
    converged_ : bool
        Whether the last call stopped by ``tol`` or early stopping before ``max_iter``.
    stop_reason_ : str
        "tol", "train_loss" (mini-batch plateau), "val_loss" (early stopping),
        "max_iter" or "partial_fit".
    certified_bound_ : float or None
        The certified relative distance of the internal parameters to least squares
        after the last call (inf when the data is too ill-conditioned to certify).
    engine_ : str
        The engine that ran the last call.
    optimizer_state_ : dict or None
        The optimizer's state after the last call (None for plain SGD).
    lr_ : float
        The learning rate used (internal units).
    scaler_ : gradstep.policies.Scaler or None
        The column means and scales used (None when ``standardize=False``); constant
        columns have scale 1 and coefficient 0.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names (e.g. a DataFrame or Arrow table).
    """

    def __init__(
        self,
        lr="auto",
        max_iter=100_000,
        tol=DEFAULT_TOL,
        batch_size=None,
        standardize=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=0,
        warm_start=False,
        engine="auto",
        device=None,
        dtype=None,
        optimizer="sgd",
        verbose=0,
    ):
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.standardize = standardize
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.engine = engine
        self.device = device
        self.dtype = dtype
        self.optimizer = optimizer
        self.verbose = verbose

    # -- public API -------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Run the descent on (X, y) until ``tol``, early stopping or ``max_iter``.

        No fit parameters are supported (``sample_weight`` included): passing one
        raises a one-line error rather than being ignored.
        """
        _refuse_fit_params("fit", fit_params)
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2)
        warm = self.warm_start and hasattr(self, "coef_")
        if warm and self.coef_.shape[0] != X.shape[1]:
            raise GradstepError(
                f"warm_start: X has {X.shape[1]} feature(s) but the previous fit had "
                f"{self.coef_.shape[0]}; pass the same columns or set warm_start=False"
            )
        seed = self._seed if warm else _seed_from(self.random_state)
        x_train, y_train, x_val, y_val = self._split(X, y, seed)
        problem = self._problem(x_train, y_train, None, x_val, y_val)
        batch = self._batch(len(problem.z))
        lr = self._lr(problem, batch)
        state = None
        if warm and _same(problem.scaler, self._scaler):
            b0, w0 = self._b_scaled, self._w_scaled  # continue exactly, no round trip
            state = self.optimizer_state_
        elif warm:
            b0, w0 = problem.scaler.to_scaled(self.intercept_, self.coef_)
        else:
            b0, w0 = 0.0, np.zeros(X.shape[1])
        patience, monitor = None, "val_loss"
        if self.early_stopping:
            patience = self.n_iter_no_change
        elif batch is not None and self.tol is not None:
            patience, monitor = self.n_iter_no_change, "full_loss"
        outcome = self._descend(
            problem, b0, w0, lr=lr, batch=batch, seed=seed, epochs=self.max_iter,
            start_epoch=self._epoch if warm else 0,
            rules=Rules(self.tol, patience, monitor), state=state, show=bool(self.verbose),
        )  # fmt: skip
        reason = {"tol": "tol", "epochs": "max_iter"}.get(outcome.reason)
        reason = reason or ("val_loss" if monitor == "val_loss" else "train_loss")
        self._store(problem, outcome.history, lr, seed, append=warm)
        self.n_iter_ = outcome.history.epochs
        self.converged_ = reason != "max_iter"
        self.stop_reason_ = reason
        self.certified_bound_ = outcome.bound
        if reason == "max_iter" and (self.tol is not None or self.early_stopping):
            certificate = self._certificate
            why = "" if certificate.certifiable else f"; {certificate.advice()}"
            warnings.warn(
                f"GDRegressor did not converge in max_iter={self.max_iter} epochs "
                f"(condition number {certificate.condition:.3g}, lr={lr:.3g}); increase "
                f"max_iter, raise tol, or remove nearly collinear features{why}",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def partial_fit(self, X, y, **fit_params):
        """One more epoch of the same descent, on (X, y).

        The first call (on an unfitted estimator) learns the scaling, the seed and
        the learning rate from its data; later calls keep that scaling, continue the
        batch seeding, and with ``lr="auto"`` lower the learning rate if the new
        data needs a smaller one. Early stopping and ``max_iter`` do not apply.
        """
        _refuse_fit_params("partial_fit", fit_params)
        first = not hasattr(self, "coef_")
        if first:
            self._check_params()
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2, reset=first
        )
        if first:
            problem = self._problem(X, y, None, None, None)
            b0, w0, start, seed = 0.0, np.zeros(X.shape[1]), 0, _seed_from(self.random_state)
            state = None
        else:
            problem = self._problem(X, y, self._scaler, None, None)
            b0, w0 = self._b_scaled, self._w_scaled
            start, seed, state = self._epoch, self._seed, self.optimizer_state_
        batch = self._batch(len(problem.z))
        lr = self._lr(problem, batch)
        if not first and self.lr == "auto":
            lr = min(lr, self.lr_)
        outcome = self._descend(
            problem, b0, w0, lr=lr, batch=batch, seed=seed, epochs=1,
            start_epoch=start, rules=Rules(self.tol), state=state,
        )  # fmt: skip
        self._store(problem, outcome.history, lr, seed, append=not first)
        self.n_iter_ = 1
        self.converged_ = outcome.reason == "tol"
        self.stop_reason_ = "tol" if outcome.reason == "tol" else "partial_fit"
        self.certified_bound_ = outcome.bound
        return self

    def predict(self, X):
        """``intercept_ + X @ coef_``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # dense, finite float data only
        tags.input_tags.sparse = False
        return tags

    # -- the descent ------------------------------------------------------------

    def _problem(self, x, y, scaler, x_val, y_val) -> _Problem:
        """The data in internal units; ``scaler`` None learns one (or the identity)."""
        raw = Moments.from_data(x, y)
        if scaler is None:
            scaler = Scaler.learn(raw, features=self.standardize, target=self.standardize)
        validation = None
        if x_val is not None:
            validation = (scaler.x(x_val), scaler.y(y_val))
        z, target = scaler.x(x), scaler.y(y)
        # the moments of the data the descent sees, from that data (see runs.train)
        moments = raw if scaler.is_identity else Moments.from_data(z, target)
        return _Problem(scaler, z, target, moments, validation)

    def _lr(self, problem: _Problem, batch: int | None) -> float:
        if self.lr != "auto":
            return float(self.lr)
        l_max = None if batch is None else largest_row_curvature(problem.z)
        return auto_lr(problem.moments, batch, l_max, problem.active)

    def _descend(
        self, problem: _Problem, b, w, *, lr, batch, seed, epochs, start_epoch, rules, state,
        show=False,
    ):  # fmt: skip
        """Prepare the engine once for this data and let the driver run it."""
        dtype = self.dtype
        if dtype is None and self.engine.startswith("torch-"):
            dtype = "float64"  # least-squares accuracy needs it
        optimizer = resolve_optimizer(self.optimizer)
        settings = Settings(lr, batch, seed, False, self.device or "auto", dtype, optimizer)
        n, d = problem.z.shape
        check_hyperparams(lr, epochs, batch, n, None, seed, start_epoch, d)
        if state is not None and set(state) != set(optimizer.init_state(d)):
            state = None  # the optimizer was changed since: start it afresh
        data = Data(problem.z, problem.y, *(problem.validation or (None, None)))
        engine = prepare(self.engine, data, settings, problem.moments)
        self._certificate = Certificate(problem.moments, problem.active)
        self.engine_ = engine.name
        bar = None
        if show:
            bound0 = float(self._certificate.relative_bound(b, w)[0]) if rules.tol else None
            bar = DescentBar(epochs, tol=rules.tol, start_bound=bound0)
        try:
            outcome = descend(
                engine, float(b), np.asarray(w, dtype=np.float64), start_epoch=start_epoch,
                epochs=epochs, rules=rules, certificate=self._certificate, state=state,
                progress=bar,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.close()
        self.optimizer_state_ = outcome.state
        return outcome

    def _store(self, problem: _Problem, history: History, lr, seed, *, append):
        scaler = problem.scaler
        b_hist, w_hist = scaler.to_original(history.b, history.w)
        val = None if history.val_loss is None else scaler.loss_to_original(history.val_loss)
        converted = History(
            b_hist, w_hist, scaler.loss_to_original(history.train_loss), val,
            converged=history.converged, first_epoch=history.first_epoch,
        )  # fmt: skip
        if append:
            converted = History.concat([self.history_, converted])
        self.history_ = converted
        b, w = float(history.b[-1]), history.w[-1].copy()
        self._scaler, self._b_scaled, self._w_scaled = scaler, b, w
        self._seed, self._epoch = seed, history.first_epoch - 1 + history.epochs
        self.lr_ = lr
        self.scaler_ = scaler if self.standardize else None
        intercept, coef = scaler.to_original(b, w)
        self.intercept_, self.coef_ = float(intercept), np.asarray(coef, dtype=np.float64)

    # -- helpers -------------------------------------------------------------------

    def _batch(self, n: int) -> int | None:
        return None if self.batch_size is None or self.batch_size >= n else int(self.batch_size)

    def _split(self, X, y, seed):
        if not self.early_stopping:
            return X, y, None, None
        n = len(X)
        n_val = math.ceil(self.validation_fraction * n)
        if n - n_val < 2:
            raise GradstepError(
                f"early_stopping with validation_fraction={self.validation_fraction} on "
                f"{n} rows leaves {n - n_val} training row(s); the descent needs at least 2: "
                "pass more rows or lower validation_fraction"
            )
        order = np.random.default_rng(seed).permutation(n)
        val, train = order[:n_val], order[n_val:]
        return X[train], y[train], X[val], y[val]

    def _check_params(self) -> None:
        """Validate the hyperparameters (in fit, as scikit-learn requires)."""
        lr = self.lr
        if not (lr == "auto" if isinstance(lr, str) else _is_number(lr) and 0 < lr < math.inf):
            raise GradstepError(f"lr={lr!r} must be 'auto' or a positive number, e.g. lr=0.1")
        resolve_optimizer(self.optimizer)
        for name, low in (("max_iter", 1), ("n_iter_no_change", 1)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise GradstepError(f"{name}={value!r} must be a whole number >= {low}")
        tol = self.tol
        if tol is not None and not (_is_number(tol) and 0 < tol < math.inf):
            raise GradstepError(f"tol={tol!r} must be a positive number or None, e.g. tol=1e-6")
        size = self.batch_size
        if size is not None and (
            not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1
        ):
            raise GradstepError(f"batch_size={size!r} must be None or a whole number >= 1")
        verbose = self.verbose
        if not isinstance(verbose, numbers.Integral) or verbose < 0:
            raise GradstepError(f"verbose={verbose!r} must be a whole number >= 0, e.g. 1")
        fraction = self.validation_fraction
        if not (_is_number(fraction) and 0 < fraction < 1):
            raise GradstepError(
                f"validation_fraction={fraction!r} must be between 0 and 1, e.g. 0.1"
            )
        state = self.random_state
        if not (
            state is None
            or isinstance(state, (np.random.RandomState, np.random.Generator))
            or (isinstance(state, numbers.Integral) and not isinstance(state, bool) and state >= 0)
        ):
            raise GradstepError(
                f"random_state={state!r} must be a whole number >= 0, None, "
                "or a numpy RandomState/Generator, e.g. random_state=0"
            )


def _same(a: Scaler, b: Scaler) -> bool:
    return (
        np.array_equal(a.x_mean, b.x_mean)
        and np.array_equal(a.x_scale, b.x_scale)
        and np.array_equal(a.constant, b.constant)
        and (a.y_mean, a.y_scale) == (b.y_mean, b.y_scale)
    )
