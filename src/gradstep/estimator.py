r"""``GDRegressor``: linear regression by gradient descent, as a scikit-learn estimator.

It runs :func:`gradstep.fit` (any engine) on standardised data and reports the
model in the original units. The defaults are meant to behave like
``LinearRegression`` on an ordinary, unscaled table:

* **Standardisation** (``standardize=True``): the columns of ``X`` *and* the target
  are centred and scaled by their standard deviation before the descent, so the
  step size and the tolerance do not depend on the units. Fitting
  :math:`y_s = b' + Z w'` with :math:`Z = (X - \mu)/\sigma`, :math:`y_s = (y - m)/s`
  is the model :math:`w = s\,w'/\sigma`, :math:`b = m + s\,b' - \mu \cdot w`.
  A constant column gets coefficient 0 (the intercept already covers it).
* **Step size** (``lr="auto"``): from the spectrum of the Hessian of the MSE,
  :math:`H = \tfrac2n [1, Z]^\top [1, Z]`, with largest eigenvalue :math:`L` and
  smallest positive one :math:`\mu`: full batch uses :math:`\min(2/(L + \mu), 1.5/L)`.
  :math:`2/(L + \mu)` is the fastest fixed step for a quadratic (each epoch shrinks
  the distance to the least-squares answer by :math:`(\kappa - 1)/(\kappa + 1)`,
  :math:`\kappa = L/\mu`), but on nearly collinear data it leaves the stiffest
  direction oscillating almost undamped; with the cap its error halves every epoch,
  so predictions are good even when the poorly determined directions are not;
  mini-batches of b points use :math:`1/(2\mathcal L(b))` with the expected
  smoothness :math:`\mathcal L(b) = \frac{n(b-1)}{b(n-1)} L + \frac{n-b}{b(n-1)} L_{\max}`,
  :math:`L_{\max} = \max_i 2\lVert(1, z_i)\rVert^2` (Gower et al., 2019).
* **Stopping** (``tol``): for full batch, ``tol`` is a *certified* accuracy. An
  epoch moves the parameters by :math:`\Delta = \eta\, g`, and the distance to the
  least-squares answer is at most :math:`\lVert g\rVert/\mu`, so the descent stops
  (``gradstep.fit``'s own rule, with its tolerance set to
  :math:`\mathrm{tol}\cdot\eta\mu/\sqrt{d+1}`) once every standardised parameter is
  provably within ``tol * max(1, max|parameter|)`` of the least-squares answer.
  With mini-batches the steps never settle (constant-step SGD hovers around the
  answer), so the descent stops when the epoch's training loss has not improved by
  a relative ``tol`` for ``n_iter_no_change`` epochs. ``max_iter`` caps the epochs;
  reaching it issues a ``ConvergenceWarning``.

Measured with the defaults (full batch, ``tol=1e-6``; ``tests/test_estimator.py``
checks the first three), the relative error ``|(b, w) - (b*, w*)| / |(b*, w*)|``
against ``numpy.linalg.lstsq``:

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

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from gradstep.api import fit as gd_fit
from gradstep.errors import GradstepError
from gradstep.result import History
from gradstep.scaling import Standardizer

# Updates per gradstep.fit call: the stopping rules are checked between calls, and
# the chunks double from FIRST_CHUNK to MAX_CHUNK (whole epochs, at least one).
FIRST_CHUNK = 100
MAX_CHUNK = 10_000


class _Scaling:
    """The internal units: standardised X (constant columns zeroed) and target."""

    def __init__(self, x_scaler: Standardizer, constant: np.ndarray, y_mean: float, y_scale: float):
        self.x_scaler, self.constant = x_scaler, constant
        self.y_mean, self.y_scale = y_mean, y_scale

    @classmethod
    def learn(cls, x: np.ndarray, y: np.ndarray, standardize: bool) -> _Scaling:
        d = x.shape[1]
        if not standardize:
            return cls(Standardizer(np.zeros(d), np.ones(d)), np.zeros(d, bool), 0.0, 1.0)
        mean, std = x.mean(axis=0), x.std(axis=0)
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        y_mean, y_std = float(y.mean()), float(y.std())
        y_scale = 1.0 if y_std <= 1e-12 * max(1.0, abs(y_mean)) else y_std
        return cls(Standardizer(mean, np.where(constant, 1.0, std)), constant, y_mean, y_scale)

    def design(self, x: np.ndarray) -> np.ndarray:
        z = self.x_scaler.transform(x)
        z[:, self.constant] = 0.0
        return z

    def target(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_mean) / self.y_scale

    def to_original(self, b, w) -> tuple[np.ndarray, np.ndarray]:
        """Scaled ``b`` (k,) and ``w`` (k, d) -> original units, row by row."""
        w_orig = self.y_scale * np.asarray(w) / self.x_scaler.scale
        return self.y_mean + self.y_scale * np.asarray(b) - w_orig @ self.x_scaler.mean, w_orig

    def to_scaled(self, b: float, w: np.ndarray) -> tuple[float, np.ndarray]:
        w = np.asarray(w, dtype=np.float64)
        w_scaled = np.where(self.constant, 0.0, w * self.x_scaler.scale / self.y_scale)
        b_scaled = (b + self.x_scaler.mean @ w - self.y_mean) / self.y_scale
        return float(b_scaled), w_scaled

    def same_as(self, other: _Scaling) -> bool:
        return (
            np.array_equal(self.x_scaler.mean, other.x_scaler.mean)
            and np.array_equal(self.x_scaler.scale, other.x_scaler.scale)
            and np.array_equal(self.constant, other.constant)
            and (self.y_mean, self.y_scale) == (other.y_mean, other.y_scale)
        )


def spectrum(z: np.ndarray) -> tuple[float, float, float]:
    r"""``(L, mu, L_max)`` of the MSE Hessian :math:`\frac2n [1, Z]^\top [1, Z]`.

    ``L`` and ``mu`` are its largest and smallest positive eigenvalues (eigenvalues
    below ``L * size * eps`` count as zero: directions the data cannot determine);
    ``L_max`` is the largest one-point curvature :math:`2\lVert(1, z_i)\rVert^2`.
    """
    n = z.shape[0]
    design = np.column_stack([np.ones(n), z])
    gram = design.T @ design if n >= design.shape[1] else design @ design.T
    eigenvalues = np.linalg.eigvalsh(gram * (2.0 / n))
    top = float(eigenvalues[-1])
    positive = eigenvalues[eigenvalues > top * len(eigenvalues) * np.finfo(float).eps]
    l_max = float(2.0 * (design**2).sum(axis=1).max())
    return top, float(positive[0]), l_max


def auto_lr(top: float, mu: float, l_max: float, n: int, batch: int | None) -> float:
    """The step size ``lr="auto"`` picks (see the module docstring)."""
    if batch is None:
        # 2/(L + mu) is the fastest fixed step, but as mu/L -> 0 it leaves the stiffest
        # direction oscillating undamped; capped at 1.5/L that error still halves each epoch
        return min(2.0 / (top + mu), 1.5 / top)
    smallest = n % batch or batch  # the last, smallest batch is the least smooth
    expected = (n * (smallest - 1) * top + (n - smallest) * l_max) / (smallest * (n - 1))
    return 1.0 / (2.0 * expected)


class _Plateau:
    """Stop when a loss has not fallen below ``best * (1 - tol)`` for ``patience`` epochs."""

    def __init__(self, tol: float, patience: int):
        self.tol, self.patience = tol, patience
        self.best, self.waited = math.inf, 0

    def first_stop(self, losses: np.ndarray) -> int | None:
        """Index into ``losses`` of the epoch after which to stop, or None."""
        for i, loss in enumerate(losses):
            if loss < self.best * (1.0 - self.tol):
                self.waited = 0
            else:
                self.waited += 1
            self.best = min(self.best, loss)
            if self.waited >= self.patience:
                return i
        return None


def _losses(history: History, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The MSE on ``(z, y)`` at the parameters after each epoch, in blocks of epochs.

    Used for the validation loss, and for the mini-batch stopping rule (the full
    training loss is a steadier signal than the mean of the mini-batch losses).
    """
    out = np.empty(history.epochs)
    block = max(1, 1_000_000 // len(y))
    for start in range(0, history.epochs, block):
        rows = slice(start, start + block)
        error = history.b[rows, None] + history.w[rows] @ z.T - y
        out[rows] = (error**2).mean(axis=1)
    return out


def _truncate(history: History, epochs: int) -> History:
    val = None if history.val_loss is None else history.val_loss[:epochs]
    return History(
        history.b[:epochs], history.w[:epochs], history.train_loss[:epochs], val,
        converged=history.converged, first_epoch=history.first_epoch,
    )  # fmt: skip


def _concat(histories: list[History]) -> History:
    has_val = all(h.val_loss is not None for h in histories)
    return History(
        np.concatenate([h.b for h in histories]),
        np.concatenate([h.w for h in histories]),
        np.concatenate([h.train_loss for h in histories]),
        np.concatenate([h.val_loss for h in histories]) if has_val else None,
        converged=histories[-1].converged,
        first_epoch=histories[0].first_epoch,
    )


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
    tol : float or None, default=1e-6
        Full batch: stop once the standardised parameters are certified to be
        within ``tol * max(1, max|parameter|)`` of the least-squares answer (see
        the module docstring). Mini-batches: stop when the epoch's training loss
        has not improved by a relative ``tol`` for ``n_iter_no_change`` epochs.
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
        not improved by a relative ``tol`` for ``n_iter_no_change`` epochs.
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
    engine : str, default="numpy"
        The gradstep engine that runs the epochs (``gradstep.api.ENGINES``).
    device, dtype : str or None, default=None
        Passed to ``gradstep.fit`` when set (the torch engines). In float32 the
        default ``tol`` may be out of reach; use dtype="float64" or a larger tol.

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
    lr_ : float
        The learning rate used (internal units).
    scaler_ : gradstep.scaling.Standardizer or None
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
        tol=1e-6,
        batch_size=None,
        standardize=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=0,
        warm_start=False,
        engine="numpy",
        device=None,
        dtype=None,
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
        scaling = _Scaling.learn(x_train, y_train, self.standardize)
        z = scaling.design(x_train)
        batch = self._batch(len(z))
        lr, engine_tol, kappa = self._step(z, batch)
        if warm and scaling.same_as(self._scaling):
            b0, w0 = self._b_scaled, self._w_scaled  # continue exactly, no round trip
        elif warm:
            b0, w0 = scaling.to_scaled(self.intercept_, self.coef_)
        else:
            b0, w0 = 0.0, np.zeros(X.shape[1])
        watchers = {}
        if batch is not None and self.tol is not None:
            watchers["train_loss"] = _Plateau(self.tol, self.n_iter_no_change)
        if self.early_stopping:
            watchers["val_loss"] = _Plateau(self.tol or 0.0, self.n_iter_no_change)
        validation = None if x_val is None else (scaling.design(x_val), scaling.target(y_val))
        b, w, history, reason = self._descend(
            z, scaling.target(y_train), b0, w0, lr=lr, batch=batch, seed=seed,
            epochs=self.max_iter, start_epoch=self._epoch if warm else 0,
            tol=engine_tol, watchers=watchers, validation=validation,
        )  # fmt: skip
        self._store(scaling, b, w, history, lr, seed, append=warm)
        self.n_iter_ = history.epochs
        self.converged_ = reason != "max_iter"
        self.stop_reason_ = reason
        if reason == "max_iter" and (self.tol is not None or self.early_stopping):
            warnings.warn(
                f"GDRegressor did not converge in max_iter={self.max_iter} epochs "
                f"(condition number {kappa:.3g}, lr={lr:.3g}); increase max_iter, raise "
                "tol, or remove nearly collinear features",
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
            scaling = _Scaling.learn(X, y, self.standardize)
            b0, w0, start, seed = 0.0, np.zeros(X.shape[1]), 0, _seed_from(self.random_state)
        else:
            scaling, b0, w0 = self._scaling, self._b_scaled, self._w_scaled
            start, seed = self._epoch, self._seed
        z = scaling.design(X)
        batch = self._batch(len(z))
        lr, tol, _ = self._step(z, batch, lr_cap=None if first else self.lr_)
        b, w, history, reason = self._descend(
            z, scaling.target(y), b0, w0, lr=lr, batch=batch, seed=seed, epochs=1,
            start_epoch=start, tol=tol, watchers={}, validation=None,
        )  # fmt: skip
        self._store(scaling, b, w, history, lr, seed, append=not first)
        self.n_iter_ = 1
        self.converged_ = reason == "tol"
        self.stop_reason_ = "tol" if reason == "tol" else "partial_fit"
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

    def _descend(
        self, z, y, b, w, *, lr, batch, seed, epochs, start_epoch, tol, watchers, validation
    ):
        """Run ``gradstep.fit`` in growing chunks, checking the stopping rules between."""
        options = {} if self.device is None else {"device": self.device}
        if self.dtype is not None or self.engine != "numpy":
            options["dtype"] = self.dtype or "float64"  # least-squares accuracy needs it
        steps_per_epoch = 1 if batch is None else math.ceil(len(z) / batch)
        histories, done, chunk, reason = [], 0, FIRST_CHUNK, "max_iter"
        while done < epochs:
            chunk_epochs = min(max(1, chunk // steps_per_epoch), epochs - done)
            result = gd_fit(
                z, y, lr=lr, epochs=chunk_epochs, batch_size=batch,
                init=(b, w), seed=seed, engine=self.engine,
                tol=tol, start_epoch=start_epoch + done, **options,
            )  # fmt: skip
            history, stop = result.history, None
            if validation is not None:  # computed here, so one validation row is enough
                history.val_loss = _losses(history, *validation)
            for name, watcher in watchers.items():
                losses = getattr(history, name) if name == "val_loss" else _losses(history, z, y)
                at = watcher.first_stop(losses)
                if at is not None and (stop is None or at < stop):
                    stop, reason = at, name
            if stop is not None:
                history = _truncate(history, stop + 1)
            elif history.converged:
                reason = "tol"
            b, w = float(history.b[-1]), np.array(history.w[-1], dtype=np.float64)
            histories.append(history)
            done += history.epochs
            if reason != "max_iter":
                break
            chunk = min(2 * chunk, MAX_CHUNK)
        history = _concat(histories)
        history.converged = reason != "max_iter" if tol is not None or watchers else None
        return b, w, history, reason

    def _store(self, scaling, b, w, history, lr, seed, *, append):
        b_hist, w_hist = scaling.to_original(history.b, history.w)
        s2 = scaling.y_scale**2
        val = None if history.val_loss is None else history.val_loss * s2
        converted = History(
            b_hist, w_hist, history.train_loss * s2, val,
            converged=history.converged, first_epoch=history.first_epoch,
        )  # fmt: skip
        if append:
            converted = _concat([self.history_, converted])
        self.history_ = converted
        self._scaling, self._b_scaled, self._w_scaled = scaling, b, w
        self._seed, self._epoch = seed, history.first_epoch - 1 + history.epochs
        self.lr_ = lr
        self.scaler_ = scaling.x_scaler if self.standardize else None
        intercept, coef = scaling.to_original(b, w)
        self.intercept_, self.coef_ = float(intercept), np.asarray(coef, dtype=np.float64)

    # -- helpers -------------------------------------------------------------------

    def _step(self, z, batch, lr_cap=None) -> tuple[float, float | None, float]:
        """``(lr, engine_tol, condition_number)`` for a descent on ``z``.

        ``engine_tol`` is ``gradstep.fit``'s tolerance that certifies ``self.tol``
        (full batch only): ``tol * lr * mu / sqrt(d + 1)``.
        """
        top, mu, l_max = spectrum(z)
        if self.lr != "auto":
            lr = float(self.lr)
        else:
            lr = auto_lr(top, mu, l_max, len(z), batch)
            lr = lr if lr_cap is None else min(lr, lr_cap)
        engine_tol = None
        if batch is None and self.tol is not None:
            engine_tol = max(self.tol * lr * mu / math.sqrt(z.shape[1] + 1), 1e-300)
        return lr, engine_tol, top / mu

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
