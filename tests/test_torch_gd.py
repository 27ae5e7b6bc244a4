"""The four PyTorch engines against the NumPy engine (the oracle), and the shape check."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gradstep
from gradstep import DivergenceError, GradstepError, least_squares, make_data, steps
from gradstep.engines import torch_loop

VARIANTS = ["torch-autograd", "torch-optim", "torch-module", "torch-linear"]
DATA1 = make_data()  # the document's data, one feature
DATA3 = make_data(n=120, true_b=0.5, true_w=[1.0, -2.0, 3.0], seed=3)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# (data, batch_size, epochs, lr): full batch, mini-batch, stochastic
MODES = {
    "full-batch": (DATA1, None, 300, 0.1),
    "mini-batch": (DATA1, 16, 30, 0.1),
    "mini-batch-d3": (DATA3, 16, 30, 0.1),
    "stochastic": (DATA1, 1, 3, 0.05),
}
# the tolerances: float64 to about 1e-12 relative, float32 to about 1e-5
RTOL = {"float64": 1e-12, "float32": 1e-5}


def fit_both(engine, mode, dtype, device="auto", **extra):
    data, batch_size, epochs, lr = MODES[mode]
    kwargs = dict(
        lr=lr, epochs=epochs, batch_size=batch_size, seed=7, init="random",
        x_val=data.x_val, y_val=data.y_val, record_steps=True, **extra,
    )  # fmt: skip
    torch_fit = gradstep.fit(
        data.x_train, data.y_train, engine=engine, dtype=dtype, device=device, **kwargs
    )
    numpy_fit = gradstep.fit(data.x_train, data.y_train, engine="numpy", **kwargs)
    return torch_fit, numpy_fit


def assert_same_trajectory(got, expected, rtol):
    """Losses to ``rtol`` each; parameters to ``rtol`` of their largest size (a weight
    passing through zero has no relative error of its own)."""
    for name in ("b", "w", "train_loss", "val_loss", "step_b", "step_w"):
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == np.float64 and a.shape == b.shape, name
        atol = 0 if name.endswith("loss") else rtol * np.max(np.abs(b))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)
    assert got.first_epoch == expected.first_epoch
    assert got.converged == expected.converged


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("engine", VARIANTS)
def test_variant_follows_numpy_engine(engine, mode, dtype):
    torch_fit, numpy_fit = fit_both(engine, mode, dtype)
    assert torch_fit.engine == engine
    assert torch_fit.init_b == numpy_fit.init_b
    assert_same_trajectory(torch_fit.history, numpy_fit.history, RTOL[dtype])


@CUDA
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("engine", VARIANTS)
def test_variant_on_cuda_follows_numpy_engine(engine, dtype):
    for mode in ("full-batch", "mini-batch-d3"):
        torch_fit, numpy_fit = fit_both(engine, mode, dtype, device="cuda")
        assert_same_trajectory(torch_fit.history, numpy_fit.history, RTOL[dtype])


def test_default_dtype_is_float32():
    x, y = DATA1.x_train, DATA1.y_train
    default = gradstep.fit(x, y, engine="torch-autograd", epochs=50)
    as32 = gradstep.fit(x, y, engine="torch-autograd", epochs=50, dtype="float32")
    as64 = gradstep.fit(x, y, engine="torch-autograd", epochs=50, dtype="float64")
    assert np.array_equal(default.history.b, as32.history.b)
    assert not np.array_equal(as32.history.b, as64.history.b)
    # float32 values: exactly representable in float32
    assert np.array_equal(as32.history.b.astype(np.float32).astype(np.float64), as32.history.b)


@pytest.mark.parametrize("engine", VARIANTS)
def test_reaches_least_squares_in_float64(engine):
    x, y = DATA3.x_train, DATA3.y_train
    cf_b, cf_w = least_squares(x, y)
    result = gradstep.fit(x, y, engine=engine, dtype="float64", lr=0.3, epochs=3000, tol=1e-13)
    assert result.history.converged is True
    np.testing.assert_allclose([result.intercept, *result.coef], [cf_b, *cf_w], rtol=1e-9)


@pytest.mark.parametrize("engine", ["torch-optim", "torch-linear"])
def test_tolerance_stops_at_the_same_epoch_as_numpy(engine):
    kwargs = dict(lr=0.1, epochs=20_000, tol=1e-10)
    got = gradstep.fit(DATA1.x_train, DATA1.y_train, engine=engine, dtype="float64", **kwargs)
    expected = gradstep.fit(DATA1.x_train, DATA1.y_train, **kwargs)
    assert got.history.converged is expected.history.converged is True
    assert got.history.epochs == expected.history.epochs


@pytest.mark.parametrize("engine", ["torch-autograd", "torch-linear"])
def test_continuing_from_start_epoch_is_exact(engine):
    x, y = DATA3.x_train, DATA3.y_train
    kwargs = dict(engine=engine, dtype="float64", batch_size=16, seed=5)
    whole = gradstep.fit(x, y, epochs=12, **kwargs)
    first = gradstep.fit(x, y, epochs=6, **kwargs)
    rest = gradstep.fit(x, y, epochs=6, init=(first.intercept, first.coef), start_epoch=6, **kwargs)
    assert rest.history.first_epoch == 7
    assert rest.intercept == whole.intercept
    assert np.array_equal(rest.coef, whole.coef)
    assert np.array_equal(rest.history.train_loss, whole.history.train_loss[6:])


@pytest.mark.parametrize("engine", VARIANTS)
def test_divergence_raises_like_numpy(engine):
    kwargs = dict(lr=10.0, epochs=1000)
    x = DATA1.x_train * 1e3
    with pytest.raises(DivergenceError) as expected:
        gradstep.fit(x, DATA1.y_train, **kwargs)
    with pytest.raises(DivergenceError) as got:
        gradstep.fit(x, DATA1.y_train, engine=engine, dtype="float64", **kwargs)
    assert str(got.value) == str(expected.value)
    with pytest.raises(DivergenceError, match=r"epoch \d+, step \d+.*smaller learning rate"):
        gradstep.fit(x, DATA1.y_train, engine=engine, **kwargs)


def test_caller_arrays_are_not_modified():
    w = np.array([0.1, 0.2, 0.3])
    x, y = DATA3.x_train.copy(), DATA3.y_train.copy()
    for variant in VARIANTS:
        torch_loop.descend(
            variant, x, y, 0.5, w, lr=0.1, epochs=3, batch_size=None, seed=0,
            device="cpu", dtype="float64",
        )  # fmt: skip
    assert np.array_equal(w, [0.1, 0.2, 0.3])
    assert np.array_equal(x, DATA3.x_train) and np.array_equal(y, DATA3.y_train)


def test_modules_hold_the_parameters():
    run = torch_loop.descend(
        "torch-module", DATA3.x_train, DATA3.y_train, 0.5, np.zeros(3),
        lr=0.1, epochs=5, batch_size=None, seed=0, device="cpu", dtype="float64",
    )  # fmt: skip
    assert isinstance(run.module, torch_loop.ManualLinearRegression)
    assert [name for name, p in run.module.named_parameters()] == ["b", "w"]
    assert run.module.state_dict()["w"].tolist() == run.history.w[-1].tolist()
    run = torch_loop.descend(
        "torch-linear", DATA3.x_train, DATA3.y_train, 0.5, np.zeros(3),
        lr=0.1, epochs=5, batch_size=None, seed=0, device="cpu", dtype="float64",
    )  # fmt: skip
    assert isinstance(run.module, nn.Sequential) and isinstance(run.module[0], nn.Linear)
    state = run.module.state_dict()
    assert list(state) == ["0.weight", "0.bias"] and state["0.weight"].shape == (1, 3)
    assert state["0.bias"].item() == run.history.b[-1]


def test_torch_random_state_is_left_alone():
    before = torch.get_rng_state()
    for engine in VARIANTS:
        gradstep.fit(DATA3.x_train, DATA3.y_train, engine=engine, epochs=2, batch_size=8)
    assert torch.equal(torch.get_rng_state(), before)


# --- options ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"engine": "torch-optim", "dtype": "float16"}, "dtype='float16'"),
        ({"engine": "torch-optim", "dtype": "double"}, "'float32' or 'float64'"),
        ({"engine": "torch-module", "device": "tpu"}, "device='tpu'"),
        ({"engine": "torch-module", "device": "cuda:x"}, "device='cuda:x'"),
        ({"engine": "torch-linear", "device": 0}, "must be a string"),
        ({"engine": "numpy", "device": "cuda"}, "runs on the CPU only"),
        ({"engine": "numpy", "dtype": "float32"}, "float64 only"),
        ({"engine": "torch"}, "torch-autograd"),
    ],
)
def test_bad_options(kwargs, fragment):
    with pytest.raises(GradstepError) as info:
        gradstep.fit(DATA1.x_train, DATA1.y_train, epochs=2, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(GradstepError, match="CUDA is not available.*device='cpu'"):
        gradstep.fit(DATA1.x_train, DATA1.y_train, engine="torch-autograd", device="cuda")
    assert torch_loop.resolve_device("auto") == torch.device("cpu")


def test_numpy_engine_accepts_cpu_and_float64():
    a = gradstep.fit(DATA1.x_train, DATA1.y_train, epochs=5)
    b = gradstep.fit(DATA1.x_train, DATA1.y_train, epochs=5, device="cpu", dtype="float64")
    assert np.array_equal(a.history.b, b.history.b)


def test_importing_gradstep_does_not_import_torch():
    code = "import sys, gradstep; gradstep.fit([0., 1., 2.], [1., 3., 5.], epochs=2); "
    code += "print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


# --- shape safety ------------------------------------------------------------


def test_mse_loss_broadcasts_to_a_wrong_answer_with_only_a_warning():
    """Why the check exists: (n, 1) predictions against (n,) targets train wrongly."""
    x = torch.as_tensor(DATA1.x_train, dtype=torch.float64)
    y = torch.as_tensor(DATA1.y_train, dtype=torch.float64)
    model = torch_loop.linear_model(0.0, [0.0], dtype=torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss(reduction="mean")
    with pytest.warns(UserWarning, match="target size"):
        for _ in range(2000):
            loss = loss_fn(model(x), y)  # (80, 1) against (80,): an (80, 80) difference
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    cf_b, cf_w = least_squares(DATA1.x_train, DATA1.y_train)
    b, w = model[0].bias.item(), model[0].weight.item()
    assert abs(w - cf_w[0]) > 1.5  # w goes to ~0: every x is paired with every y
    assert b == pytest.approx(DATA1.y_train.mean(), abs=1e-3)


@pytest.mark.parametrize(
    "pred_shape, target_shape, hint",
    [((80, 1), (80,), "target.unsqueeze(-1)"), ((80,), (80, 1), "target.squeeze(-1)"),
     ((80,), (79,), "same shape")],
)  # fmt: skip
def test_shape_check_raises_before_the_loss(pred_shape, target_shape, hint):
    pred, target = torch.zeros(pred_shape), torch.zeros(target_shape)
    for compute in (
        lambda: torch_loop.checked_mse(pred, target),
        lambda: torch_loop.checked_loss(nn.MSELoss(), pred, target),
    ):
        with pytest.raises(GradstepError) as info:
            compute()
        message = str(info.value)
        assert str(pred_shape) in message and str(target_shape) in message
        assert hint in message and "\n" not in message


def test_engines_check_shapes_before_every_loss(monkeypatch):
    """If the (n, 1) predictions of nn.Linear met (n,) targets, the engine would refuse."""
    monkeypatch.setattr(torch_loop._Linear, "targets", lambda self, y: y)
    with pytest.raises(GradstepError, match=r"shape \(80, 1\) and targets of shape \(80,\)"):
        gradstep.fit(DATA1.x_train, DATA1.y_train, engine="torch-linear", epochs=5)


def test_checked_loss_passes_equal_shapes_through():
    pred = torch.tensor([[1.0], [2.0]])
    target = torch.tensor([[0.0], [4.0]])
    assert torch_loop.checked_mse(pred, target).item() == pytest.approx(2.5)
    assert torch_loop.checked_loss(nn.MSELoss(), pred, target).item() == pytest.approx(2.5)


def test_numpy_engine_is_unchanged_by_torch_options():
    """The NumPy oracle itself: batches come from one function shared by every engine."""
    batches = list(steps.batch_indices(10, 4, seed=1, epoch=2))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
