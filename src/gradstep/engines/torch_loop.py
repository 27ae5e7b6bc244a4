r"""The document's descent in PyTorch, four ways, each an engine of ``gradstep.fit``.

* ``torch-autograd``: ``b`` and ``w`` are tensors with ``requires_grad``;
  ``loss.backward()`` finds the gradients, the update runs under
  ``torch.no_grad()`` and the gradients are zeroed after every step (they
  accumulate otherwise).
* ``torch-optim``: the same tensors, ``torch.optim.SGD`` and
  ``nn.MSELoss(reduction="mean")``.
* ``torch-module``: :class:`ManualLinearRegression`, an ``nn.Module`` holding
  ``b`` and ``w`` as ``nn.Parameter``\ s.
* ``torch-linear``: ``nn.Sequential(nn.Linear(d, 1))``.

All four take their batches from :func:`gradstep.steps.batch_indices`, so given
the same start and seed they follow the NumPy engine step for step (to rounding).
With an optimizer other than plain SGD, every variant steps with ``torch.optim``'s own
class for it (:func:`torch_optimizer`), so the conformance suite compares
``torch.optim`` with :mod:`gradstep.engines.optimizers`.
Every loss goes through :func:`checked_loss`, which refuses predictions and targets
of different shapes instead of letting them broadcast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gradstep.engines.base import Data, Engine, Settings
from gradstep.engines.optimizers import Optimizer
from gradstep.errors import GradstepError
from gradstep.result import History
from gradstep.steps import batch_indices, divergence_error

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        index = device.partition(":")[2]
        if index and not index.isdigit():
            raise GradstepError(f"device={device!r} is not a device; use 'cuda' or 'cuda:0'")
        if not torch.cuda.is_available():
            raise GradstepError(
                f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise GradstepError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist; "
                "use device='cuda' for the first one"
            )
        return torch.device(device)
    raise GradstepError(f"device={device!r} is not known; use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def resolve_dtype(dtype: str | None = None) -> torch.dtype:
    """``None`` or ``"float32"`` (PyTorch's default) or ``"float64"``."""
    if dtype is None:
        return torch.float32
    if dtype in DTYPES:
        return DTYPES[dtype]
    raise GradstepError(f"dtype={dtype!r} is not known; use 'float32' (the default) or 'float64'")


def check_shapes(prediction: torch.Tensor, target: torch.Tensor) -> None:
    """Raise a GradstepError unless ``prediction`` and ``target`` have the same shape.

    ``nn.MSELoss`` would broadcast predictions of shape (n, 1) against targets of
    shape (n,) into an (n, n) matrix of differences and train, with no more than a
    warning, towards the wrong answer.
    """
    if prediction.shape != target.shape:
        pred_shape, target_shape = tuple(prediction.shape), tuple(target.shape)
        hint = ""
        if prediction.dim() == target.dim() + 1 and pred_shape[-1] == 1:
            hint = " (use target.unsqueeze(-1) or prediction.squeeze(-1))"
        elif target.dim() == prediction.dim() + 1 and target_shape[-1] == 1:
            hint = " (use target.squeeze(-1) or prediction.unsqueeze(-1))"
        raise GradstepError(
            f"the loss got predictions of shape {pred_shape} and targets of shape "
            f"{target_shape}; they would broadcast to the wrong loss, so give both the same "
            f"shape{hint}"
        )


def checked_loss(loss_fn, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``loss_fn(prediction, target)`` after :func:`check_shapes`."""
    check_shapes(prediction, target)
    return loss_fn(prediction, target)


def checked_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The document's loss, ``((prediction - target) ** 2).mean()``, after :func:`check_shapes`."""
    check_shapes(prediction, target)
    error = prediction - target
    return (error**2).mean()


class ManualLinearRegression(nn.Module):
    """``b + x @ w`` with ``b`` (1,) and ``w`` (d,) as ``nn.Parameter``\\ s.

    The book draws both from ``torch.randn``; here the caller passes the starting
    values, so building a model never touches PyTorch's random state.
    """

    def __init__(self, b, w, device=None, dtype=None):
        super().__init__()
        kwargs = {"device": device, "dtype": dtype or torch.float32}
        self.b = nn.Parameter(torch.as_tensor(np.atleast_1d(b), **kwargs).reshape(1).clone())
        self.w = nn.Parameter(torch.as_tensor(np.atleast_1d(w), **kwargs).reshape(-1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b + x @ self.w


def linear_model(b, w, device=None, dtype=None) -> nn.Sequential:
    """``nn.Sequential(nn.Linear(d, 1))`` holding the given bias ``b`` and weights ``w``.

    ``nn.utils.skip_init`` skips PyTorch's random initialisation (and so leaves its
    random state alone); the values are then copied in.
    """
    w_arr = np.atleast_1d(np.asarray(w, dtype=np.float64))
    layer = nn.utils.skip_init(
        nn.Linear, w_arr.size, 1, device=device or "cpu", dtype=dtype or torch.float32
    )
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w_arr.reshape(1, -1)))
        layer.bias.copy_(torch.as_tensor(np.atleast_1d(b).astype(np.float64)))
    return nn.Sequential(layer)


class _Variant:
    """One way of writing the descent: ``step`` updates, ``loss`` only evaluates."""

    module: nn.Module | None = None
    optimizer: torch.optim.Optimizer | None = None

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """``y`` in the shape this variant's predictions have."""
        return y

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def flat_params(self) -> torch.Tensor:
        """``[b, w_0, ..., w_{d-1}]``, detached."""
        raise NotImplementedError

    def params(self) -> list[torch.Tensor]:
        """``[b, w]`` as this variant holds them (whatever their shapes)."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One update with ``optim.SGD``; returns the loss before it."""
        loss = self.loss(x, y)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss.detach()


class _Tensors(_Variant):
    """``torch-autograd``: ``b`` and ``w`` with ``requires_grad``, the update by hand."""

    def __init__(self, b, w, lr, device, dtype):
        self.b = torch.tensor([float(b)], dtype=dtype, device=device, requires_grad=True)
        # clone: as_tensor may share memory with the caller's array
        self.w = torch.as_tensor(np.asarray(w), dtype=dtype, device=device).clone()
        self.w.requires_grad_()
        self.lr = lr

    def loss(self, x, y):
        return checked_mse(self.b + x @ self.w, y)

    def step(self, x, y):
        if self.optimizer is not None:  # an optimizer other than plain SGD
            return _Variant.step(self, x, y)
        loss = self.loss(x, y)
        loss.backward()
        with torch.no_grad():
            self.b -= self.lr * self.b.grad
            self.w -= self.lr * self.w.grad
        # gradients accumulate across backward() calls unless zeroed
        self.b.grad.zero_()
        self.w.grad.zero_()
        return loss.detach()

    def flat_params(self):
        return torch.cat([self.b.detach(), self.w.detach()])

    def params(self):
        return [self.b, self.w]


class _TensorsOptim(_Tensors):
    """``torch-optim``: the same tensors, ``optim.SGD`` and ``nn.MSELoss``."""

    def __init__(self, b, w, lr, device, dtype):
        super().__init__(b, w, lr, device, dtype)
        self.optimizer = torch.optim.SGD([self.b, self.w], lr=lr)
        self.loss_fn = nn.MSELoss(reduction="mean")

    def loss(self, x, y):
        return checked_loss(self.loss_fn, self.b + x @ self.w, y)

    step = _Variant.step


class _Module(_Variant):
    """``torch-module``: :class:`ManualLinearRegression`, ``optim.SGD``, ``nn.MSELoss``."""

    def __init__(self, b, w, lr, device, dtype):
        self.module = self.make_module(b, w, device, dtype)
        self.module.train()
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=lr)
        self.loss_fn = nn.MSELoss(reduction="mean")

    @staticmethod
    def make_module(b, w, device, dtype) -> nn.Module:
        return ManualLinearRegression(b, w, device=device, dtype=dtype)

    def loss(self, x, y):
        return checked_loss(self.loss_fn, self.module(x), y)

    def flat_params(self):
        return torch.cat([self.module.b.detach(), self.module.w.detach()])

    def params(self):
        return [self.module.b, self.module.w]


class _Linear(_Module):
    """``torch-linear``: ``nn.Sequential(nn.Linear(d, 1))``; predictions and targets (n, 1)."""

    @staticmethod
    def make_module(b, w, device, dtype):
        return linear_model(b, w, device=device, dtype=dtype)

    def targets(self, y):
        return y.unsqueeze(-1)

    def flat_params(self):
        layer = self.module[0]
        return torch.cat([layer.bias.detach(), layer.weight.detach().reshape(-1)])

    def params(self):
        return [self.module[0].bias, self.module[0].weight]


VARIANTS = {
    "torch-autograd": _Tensors,
    "torch-optim": _TensorsOptim,
    "torch-module": _Module,
    "torch-linear": _Linear,
}


def torch_optimizer(params: list[torch.Tensor], lr: float, optimizer: Optimizer, state):
    """``torch.optim``'s class for ``optimizer`` over ``params`` (``[b, w]``), continuing from
    ``state`` (the flat float64 state of :mod:`gradstep.engines.optimizers`, or None)."""
    opt = getattr(torch.optim, optimizer.torch_class)(params, lr=lr, **optimizer.torch_kwargs())
    if state is None:
        return opt
    from torch.optim.optimizer import _get_scalar_dtype

    for param, part in zip(params, _flat_slices(params), strict=True):
        per_param = {}
        for key, value in state.items():
            if key == "step":
                per_param[key] = torch.tensor(float(value), dtype=_get_scalar_dtype())
            elif value is not None:
                tensor = torch.as_tensor(value[part], dtype=param.dtype, device=param.device)
                per_param[key] = tensor.reshape(param.shape).clone()
        opt.state[param] = per_param
    return opt


def optimizer_state(opt: torch.optim.Optimizer, params: list[torch.Tensor], keys: dict) -> dict:
    """The flat float64 state of ``opt`` over ``params`` (``[b, w]``), with the ``keys`` of
    :meth:`~gradstep.engines.optimizers.Optimizer.init_state`."""
    per_param = [opt.state.get(p, {}) for p in params]
    out = {}
    for key, initial in keys.items():
        value = per_param[0].get(key)
        if key == "step":
            out[key] = int(value) if value is not None else initial
        elif value is None:
            out[key] = initial
        else:
            out[key] = np.concatenate([_to_numpy(s[key]).reshape(-1) for s in per_param])
    return out


def _flat_slices(params: list[torch.Tensor]) -> list[slice]:
    bounds = np.cumsum([0] + [p.numel() for p in params])
    return [slice(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


@dataclass
class TorchRun:
    """A finished descent: its ``history`` and, for the module variants, the ``module``."""

    history: History
    module: nn.Module | None
    device: torch.device
    dtype: torch.dtype


def epoch_batches(n: int, batch_size, seed: int, epoch: int, device):
    """``steps.batch_indices`` moved to ``device`` once per epoch."""
    parts = list(batch_indices(n, batch_size, seed, epoch))
    if isinstance(parts[0], slice):
        yield parts[0]
        return
    order = torch.as_tensor(np.concatenate(parts), device=device)
    start = 0
    for part in parts:
        yield order[start : start + len(part)]
        start += len(part)


def _all_finite(params: torch.Tensor) -> bool:
    return bool(torch.isfinite(params).all())


def _to_numpy(values: torch.Tensor) -> np.ndarray:
    return values.detach().to("cpu", torch.float64).numpy()


class TorchEngine(Engine):
    """The descent written the PyTorch way (``variant``, a key of :data:`VARIANTS`).

    Prepared once: the data is converted and moved to the device a single time and
    kept there for every later ``run``. Each ``run`` builds the variant's tensors or
    module from ``(b, w)`` (plain SGD has no state of its own to carry over; another
    optimizer gets its ``torch.optim`` state from ``state``), keeps the parameter history
    on the device until the end and reads each step's loss back to check for divergence
    where the NumPy engine does.
    """

    variant = "?"

    def __init__(self, data: Data, settings: Settings):
        super().__init__(data, settings)
        self.device, self.dtype = resolve_device(settings.device), resolve_dtype(settings.dtype)
        as_tensor = lambda a: torch.as_tensor(a, dtype=self.dtype, device=self.device)  # noqa: E731
        self.x_t, self.y_t = as_tensor(data.x), as_tensor(data.y)
        if data.has_val:
            self.xv_t, self.yv_t = as_tensor(data.x_val), as_tensor(data.y_val)
        self.model: _Variant | None = None

    def run(self, b, w, start_epoch: int, epochs: int, state: dict | None = None) -> History:
        lr, batch_size, seed = self.settings.lr, self.settings.batch_size, self.settings.seed
        n, d = self.x_t.shape
        model = self.model = VARIANTS[self.variant](b, w, lr, self.device, self.dtype)
        if self.settings.optimizer.stateful:
            model.optimizer = torch_optimizer(model.params(), lr, self.settings.optimizer, state)
        y_t = model.targets(self.y_t)
        yv_t = model.targets(self.yv_t) if self.data.has_val else None
        param_hist = torch.empty((epochs, 1 + d), dtype=self.dtype, device=self.device)
        val_hist = (
            torch.empty(epochs, dtype=self.dtype, device=self.device) if self.data.has_val else None
        )
        train_loss = np.empty(epochs)
        steps = [model.flat_params()] if self.settings.record_steps else None
        for epoch in range(epochs):
            number = start_epoch + epoch + 1
            loss_sum, n_batches = 0.0, 0
            batches = epoch_batches(n, batch_size, seed, number - 1, self.device)
            for step, idx in enumerate(batches, 1):
                loss = model.step(self.x_t[idx], y_t[idx]).item()
                if not math.isfinite(loss):
                    raise divergence_error("the loss", loss, number, step, lr)
                params = model.flat_params()
                if not _all_finite(params):
                    raise divergence_error("a parameter", "non-finite", number, step, lr)
                loss_sum += loss
                n_batches += 1
                if steps is not None:
                    steps.append(params)
            param_hist[epoch] = model.flat_params()
            train_loss[epoch] = loss_sum / n_batches
            if val_hist is not None:
                with torch.no_grad():
                    val_hist[epoch] = model.loss(self.xv_t, yv_t)
        if self.settings.optimizer.stateful:
            keys = self.settings.optimizer.init_state(d)
            self.state = optimizer_state(model.optimizer, model.params(), keys)
        params = _to_numpy(param_hist)
        step_params = _to_numpy(torch.stack(steps)) if steps is not None else None
        return History(
            params[:, 0].copy(),
            params[:, 1:].copy(),
            train_loss,
            None if val_hist is None else _to_numpy(val_hist),
            None if step_params is None else step_params[:, 0].copy(),
            None if step_params is None else step_params[:, 1:].copy(),
            first_epoch=start_epoch + 1,
        )


class TorchAutograd(TorchEngine):
    """Engine ``torch-autograd``: autograd by hand, update under ``torch.no_grad()``."""

    name = variant = "torch-autograd"


class TorchOptim(TorchEngine):
    """Engine ``torch-optim``: ``optim.SGD`` with ``nn.MSELoss``."""

    name = variant = "torch-optim"


class TorchModule(TorchEngine):
    """Engine ``torch-module``: an ``nn.Module`` holding ``b`` and ``w``."""

    name = variant = "torch-module"


class TorchLinear(TorchEngine):
    """Engine ``torch-linear``: ``nn.Sequential(nn.Linear(d, 1))``."""

    name = variant = "torch-linear"


ENGINE_CLASSES = {cls.variant: cls for cls in (TorchAutograd, TorchOptim, TorchModule, TorchLinear)}


def descend(
    variant: str,
    x: np.ndarray,
    y: np.ndarray,
    b: float,
    w: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None,
    seed: int,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    record_steps: bool = False,
    start_epoch: int = 0,
    device: str = "auto",
    dtype: str | None = None,
) -> TorchRun:
    """Run ``variant`` (a key of :data:`VARIANTS`) for ``epochs`` epochs; keep the module.

    The tutorial uses this to show the trained ``nn.Module``; ``gradstep.fit`` runs
    the same engines through the driver.
    """
    if variant not in ENGINE_CLASSES:
        raise GradstepError(
            f"variant={variant!r} is not known; choose one of {', '.join(ENGINE_CLASSES)}"
        )
    engine = ENGINE_CLASSES[variant](
        Data(x, y, x_val, y_val),
        Settings(lr, batch_size, seed, record_steps, device, dtype),
    )
    history = engine.run(b, w, start_epoch, epochs)
    return TorchRun(history, engine.model.module, engine.device, engine.dtype)
