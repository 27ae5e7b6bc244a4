"""The PyTorch part of the demo as data: the book's PyTorch steps, computed, never printed.

``torch.manual_seed(42)`` then ``torch.randn(1)`` for ``b`` and again for ``w``
(float32); the first loss and the gradients autograd finds; the gradients zeroed;
``nn.Linear(1, 1)`` as PyTorch initialises it after ``torch.manual_seed(42)``; then
``epochs`` epochs of batch descent with each of the four torch engines, through the
public path, ``gradstep.fit(init="torch", engine=...)``. PyTorch's global random state
is left as it was: the draws come from a private generator seeded the same way (the
same numbers, :mod:`gradstep.torch_start`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from gradstep import steps
from gradstep.api import check_hyperparams, fit
from gradstep.data import SyntheticData, make_data
from gradstep.engines.torch_loop import (
    VARIANTS,
    ManualLinearRegression,
    checked_mse,
    linear_model,
)
from gradstep.result import History
from gradstep.torch_start import seeded_b_w, seeded_linear

# what each engine is, in the demo's words
VARIANT_TITLES = {
    "torch-autograd": "tensors, backward(), update under no_grad()",
    "torch-optim": "optim.SGD + nn.MSELoss(reduction='mean')",
    "torch-module": "nn.Module, b and w as nn.Parameter",
    "torch-linear": "nn.Sequential(nn.Linear(1, 1))",
}


def first_loss(
    b: torch.Tensor, w: torch.Tensor, x_train: np.ndarray, y_train: np.ndarray
) -> torch.Tensor:
    """The batch MSE of ``b + x @ w`` on the training data, as a graph autograd can walk."""
    x_t = torch.as_tensor(x_train, dtype=b.dtype)
    y_t = torch.as_tensor(y_train, dtype=b.dtype)
    return checked_mse(b + x_t @ w, y_t)


@dataclass
class TorchWalkthrough:
    data: SyntheticData
    lr: float
    epochs: int
    init_b: torch.Tensor
    init_w: torch.Tensor
    loss: torch.Tensor
    b_grad: torch.Tensor
    w_grad: torch.Tensor
    zeroed_b_grad: torch.Tensor
    zeroed_w_grad: torch.Tensor
    linear_init: OrderedDict
    trained: dict[str, History]
    state_dicts: dict[str, OrderedDict]
    numpy_gradients: tuple[float, float]
    numpy_same_start: History
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Nested plain-Python values (full-precision floats) for ``--json``."""
        return {
            "device": "cpu",
            "dtype": "float32",
            "epochs": self.epochs,
            "lr": self.lr,
            "init": {"b": _item(self.init_b), "w": _item(self.init_w)},
            "first_loss": _item(self.loss),
            "gradients": {"b": _item(self.b_grad), "w": _item(self.w_grad)},
            "trained": {
                name: {"b": float(h.b[-1]), "w": float(h.w[-1, 0])}
                for name, h in self.trained.items()
            },
            "linear_init": {
                "weight": _item(self.linear_init["weight"]),
                "bias": _item(self.linear_init["bias"]),
            },
            "state_dict": {
                name: {key: value.tolist() for key, value in state.items()}
                for name, state in self.state_dicts.items()
            },
            "numpy_gradients": {"b": self.numpy_gradients[0], "w": self.numpy_gradients[1]},
            "numpy_same_start": {
                "b": float(self.numpy_same_start.b[-1]),
                "w": float(self.numpy_same_start.w[-1, 0]),
            },
            **self.extra,
        }


def _item(tensor: torch.Tensor) -> float:
    return float(tensor.detach().reshape(-1)[0])


def run_torch_walkthrough(epochs: int = 1000, lr: float = 0.1, seed: int = 42) -> TorchWalkthrough:
    """The book's PyTorch steps on the document's data, on the CPU in float32."""
    data = make_data(seed=seed)
    x_train, y_train = data.x_train, data.y_train
    check_hyperparams(lr, epochs, None, len(y_train), seed=seed)
    b, w = seeded_b_w(seed)
    init_b, init_w = b.detach().clone(), w.detach().clone()
    loss = first_loss(b, w, x_train, y_train)
    loss.backward()
    b_grad, w_grad = b.grad.clone(), w.grad.clone()
    b.grad.zero_()
    w.grad.zero_()
    linear = seeded_linear(seed)
    linear_init = OrderedDict((k, v.detach().clone()) for k, v in linear.state_dict().items())

    options = {"lr": lr, "epochs": epochs, "seed": seed, "init": "torch"}
    trained, state_dicts = {}, {}
    for name in VARIANTS:
        result = fit(x_train, y_train, engine=name, device="cpu", dtype="float32", **options)
        trained[name] = result.history
        if name in ("torch-module", "torch-linear"):
            state_dicts[name] = _trained_module(name, result).state_dict()
    start_b, start_w = float(init_b[0]), init_w.double().numpy()
    error = steps.predict(start_b, start_w, x_train) - y_train
    np_b_grad, np_w_grad = steps.gradients(x_train, error)
    numpy_same_start = fit(x_train, y_train, engine="numpy", **options).history
    return TorchWalkthrough(
        data=data, lr=lr, epochs=epochs, init_b=init_b, init_w=init_w,
        loss=loss, b_grad=b_grad, w_grad=w_grad,
        zeroed_b_grad=b.grad.clone(), zeroed_w_grad=w.grad.clone(),
        linear_init=linear_init, trained=trained, state_dicts=state_dicts,
        numpy_gradients=(np_b_grad, float(np_w_grad[0])), numpy_same_start=numpy_same_start,
    )  # fmt: skip


def _trained_module(name: str, result) -> torch.nn.Module:
    """The engine's module holding the trained float32 values (exact: they came from it)."""
    make = ManualLinearRegression if name == "torch-module" else linear_model
    return make(result.intercept, result.coef, dtype=torch.float32)
