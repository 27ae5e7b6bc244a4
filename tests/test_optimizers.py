"""Every optimizer of ``gradstep.engines.optimizers`` against ``torch.optim`` itself.

The oracle is a hand-written PyTorch loop (tensors with ``requires_grad``, the MSE,
``backward()``, ``torch.optim.<Class>.step()``) over the same batches from the same
start; the ``numpy`` engine, which steps with ``optimizers.py``, must follow it in every
mode, float64, to 1e-10 relative. PyTorch's CPU kernels fuse multiply-adds (FMA), which
NumPy cannot, so the two agree to rounding rather than bit for bit (about 1e-13 a step).
"""

import numpy as np
import pytest
import torch

import gradstep
from gradstep import GradstepError
from gradstep.engines.optimizers import (
    SGD,
    Adam,
    Momentum,
    Nesterov,
    check_state,
    resolve,
)
from gradstep.steps import batch_indices

RNG = np.random.default_rng(11)
N, D = 64, 2
X = RNG.normal(size=(N, D)) * [1.0, 3.0] + [1.0, -2.0]
Y = 0.5 + X @ [1.5, -0.5] + 0.2 * RNG.normal(size=N)
B0, W0 = -0.4, np.array([0.2, 0.7])
SEED, LR = 5, 0.01

# (what fit is given, the torch.optim class, the keyword arguments written out for torch)
CASES = {
    "sgd": ("sgd", torch.optim.SGD, {}),
    "momentum": ("momentum", torch.optim.SGD, {"momentum": 0.9}),
    "momentum-dampened": (
        {"name": "sgd", "momentum": 0.8, "dampening": 0.3},
        torch.optim.SGD,
        {"momentum": 0.8, "dampening": 0.3},
    ),
    "nesterov": ("nesterov", torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("rmsprop", torch.optim.RMSprop, {}),
    "rmsprop-centered-momentum": (
        {"name": "rmsprop", "alpha": 0.9, "momentum": 0.5, "centered": True, "eps": 1e-6},
        torch.optim.RMSprop,
        {"alpha": 0.9, "momentum": 0.5, "centered": True, "eps": 1e-6},
    ),
    "adagrad": ("adagrad", torch.optim.Adagrad, {}),
    "adagrad-decay": (
        {"name": "adagrad", "lr_decay": 0.01, "initial_accumulator_value": 0.1},
        torch.optim.Adagrad,
        {"lr_decay": 0.01, "initial_accumulator_value": 0.1},
    ),
    "adam": ("adam", torch.optim.Adam, {}),
    "adam-amsgrad": (
        {"name": "adam", "betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True},
        torch.optim.Adam,
        {"betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True},
    ),
}
MODES = {"full": (None, 60), "mini-batch 8": (8, 6), "stochastic": (1, 2)}


def torch_path(optimizer_class, kwargs, batch, epochs):
    """The parameters (b, w) at the start and after every step, from torch.optim."""
    x, y = torch.tensor(X), torch.tensor(Y)
    b = torch.tensor([B0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([b, w], lr=LR, **kwargs)
    path = [np.r_[B0, W0]]
    for epoch in range(epochs):
        for idx in batch_indices(N, batch, SEED, epoch):
            loss = ((b + x[idx] @ w - y[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            path.append(torch.cat([b, w]).detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(CASES))
def test_the_numpy_engine_follows_torch_optim(case, mode):
    spec, optimizer_class, kwargs = CASES[case]
    batch, epochs = MODES[mode]
    expected = torch_path(optimizer_class, kwargs, batch, epochs)
    got = gradstep.fit(X, Y, lr=LR, epochs=epochs, batch_size=batch, init=(B0, W0), seed=SEED,
                       engine="numpy", optimizer=spec, record_steps=True)  # fmt: skip
    path = np.column_stack([got.history.step_b, got.history.step_w])
    assert path.shape == expected.shape
    np.testing.assert_allclose(path, expected, rtol=1e-10, atol=1e-13)
    assert not np.array_equal(path[-1], path[0])


def test_the_state_is_torch_optims_state():
    """After the same steps, optimizers.py's state holds torch.optim's values."""
    spec, optimizer_class, kwargs = CASES["adam-amsgrad"]
    x, y = torch.tensor(X), torch.tensor(Y)
    b = torch.tensor([B0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([b, w], lr=LR, **kwargs)
    for _ in range(25):
        loss = ((b + x @ w - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    got = gradstep.fit(X, Y, lr=LR, epochs=25, init=(B0, W0), engine="numpy", optimizer=spec)
    state = got.extra["optimizer_state"]
    assert state["step"] == 25
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        expected = np.r_[optimizer.state[b][key].numpy(), optimizer.state[w][key].numpy()]
        np.testing.assert_allclose(state[key], expected, rtol=1e-10, err_msg=key)


def test_names_dicts_and_instances():
    assert resolve("sgd") == resolve(None) == SGD()
    assert resolve({"name": "sgd", "momentum": 0.5}) == Momentum(momentum=0.5)
    assert resolve({"name": "sgd", "momentum": 0.5, "nesterov": True}).name == "nesterov"
    assert resolve({"name": "sgd", "momentum": 0}) == SGD()
    assert resolve("nesterov") == Nesterov() and Nesterov().momentum == 0.9
    assert resolve({"name": "adam", "betas": [0.8, 0.9]}) == Adam(betas=(0.8, 0.9))
    assert resolve(Adam(amsgrad=True)).config() == {
        "name": "adam", "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": True,
    }  # fmt: skip
    for config in (resolve(n).config() for n in ("momentum", "rmsprop", "adagrad", "adam")):
        assert resolve(config).config() == config


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lbfgs", "optimizer='lbfgs' is not known"),
        (3, "optimizer=3 is not known"),
        ({"name": "adam", "lr": 0.1}, "no hyperparameter 'lr' .lr is fit's own argument"),
        ({"name": "adam", "beta": 0.9}, "no hyperparameter 'beta'"),
        ({"name": "adam", "betas": (0.9, 1.0)}, r"betas=\(0.9, 1.0\) must each be in \[0, 1\)"),
        ({"name": "adam", "betas": 0.9}, "betas=0.9 must be two numbers"),
        ({"name": "rmsprop", "eps": -1}, "eps=-1 must be finite and >= 0"),
        ({"name": "rmsprop", "centered": "yes"}, "centered='yes' must be True or False"),
        ({"name": "momentum", "momentum": 0}, r"momentum=0 must be > 0 \(momentum=0 is plain"),
        ({"name": "nesterov", "dampening": 0.1}, "dampening=0.1 must be 0"),
        ({"name": "sgd", "nesterov": True}, "nesterov=True needs a momentum > 0"),
        ({"name": "adagrad", "lr_decay": float("nan")}, "lr_decay=nan must be finite"),
    ],
)
def test_bad_optimizers_are_refused_in_one_line(spec, message):
    with pytest.raises(GradstepError, match=message) as info:
        gradstep.fit(X, Y, epochs=2, optimizer=spec)
    assert "\n" not in str(info.value)


def test_a_state_passed_back_is_checked():
    adam = resolve("adam")
    good = adam.init_state(D)
    assert check_state(adam, None, D) is None
    assert check_state(adam, good, D)["step"] == 0
    bad = [
        ({"step": 0}, "has keys"),
        ({**good, "exp_avg": np.zeros(D)}, r"optimizer_state\['exp_avg'\] must hold 3"),
        ({**good, "step": -1}, r"optimizer_state\['step'\]=-1"),
        ([1, 2], "must be the dict a previous fit returned"),
    ]
    for state, message in bad:
        with pytest.raises(GradstepError, match=message):
            gradstep.fit(X, Y, epochs=2, optimizer="adam", optimizer_state=state)
    with pytest.raises(GradstepError, match="keeps no state"):
        gradstep.fit(X, Y, epochs=2, optimizer_state=good)


def test_gdregressor_takes_an_optimizer_and_continues_its_state():
    from gradstep import GDRegressor

    options = dict(optimizer={"name": "adam", "amsgrad": True}, lr=0.01, tol=None)
    warm = GDRegressor(max_iter=10, warm_start=True, **options).fit(X, Y).fit(X, Y)
    straight = GDRegressor(max_iter=20, **options).fit(X, Y)
    np.testing.assert_array_equal(warm.coef_, straight.coef_)
    assert warm.optimizer_state_["step"] == straight.optimizer_state_["step"] == 20
    partial = GDRegressor(batch_size=8, **options)
    for _ in range(3):
        partial.partial_fit(X, Y)
    mini = GDRegressor(batch_size=8, max_iter=3, **options).fit(X, Y)
    np.testing.assert_array_equal(partial.coef_, mini.coef_)
    assert GDRegressor().get_params()["optimizer"] == "sgd"
    assert GDRegressor().fit(X, Y).optimizer_state_ is None
    with pytest.raises(GradstepError, match="optimizer='adamw' is not known"):
        GDRegressor(optimizer="adamw").fit(X, Y)
