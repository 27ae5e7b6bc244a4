"""The PyTorch part of ``gradstep demo``: values that follow from the book's seeding.

Oracles: the global-seed code the book runs (``torch.manual_seed(42)`` ...), the
NumPy engine started from the same float32 values, least squares, and the book's
printed values (Deep Learning with PyTorch Step-by-Step, chapter 1, on the CPU).
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gradstep
from gradstep import least_squares, make_data, steps
from gradstep.tutorial.torch_walkthrough import VARIANT_TITLES, run_torch_walkthrough

VARIANTS = list(VARIANT_TITLES)
DATA = make_data()


@pytest.fixture(scope="module")
def walk():
    before = torch.get_rng_state()
    result = run_torch_walkthrough()
    # PyTorch's global random state is left as the user had it
    assert torch.equal(torch.get_rng_state(), before)
    return result


def book_code():
    """What the book runs, with PyTorch's global seed (restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        b = torch.randn(1, requires_grad=True, dtype=torch.float)
        w = torch.randn(1, requires_grad=True, dtype=torch.float)
        torch.manual_seed(42)
        linear = nn.Linear(1, 1)
    return b, w, linear


def test_init_is_the_books_seeding(walk):
    b, w, _ = book_code()
    assert torch.equal(walk.init_b, b.detach()) and torch.equal(walk.init_w, w.detach())
    assert (str(walk.init_b), str(walk.init_w)) == ("tensor([0.3367])", "tensor([0.1288])")
    assert walk.init_b.dtype == walk.init_w.dtype == torch.float32


def test_first_loss_and_gradients_agree_with_numpy(walk):
    """Oracle: the NumPy formulas in float64 at the same (float32) starting values."""
    b, w = float(walk.init_b[0]), walk.init_w.double().numpy()
    y_hat = steps.predict(b, w, DATA.x_train)
    b_grad, w_grad = steps.gradients(DATA.x_train, y_hat - DATA.y_train)
    assert walk.loss.item() == pytest.approx(steps.mse_loss(y_hat, DATA.y_train), rel=1e-6)
    assert walk.b_grad.item() == pytest.approx(b_grad, rel=1e-6)
    assert walk.w_grad.item() == pytest.approx(w_grad[0], rel=1e-6)
    assert walk.numpy_gradients == (b_grad, float(w_grad[0]))
    assert walk.zeroed_b_grad.tolist() == walk.zeroed_w_grad.tolist() == [0.0]


def test_linear_init_is_pytorchs_default(walk):
    """Oracle: nn.Linear(1, 1) draws U(-1, 1) for the weight, then the bias (fan_in = 1),
    i.e. 2u - 1 for the first two ``torch.rand`` numbers after seed 42."""
    u = torch.rand(2, generator=torch.Generator().manual_seed(42)).tolist()
    weight, bias = walk.linear_init["weight"], walk.linear_init["bias"]
    assert weight.item() == pytest.approx(2 * u[0] - 1, abs=1e-7)
    assert bias.item() == pytest.approx(2 * u[1] - 1, abs=1e-7)
    _, _, linear = book_code()
    assert torch.equal(weight, linear.weight.detach()) and torch.equal(bias, linear.bias.detach())
    assert str(walk.linear_init) == (
        "OrderedDict([('weight', tensor([[0.7645]])), ('bias', tensor([0.8300]))])"
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_trained_variants_follow_numpy_from_the_same_start(walk, variant):
    if variant == "torch-linear":
        b0, w0 = walk.linear_init["bias"].item(), walk.linear_init["weight"].double().numpy()[0]
    else:
        b0, w0 = walk.init_b.item(), walk.init_w.double().numpy()
    oracle = gradstep.fit(
        DATA.x_train, DATA.y_train, lr=0.1, epochs=1000, init=(b0, w0), engine="numpy"
    ).history
    history = walk.trained[variant]
    assert history.epochs == 1000
    np.testing.assert_allclose(history.b, oracle.b, rtol=1e-5)
    np.testing.assert_allclose(history.w, oracle.w, rtol=1e-5)
    # and the book's result, which is least squares to four decimals
    assert f"{history.b[-1]:.4f} {history.w[-1, 0]:.4f}" == "1.0235 1.9690"
    cf_b, cf_w = least_squares(DATA.x_train, DATA.y_train)
    assert abs(history.b[-1] - cf_b) < 1e-5 and abs(history.w[-1, 0] - cf_w[0]) < 1e-5


def test_state_dicts_are_the_trained_parameters(walk):
    module, linear = walk.state_dicts["torch-module"], walk.state_dicts["torch-linear"]
    assert list(module) == ["b", "w"] and list(linear) == ["0.weight", "0.bias"]
    h = walk.trained["torch-module"]
    assert (module["b"].item(), module["w"].item()) == (h.b[-1], h.w[-1, 0])
    h = walk.trained["torch-linear"]
    assert (linear["0.bias"].item(), linear["0.weight"].item()) == (h.b[-1], h.w[-1, 0])
    assert str(module) == "OrderedDict([('b', tensor([1.0235])), ('w', tensor([1.9690]))])"
    assert str(linear) == (
        "OrderedDict([('0.weight', tensor([[1.9690]])), ('0.bias', tensor([1.0235]))])"
    )


def test_readme_shows_what_the_demo_prints(walk):
    """The README's pasted demo output (NumPy part, then the PyTorch part where it says
    so) is the text the demo prints now, figure paths included."""
    from pathlib import Path

    from gradstep.cli.demo_text import format_walkthrough
    from gradstep.plots.demo_figures import DEMO_FIGURES
    from gradstep.tutorial.walkthrough import run_walkthrough

    out = Path("out/demo")
    figures = {name: out / f"{name}.png" for name in DEMO_FIGURES}
    figures.update(graph_svg=out / "graph.svg", graph_png=out / "graph.png",
                   report=out / "report.html")  # fmt: skip
    printed = format_walkthrough(run_walkthrough(), figures, walk)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", readme, flags=re.S)
    (numpy_part,) = [b for b in blocks if b.startswith("gradstep demo: linear regression")]
    (torch_part,) = [b for b in blocks if b.startswith("The PyTorch part (float32")]
    pasted = numpy_part.replace(
        '[... the PyTorch part: see "The PyTorch part" below ...]\n', torch_part
    )
    assert pasted.rstrip("\n") == printed.rstrip("\n")


def test_text_demo_shows_the_pytorch_part_after_the_numpy_part(tmp_path):
    """Run without Graphviz on PATH: the demo writes graph.dot, says so, and carries on."""
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "gradstep", "demo", "--epochs", "30", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PATH=str(empty)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    expected = [
        "Closed form",
        "The PyTorch part",
        "b, w = tensor([0.3367], requires_grad=True) tensor([0.1288], requires_grad=True)",
        "loss = tensor(",
        "b.grad, w.grad = tensor([0.]) tensor([0.])",
        "OrderedDict([('weight', tensor([[0.7645]])), ('bias', tensor([0.8300]))])",
        "30 epochs",
        *VARIANTS,
        "torch-module: OrderedDict([('b', tensor([",
        "torch-linear: OrderedDict([('0.weight', tensor([[",
        "Figures",
        f"graph_dot: {tmp_path / 'graph.dot'}",
        "Note: Graphviz's `dot` was not found",
    ]
    position = 0
    for fragment in expected:  # each one, in this order
        position = text.find(fragment, position)
        assert position >= 0, (fragment, text)
    assert (tmp_path / "graph.dot").exists() and not (tmp_path / "graph.svg").exists()
