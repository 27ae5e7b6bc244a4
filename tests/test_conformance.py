"""Every registered engine, in every mode and for every optimizer it declares, against the
plain NumPy loop.

Parametrised over ``gradstep.engines.REGISTRY``: a new engine is covered by adding it
there. The oracle is the ``numpy`` engine (steps 1-4 of the document in float64; step 4
from ``engines/optimizers.py`` for the other optimizers) from the same start with the
same batches; ``tol`` is checked against least squares. The torch engines step with
``torch.optim``'s own classes, so for them this also compares two implementations.
"""

import numpy as np
import pytest

import gradstep
from gradstep import DivergenceError, GradstepError
from gradstep.engines import FULL, MINI, REGISTRY
from gradstep.engines.optimizers import NAMES

RNG = np.random.default_rng(7)
N, D = 240, 3
X = RNG.normal(size=(N, D)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 2.0]
Y = 1.5 + X @ [2.0, -1.0, 0.5] + 0.1 * RNG.normal(size=N)
X_VAL = RNG.normal(size=(40, D))
Y_VAL = 1.5 + X_VAL @ [2.0, -1.0, 0.5]
START = (0.3, np.array([0.1, -0.2, 0.05]))

MODES = {"full": None, "mini-batch 16": 16, "stochastic": 1}
# One configuration per optimizer, off the defaults where that reaches more of the rule
# (tests/test_optimizers.py checks the defaults against torch.optim). Momentum multiplies
# float32 rounding by about 1 / (1 - momentum): with Nesterov's default 0.9, 960 float32
# stochastic steps drift 1.2e-5 from the float64 loop, so these runs use 0.8.
OPTIMIZERS = {
    "sgd": "sgd",
    "momentum": {"name": "momentum", "momentum": 0.8, "dampening": 0.1},
    "nesterov": {"name": "nesterov", "momentum": 0.8},
    "rmsprop": {"name": "rmsprop", "momentum": 0.5, "centered": True},
    "adagrad": {"name": "adagrad", "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "adam": {"name": "adam", "amsgrad": True},
}
assert set(OPTIMIZERS) == set(NAMES)


def cases(optimizers=("sgd",)):
    for name, spec in REGISTRY.items():
        for mode, batch in MODES.items():
            if (FULL if batch is None else MINI) not in spec.capabilities.batching:
                continue
            for dtype in sorted(spec.capabilities.dtypes):
                for opt in sorted(spec.capabilities.optimizers & set(optimizers)):
                    suffix = "" if opt == "sgd" else f"-{opt}"
                    yield pytest.param(name, batch, dtype, opt, id=f"{name}-{mode}-{dtype}{suffix}")


def run(engine, batch, dtype="float64", opt="sgd", **kwargs):
    options = {"dtype": dtype, "device": "cpu"} if engine.startswith("torch-") else {}
    kwargs.setdefault("epochs", 30 if batch != 1 else 4)
    kwargs.setdefault("lr", 0.02)
    kwargs.setdefault("init", START)
    kwargs.setdefault("optimizer", OPTIMIZERS[opt])
    return gradstep.fit(X, Y, batch_size=batch, seed=3, x_val=X_VAL,
                        y_val=Y_VAL, engine=engine, **options, **kwargs)  # fmt: skip


@pytest.mark.parametrize(("engine", "batch", "dtype", "opt"), list(cases(NAMES)))
def test_follows_the_plain_loop(engine, batch, dtype, opt):
    oracle = run("numpy", batch, opt=opt, record_steps=True).history
    got = run(engine, batch, dtype, opt, record_steps=True)
    assert got.engine == engine and got.extra["optimizer"]["name"] == opt
    h = got.history
    rtol = 1e-12 if dtype == "float64" else 1e-5
    assert h.epochs == oracle.epochs and h.first_epoch == oracle.first_epoch == 1
    for name in ("b", "w", "train_loss", "val_loss", "step_b", "step_w"):
        np.testing.assert_allclose(getattr(h, name), getattr(oracle, name), rtol=rtol,
                                   atol=rtol * 1e-2, err_msg=name)  # fmt: skip


@pytest.mark.parametrize(("engine", "batch", "dtype", "opt"), list(cases(NAMES)))
def test_continues_exactly_after_a_stop(engine, batch, dtype, opt):
    whole = run(engine, batch, dtype, opt, epochs=6)
    first = run(engine, batch, dtype, opt, epochs=2)
    h = first.history
    rest = run(engine, batch, dtype, opt, epochs=4, start_epoch=2, init=(h.b[-1], h.w[-1]),
               optimizer_state=first.extra["optimizer_state"])  # fmt: skip
    assert rest.history.first_epoch == 3
    np.testing.assert_array_equal(np.r_[h.b, rest.history.b], whole.history.b)
    np.testing.assert_array_equal(np.vstack([h.w, rest.history.w]), whole.history.w)
    assert_same_state(rest.extra["optimizer_state"], whole.extra["optimizer_state"])
    assert (whole.extra["optimizer_state"] is None) == (opt == "sgd")


def assert_same_state(got, expected, rtol=0.0):
    if expected is None:
        assert got is None
        return
    assert set(got) == set(expected)
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(got[key], value, rtol=rtol, atol=0, err_msg=key)
        else:
            assert got[key] == value, key


@pytest.mark.parametrize(
    "engine", [n for n, s in REGISTRY.items() if FULL in s.capabilities.batching]
)
def test_stops_on_tol_at_the_same_epoch_and_is_certified(engine):
    kwargs = {"dtype": "float64"} if engine.startswith("torch-") else {}
    results = {
        name: gradstep.fit(
            X,
            Y,
            lr=0.05,
            epochs=20_000,
            init=START,
            tol=1e-7,
            engine=name,
            **(kwargs if name == engine else {}),
        )  # fmt: skip
        for name in ("numpy", engine)
    }
    oracle, got = results["numpy"], results[engine]
    assert got.history.converged is True and got.extra["stop_reason"] == "tol"
    assert got.history.epochs == oracle.history.epochs < 20_000
    b_star, w_star = gradstep.least_squares(X, Y)
    theta, theta_star = np.r_[got.intercept, got.coef], np.r_[b_star, w_star]
    assert np.abs(theta - theta_star).max() <= 1e-7 * max(1.0, np.abs(theta).max())


FLOAT64_SGD_AND_MOMENTUM = [c for c in cases(("sgd", "momentum")) if c.values[2] == "float64"]


@pytest.mark.parametrize(("engine", "batch", "dtype", "opt"), FLOAT64_SGD_AND_MOMENTUM)
def test_same_divergence_error_at_the_same_epoch_and_step(engine, batch, dtype, opt):
    lr = 3.0 if batch is None else 1.0
    messages = []
    for name in ("numpy", engine):
        with pytest.raises(DivergenceError) as info:
            run(name, batch, dtype, opt, epochs=400, lr=lr)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "epoch" in messages[0] and "step" in messages[0]


def test_the_history_content_is_the_same_kind_for_every_engine():
    fields = {
        name: {k: type(v) for k, v in vars(run(name, None, epochs=3).history).items()}
        for name in REGISTRY
        if FULL in REGISTRY[name].capabilities.batching
    }
    assert all(f == fields["numpy"] for f in fields.values())


def test_float32_data_is_summed_in_float64():
    """A float32 sum over 10^6 values drifts; the engines' float64 accumulation does not."""
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.random((1_000_000, 1))).astype(np.float32)
    y = (3.0 * x[:, 0] + 1.0).astype(np.float32)
    exact = gradstep.fit(x.astype(np.float64), y.astype(np.float64), lr=1e-7, epochs=2,
                         init=(0.0, [0.0]), engine="numpy")  # fmt: skip
    for engine in ("stats", "compiled"):
        got = gradstep.fit(x, y, lr=1e-7, epochs=2, init=(0.0, [0.0]), engine=engine)
        np.testing.assert_allclose(got.history.w, exact.history.w, rtol=1e-12)
        np.testing.assert_allclose(got.history.train_loss, exact.history.train_loss, rtol=1e-12)
    # the test can fail: a running float32 sum of the same products is off by far more
    running = np.cumsum(x[:, 0] * y, dtype=np.float32)[-1]
    reference = (x[:, 0].astype(np.float64) * y.astype(np.float64)).sum()
    assert abs(running - reference) / reference > 1e-6


def test_auto_picks_an_engine_and_says_which():
    small = gradstep.fit(X, Y, epochs=5)
    assert small.engine == "numpy"
    big_x = np.repeat(X, 300, axis=0)
    big_y = np.repeat(Y, 300)
    assert gradstep.fit(big_x, big_y, lr=0.05, epochs=3).engine == "stats"
    assert gradstep.fit(big_x, big_y, lr=0.01, epochs=1, batch_size=64).engine == "compiled"


def test_an_engine_refuses_a_mode_it_does_not_declare():
    with pytest.raises(GradstepError, match="engine='stats' does not run mini-batch"):
        gradstep.fit(X, Y, batch_size=8, engine="stats")


def test_stats_engine_on_the_compiled_statistics_pass():
    """Past Moments.SMALL the statistics come from the compiled kernel: same iterates."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120_000, 2)) + [3.0, -1.0]
    y = 0.5 + x @ [1.0, 2.0] + rng.normal(size=120_000)
    runs = [
        gradstep.fit(x, y, lr=0.05, epochs=25, init=START[:1] + (START[1][:2],), engine=name)
        for name in ("numpy", "stats")
    ]
    np.testing.assert_allclose(runs[1].history.w, runs[0].history.w, rtol=1e-11)
    np.testing.assert_allclose(runs[1].history.train_loss, runs[0].history.train_loss, rtol=1e-11)


@pytest.mark.parametrize(
    "engine",
    [n for n, s in REGISTRY.items() if {FULL} <= s.capabilities.batching
     and "nesterov" in s.capabilities.optimizers],
)  # fmt: skip
def test_a_stateful_optimizer_stopped_mid_chunk_hands_back_the_state_there(engine):
    """The driver cuts the chunk at the certified epoch and replays it for the state."""
    kwargs = {"dtype": "float64", "device": "cpu"} if engine.startswith("torch-") else {}
    options = dict(lr=0.02, init=START, engine=engine, optimizer="nesterov", **kwargs)
    stopped = gradstep.fit(X, Y, epochs=20_000, tol=1e-7, **options)
    k = stopped.history.epochs
    assert stopped.extra["stop_reason"] == "tol" and 1 < k < 1_000  # inside the first chunk
    oracle = gradstep.fit(X, Y, epochs=20_000, tol=1e-7, lr=0.02, init=START, optimizer="nesterov")
    assert oracle.history.epochs == k
    straight = gradstep.fit(X, Y, epochs=k + 5, **options)
    assert_same_state(stopped.extra["optimizer_state"],
                      gradstep.fit(X, Y, epochs=k, **options).extra["optimizer_state"])  # fmt: skip
    options["init"] = (stopped.intercept, stopped.coef)
    state = stopped.extra["optimizer_state"]
    rest = gradstep.fit(X, Y, epochs=5, start_epoch=k, optimizer_state=state, **options)
    np.testing.assert_array_equal(rest.history.w, straight.history.w[k:])


def test_an_engine_refuses_an_optimizer_it_does_not_declare():
    with pytest.raises(GradstepError, match="engine='compiled' runs optimizer sgd only, so "
                       "optimizer='adam' cannot be used") as info:  # fmt: skip
        gradstep.fit(X, Y, batch_size=8, engine="compiled", optimizer="adam")
    assert "\n" not in str(info.value)


def test_auto_picks_an_engine_that_runs_the_optimizer():
    big_x, big_y = np.repeat(X, 300, axis=0), np.repeat(Y, 300)
    mini = dict(lr=0.001, epochs=1, batch_size=4096)
    assert gradstep.fit(big_x, big_y, optimizer="adam", **mini).engine == "numpy"
    assert gradstep.fit(big_x, big_y, **mini).engine == "compiled"
    assert gradstep.fit(big_x, big_y, lr=0.05, epochs=3, optimizer="adam").engine == "stats"
    small = gradstep.fit(X, Y, epochs=3, optimizer="rmsprop", dtype="float32")
    assert small.engine == "torch-autograd"
