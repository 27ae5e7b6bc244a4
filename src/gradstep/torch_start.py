"""The book's PyTorch starting values, drawn from a private ``torch.Generator``.

``torch.manual_seed(seed); b = torch.randn(1); w = torch.randn(d)`` and
``torch.manual_seed(seed); nn.Linear(d, 1)``, with the same numbers, but PyTorch's
global random state is never read or changed: ``gradstep.fit(init="torch")``, the
demo and the computation graph all start here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def seeded_b_w(seed: int = 42, d: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.manual_seed(seed); b = torch.randn(1); w = torch.randn(d)``, privately.

    Returns float32 leaf tensors with ``requires_grad=True``, as the book makes them.
    """
    generator = torch.Generator().manual_seed(seed)
    b = torch.randn(1, generator=generator).requires_grad_()
    w = torch.randn(d, generator=generator).requires_grad_()
    return b, w


def seeded_linear(seed: int = 42, d: int = 1) -> nn.Linear:
    """``torch.manual_seed(seed); nn.Linear(d, 1)``: PyTorch's own initialisation, privately.

    ``nn.Linear.reset_parameters`` draws the weight with ``kaiming_uniform_(a=sqrt(5))``
    and then the bias uniformly in ``±1/sqrt(d)``; the same draws, in the same order, come
    here from a private generator (``skip_init`` leaves the global one alone).
    """
    generator = torch.Generator().manual_seed(seed)
    layer = nn.utils.skip_init(nn.Linear, d, 1)
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    weight_bound = math.sqrt(3.0) * gain / math.sqrt(d)
    bias_bound = 1 / math.sqrt(d)
    with torch.no_grad():
        layer.weight.uniform_(-weight_bound, weight_bound, generator=generator)
        layer.bias.uniform_(-bias_bound, bias_bound, generator=generator)
    return layer


def torch_start(d: int, seed: int, linear: bool = False) -> tuple[float, np.ndarray]:
    """``(b, w)`` as float64: the book's ``randn`` draws, or ``nn.Linear``'s (``linear``)."""
    if linear:
        layer = seeded_linear(seed, d)
        b, w = layer.bias, layer.weight.reshape(-1)
    else:
        b, w = seeded_b_w(seed, d)
    return float(b.detach()[0]), w.detach().double().numpy().copy()
