"""``fit(init="torch")``: the book's PyTorch start for every engine, the global RNG untouched.

Oracles: PyTorch itself, ``torch.manual_seed(seed)`` then ``torch.randn`` or
``nn.Linear(d, 1)``, run inside ``fork_rng`` so the test leaves the state as it found it.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gradstep import GradstepError, engines, fit, make_data  # noqa: E402
from gradstep.torch_start import seeded_b_w, seeded_linear  # noqa: E402

DATA = make_data()


def book_draws(seed, d):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        b, w = torch.randn(1), torch.randn(d)
        torch.manual_seed(seed)
        layer = torch.nn.Linear(d, 1)
    return (b, w), (layer.bias.detach(), layer.weight.detach().reshape(-1))


def options(engine):
    return {"device": "cpu"} if engine.startswith("torch") else {}


@pytest.mark.parametrize("engine", engines.names())
def test_every_engine_starts_where_the_book_does(engine):
    before = torch.get_rng_state()
    result = fit(DATA.x_train, DATA.y_train, epochs=2, init="torch", engine=engine,
                 **options(engine))  # fmt: skip
    assert torch.equal(torch.get_rng_state(), before)
    assert result.engine == engine
    if engine == "torch-linear":  # nn.Linear(1, 1)'s own initialisation
        assert (round(result.init_b, 4), round(float(result.init_w[0]), 4)) == (0.8300, 0.7645)
    else:
        assert (round(result.init_b, 4), round(float(result.init_w[0]), 4)) == (0.3367, 0.1288)
    (b, w), (bias, weight) = book_draws(42, 1)
    expected = (bias, weight) if engine == "torch-linear" else (b, w)
    assert result.init_b == expected[0].item()
    np.testing.assert_array_equal(result.init_w, expected[1].double().numpy())


@pytest.mark.parametrize("seed, d", [(0, 3), (7, 1), (42, 5)])
def test_several_features_and_seeds_match_pytorch(seed, d):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(40, d)), rng.normal(size=40)
    (b, w), (bias, weight) = book_draws(seed, d)
    before = torch.get_rng_state()
    for engine, (b0, w0) in (("numpy", (b, w)), ("torch-linear", (bias, weight))):
        result = fit(x, y, epochs=1, init="torch", seed=seed, engine=engine, **options(engine))
        assert result.init_b == b0.item()
        np.testing.assert_array_equal(result.init_w, w0.double().numpy())
    assert torch.equal(torch.get_rng_state(), before)


def test_the_private_draws_are_the_books_numbers():
    before = torch.get_rng_state()
    b, w = seeded_b_w(42)
    layer = seeded_linear(42)
    assert torch.equal(torch.get_rng_state(), before)
    assert str((b, w)) == (
        "(tensor([0.3367], requires_grad=True), tensor([0.1288], requires_grad=True))"
    )
    assert str(layer.state_dict()) == (
        "OrderedDict([('weight', tensor([[0.7645]])), ('bias', tensor([0.8300]))])"
    )


def test_an_unknown_init_names_torch_among_the_choices():
    with pytest.raises(GradstepError, match="'random', 'torch', 'zeros'"):
        fit(DATA.x_train, DATA.y_train, init="pytorch")
