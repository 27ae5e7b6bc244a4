r"""The optimizers gradstep offers, each update rule written once, in float64 NumPy.

Every optimizer works on the flat parameter vector :math:`\theta = (b, w_0, \dots, w_{d-1})`
and its gradient, and follows ``torch.optim``'s single-tensor arithmetic operation for
operation (``tests/test_optimizers.py`` checks the iterates against ``torch.optim`` on a
hand-written loop). The hyperparameters have ``torch.optim``'s names and defaults; the
learning rate is not one of them (it is ``fit``'s own ``lr``, passed to every ``step``).

``init_state(d)`` gives the state before the first step, a dict keyed like
``torch.optim``'s per-parameter state (``"step"``, ``"exp_avg"``, ...) whose arrays have
``d + 1`` entries in θ's order; ``step(theta, grad, state, lr)`` updates ``theta`` and
``state`` in place. Plain SGD (``"sgd"``) has no state: the engines keep their own
plain step 4 for it.

========== =============================================== ==================================
name       ``torch.optim``                                 hyperparameters (defaults)
========== =============================================== ==================================
sgd        ``SGD(lr)``                                     —
momentum   ``SGD(lr, momentum, dampening)``                momentum=0.9, dampening=0
nesterov   ``SGD(lr, momentum, nesterov=True)``            momentum=0.9, dampening=0
rmsprop    ``RMSprop(lr, alpha, eps, momentum, centered)`` alpha=0.99, eps=1e-8, momentum=0,
                                                           centered=False
adagrad    ``Adagrad(lr, lr_decay, ...)``                  lr_decay=0,
                                                           initial_accumulator_value=0,
                                                           eps=1e-10
adam       ``Adam(lr, betas, eps, amsgrad)``               betas=(0.9, 0.999), eps=1e-8,
                                                           amsgrad=False
========== =============================================== ==================================

``momentum`` and ``nesterov`` default to ``momentum=0.9`` (``torch.optim.SGD``'s default, 0,
would make them plain SGD); ``{"name": "sgd", "momentum": 0.9}`` is the ``momentum`` optimizer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import numpy as np

from gradstep.errors import GradstepError


@dataclass(frozen=True)
class Optimizer:
    """Base class: ``name``, ``torch_class``, ``init_state`` and ``step``."""

    name: ClassVar[str] = "?"
    torch_class: ClassVar[str] = "?"
    stateful: ClassVar[bool] = True

    def init_state(self, d: int) -> dict:
        raise NotImplementedError

    def step(self, theta: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> np.ndarray:
        raise NotImplementedError

    def hyperparams(self) -> dict:
        """The hyperparameters as ``torch.optim`` names them (``lr`` excluded)."""
        return asdict(self)

    def config(self) -> dict:
        """``{"name": ..., **hyperparams}``: what :func:`resolve` turns back into this."""
        return {"name": self.name, **self.hyperparams()}

    def torch_kwargs(self) -> dict:
        """Keyword arguments for ``torch.optim.<torch_class>`` besides the parameters and lr."""
        return self.hyperparams()


@dataclass(frozen=True)
class SGD(Optimizer):
    """Plain gradient descent, the document's step 4: :math:`\\theta \\leftarrow \\theta -
    \\eta\\, g`."""

    name: ClassVar[str] = "sgd"
    torch_class: ClassVar[str] = "SGD"
    stateful: ClassVar[bool] = False

    def init_state(self, d: int) -> dict:
        return {}

    def step(self, theta, grad, state, lr):
        theta += -lr * grad
        return theta


@dataclass(frozen=True)
class Momentum(Optimizer):
    """``torch.optim.SGD`` with momentum: the buffer starts as the first gradient, then
    :math:`v \\leftarrow \\mu v + (1 - \\tau) g`; the step is :math:`-\\eta v`, or with
    ``nesterov`` :math:`-\\eta (g + \\mu v)`."""

    momentum: float = 0.9
    dampening: float = 0.0
    nesterov: bool = False
    torch_class: ClassVar[str] = "SGD"

    @property
    def name(self) -> str:  # type: ignore[override]
        return "nesterov" if self.nesterov else "momentum"

    def init_state(self, d):
        return {"momentum_buffer": None}

    def step(self, theta, grad, state, lr):
        buf = state["momentum_buffer"]
        if buf is None:
            buf = state["momentum_buffer"] = grad.copy()
        else:
            buf *= self.momentum
            buf += (1 - self.dampening) * grad
        direction = grad + self.momentum * buf if self.nesterov else buf
        theta += -lr * direction
        return theta


@dataclass(frozen=True)
class Nesterov(Momentum):
    """Nesterov momentum: :class:`Momentum` with ``nesterov=True``."""

    nesterov: bool = True


@dataclass(frozen=True)
class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: :math:`s \\leftarrow \\alpha s + (1 - \\alpha) g^2`, the step
    :math:`-\\eta g / (\\sqrt{s} + \\epsilon)` (``centered``: the variance instead of
    :math:`s`; ``momentum``: a buffer of those ratios)."""

    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False
    name: ClassVar[str] = "rmsprop"
    torch_class: ClassVar[str] = "RMSprop"

    def init_state(self, d):
        state = {"step": 0, "square_avg": np.zeros(d + 1)}
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros(d + 1)
        if self.centered:
            state["grad_avg"] = np.zeros(d + 1)
        return state

    def step(self, theta, grad, state, lr):
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * grad * grad
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg[:] = lerp(grad_avg, grad, 1 - self.alpha)
            avg = np.sqrt(square_avg + -1.0 * grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += grad / avg
            theta += -lr * buf
        else:
            theta += -lr * (grad / avg)
        return theta


@dataclass(frozen=True)
class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: :math:`G \\leftarrow G + g^2`, the step
    :math:`-\\eta_t g / (\\sqrt{G} + \\epsilon)` with :math:`\\eta_t = \\eta / (1 + (t - 1)\\,
    \\text{lr\\_decay})`."""

    lr_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10
    name: ClassVar[str] = "adagrad"
    torch_class: ClassVar[str] = "Adagrad"

    def init_state(self, d):
        return {"step": 0, "sum": np.full(d + 1, float(self.initial_accumulator_value))}

    def step(self, theta, grad, state, lr):
        state["step"] += 1
        clr = lr / (1 + (state["step"] - 1) * self.lr_decay)
        total = state["sum"]
        total += 1.0 * grad * grad
        std = np.sqrt(total) + self.eps
        theta += -clr * (grad / std)
        return theta


@dataclass(frozen=True)
class Adam(Optimizer):
    """``torch.optim.Adam``: moving averages :math:`m` of :math:`g` and :math:`v` of
    :math:`g^2`, the step :math:`-\\frac{\\eta}{1 - \\beta_1^t}\\, m / (\\sqrt{v / (1 -
    \\beta_2^t)} + \\epsilon)` (``amsgrad``: the running maximum of :math:`v`)."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    amsgrad: bool = False
    name: ClassVar[str] = "adam"
    torch_class: ClassVar[str] = "Adam"

    def init_state(self, d):
        state = {"step": 0, "exp_avg": np.zeros(d + 1), "exp_avg_sq": np.zeros(d + 1)}
        if self.amsgrad:
            state["max_exp_avg_sq"] = np.zeros(d + 1)
        return state

    def step(self, theta, grad, state, lr):
        beta1, beta2 = self.betas
        state["step"] += 1
        step = float(state["step"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg[:] = lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + self.eps
        theta += -step_size * (exp_avg / denom)
        return theta

    def hyperparams(self):
        return {"betas": tuple(self.betas), "eps": self.eps, "amsgrad": self.amsgrad}


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``torch.lerp``'s formula: from ``start`` for small weights, from ``end`` otherwise."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
}
NAMES = tuple(OPTIMIZERS)


def resolve(spec) -> Optimizer:
    """An :class:`Optimizer` from ``"adam"``, ``{"name": "adam", "betas": (0.9, 0.99)}`` or an
    instance; hyperparameters are checked the way ``torch.optim`` checks them.

    ``{"name": "sgd", "momentum": m}`` with ``m > 0`` is the ``momentum`` (or, with
    ``nesterov=True``, the ``nesterov``) optimizer; ``momentum=0`` gives plain SGD.
    """
    if spec is None:
        return SGD()
    if isinstance(spec, Optimizer):
        return _checked(spec)
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and "name" in spec:
        name, options = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    else:
        raise GradstepError(
            f"optimizer={spec!r} is not known; pass a name ({', '.join(NAMES)}) or "
            "{'name': 'adam', 'betas': (0.9, 0.999), ...}"
        )
    if name not in OPTIMIZERS:
        raise GradstepError(f"optimizer={name!r} is not known; choose one of {', '.join(NAMES)}")
    if name == "sgd" and options.get("momentum", 0) != 0:
        name = "nesterov" if options.get("nesterov") else "momentum"
    elif name == "sgd":
        if options.get("nesterov"):
            raise GradstepError("optimizer 'sgd': nesterov=True needs a momentum > 0")
        options = {k: v for k, v in options.items() if k not in Momentum.__dataclass_fields__}
    cls = OPTIMIZERS[name]
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - allowed)
    if unknown:
        hint = " (lr is fit's own argument)" if "lr" in unknown else ""
        names = ", ".join(sorted(allowed)) or "none"
        raise GradstepError(
            f"optimizer {name!r} has no hyperparameter {unknown[0]!r}{hint}; it takes: {names}"
        )
    if "betas" in options:
        options["betas"] = _pair(options["betas"])
    return _checked(cls(**options))


def _pair(betas) -> tuple[float, float]:
    try:
        beta1, beta2 = betas
        return (float(beta1), float(beta2))
    except (TypeError, ValueError):
        raise GradstepError(f"betas={betas!r} must be two numbers, e.g. (0.9, 0.999)") from None


def _checked(opt: Optimizer) -> Optimizer:
    """``opt`` if its hyperparameters are valid (as ``torch.optim`` checks them), else a
    one-line GradstepError."""
    for key, value in opt.hyperparams().items():
        if key in ("nesterov", "centered", "amsgrad"):
            if not isinstance(value, (bool, np.bool_)):
                raise GradstepError(
                    f"optimizer {opt.name!r}: {key}={value!r} must be True or False"
                )
            continue
        numbers = value if key == "betas" else (value,)
        if not all(_is_number(v) and v >= 0 for v in numbers):
            raise GradstepError(f"optimizer {opt.name!r}: {key}={value!r} must be finite and >= 0")
        if key == "betas" and not all(v < 1 for v in numbers):
            raise GradstepError(
                f"optimizer {opt.name!r}: betas={value!r} must each be in [0, 1), e.g. (0.9, 0.999)"
            )
    if isinstance(opt, Momentum):
        if opt.momentum <= 0:
            raise GradstepError(
                f"optimizer {opt.name!r}: momentum={opt.momentum!r} must be > 0 "
                "(momentum=0 is plain 'sgd')"
            )
        if opt.nesterov and opt.dampening != 0:
            raise GradstepError(
                f"optimizer 'nesterov': dampening={opt.dampening!r} must be 0, as in torch.optim"
            )
    return opt


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def check_state(opt: Optimizer, state, d: int) -> dict | None:
    """A float64 copy of a state passed back by the user (``None``: start afresh)."""
    if state is None or not opt.stateful:
        if state:
            raise GradstepError(
                f"optimizer_state was given but optimizer {opt.name!r} keeps no state; leave it out"
            )
        return None
    if not isinstance(state, Mapping):
        raise GradstepError(
            "optimizer_state must be the dict a previous fit returned "
            "(result.extra['optimizer_state'])"
        )
    expected = opt.init_state(d)
    if set(state) != set(expected):
        raise GradstepError(
            f"optimizer_state has keys {sorted(state)} but optimizer {opt.name!r} with these "
            f"hyperparameters keeps {sorted(expected)}; pass the state of the same optimizer"
        )
    out = {}
    for key, value in state.items():
        if key == "step":
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise GradstepError(
                    f"optimizer_state['step']={value!r} must be a whole number >= 0"
                )
            out[key] = int(value)
        elif value is None and expected[key] is None:
            out[key] = None
        else:
            arr = np.array(value, dtype=np.float64).reshape(-1)
            if arr.size != d + 1 or not np.isfinite(arr).all():
                raise GradstepError(
                    f"optimizer_state[{key!r}] must hold {d + 1} finite values (b, then one w "
                    "per feature)"
                )
            out[key] = arr
    return out


def copy_state(state: dict | None) -> dict | None:
    """A deep copy (arrays copied) of a flat state."""
    if state is None:
        return None
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()}
