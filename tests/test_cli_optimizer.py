"""``gradstep train --optimizer``: the options, what the run folder records, and ``--resume``
continuing a stateful optimizer bit for bit."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_train import TARGET, export_diabetes, train

from gradstep.checkpoint import load_state
from gradstep.cli import main
from gradstep.engines.optimizers import Adam
from gradstep.runs.output import LAST


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory) -> Path:
    return export_diabetes(tmp_path_factory.mktemp("data"))[0]


def fails(capsys, *args) -> str:
    """Run ``gradstep train ARGS`` in this process; it must exit 2 with one line."""
    code = main(["train", *map(str, args)])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, (code, captured.out, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def same_folders(a: Path, b: Path) -> None:
    """The same descent: metrics, model and last checkpoint (tensors and state) equal."""
    for name in ("metrics.csv", "model.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    (ta, ma), (tb, mb) = (load_state(p / "checkpoints" / LAST, as_numpy=True) for p in (a, b))
    assert sorted(ta) == sorted(tb)
    for name in ta:
        assert np.array_equal(ta[name], tb[name]), name
    assert ma["optimizer_state"] == mb["optimizer_state"]


def test_adam_is_recorded_in_config_summary_and_checkpoint(diabetes_csv, tmp_path, capsys):
    out = tmp_path / "adam"
    got = train(capsys, diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--lr", 0.1,
                "--betas", "0.8,0.99", "--amsgrad", "--epochs", 50, "--tol", 0, "--out", out,
                "--no-report")  # fmt: skip
    want = {"name": "adam", "betas": [0.8, 0.99], "eps": 1e-8, "amsgrad": True}
    assert got["optimizer"] == want
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert summary["optimizer"] == want and config["resolved"]["optimizer"] == want
    options = config["options"]
    assert options["optimizer"] == "adam" and options["betas"] == [0.8, 0.99]
    assert options["amsgrad"] is True and options["momentum"] is None
    assert config["sources"]["betas"] == "command line"
    tensors, meta = load_state(out / "checkpoints" / "last.ckpt", as_numpy=True)
    assert meta["optimizer"] == want
    assert meta["optimizer_state"] == {"step": 50, "exp_avg": "tensor", "exp_avg_sq": "tensor",
                                       "max_exp_avg_sq": "tensor"}  # fmt: skip
    assert tensors["optimizer_state.exp_avg"].shape == (11,)
    assert tensors["optimizer_state.exp_avg"].dtype == np.float64


def test_plain_sgd_keeps_no_state_and_text_says_nothing(diabetes_csv, tmp_path, capsys):
    out = tmp_path / "sgd"
    got = train(capsys, diabetes_csv, "--target", TARGET, "--epochs", 20, "--out", out,
                "--no-report")  # fmt: skip
    assert got["optimizer"] == {"name": "sgd"}
    tensors, meta = load_state(out / "checkpoints" / "last.ckpt", as_numpy=True)
    assert meta["optimizer_state"] is None and not any(k.startswith("optimizer") for k in tensors)


def test_options_from_the_config_file(diabetes_csv, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('optimizer = "rmsprop"\nalpha = 0.9\ncentered = true\nmomentum = 0.5\n'
                      "lr = 0.01\nepochs = 30\ntol = 0\nreport = false\n")  # fmt: skip
    got = train(capsys, diabetes_csv, "--target", TARGET, "--config", config,
                "--out", tmp_path / "r")  # fmt: skip
    assert got["optimizer"] == {"name": "rmsprop", "alpha": 0.9, "eps": 1e-8,
                                "momentum": 0.5, "centered": True}  # fmt: skip
    sources = json.loads((tmp_path / "r" / "config.json").read_text())["sources"]
    assert sources["alpha"].startswith("config file")


def test_sgd_with_momentum_is_torch_optim_sgd_with_momentum(diabetes_csv, tmp_path, capsys):
    common = [diabetes_csv, "--target", TARGET, "--epochs", 40, "--tol", 0, "--no-report"]
    a = train(capsys, *common, "--momentum", 0.9, "--nesterov", "--out", tmp_path / "a")
    b = train(capsys, *common, "--optimizer", "nesterov", "--out", tmp_path / "b")
    assert a["optimizer"] == b["optimizer"] == {"name": "nesterov", "momentum": 0.9,
                                                 "dampening": 0.0, "nesterov": True}  # fmt: skip
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (
        tmp_path / "b" / "metrics.csv"
    ).read_bytes()


@pytest.mark.parametrize("batch", [None, 32])
def test_resumed_adam_equals_an_uninterrupted_run_bit_for_bit(diabetes_csv, tmp_path, capsys,
                                                               batch):  # fmt: skip
    common = [diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--no-report"]
    if batch is None:
        common += ["--lr", 0.1]  # full batch: stops on the certified tol, at epoch 7091
        first, total = 3000, 100_000
    else:
        common += ["--lr", 0.01, "--batch-size", batch, "--tol", 0]
        first, total = 7, 15
    whole = train(capsys, *common, "--epochs", total, "--out", tmp_path / "whole")
    train(capsys, *common, "--epochs", first, "--out", tmp_path / "parts")
    # the optimizer and its hyperparameters come from the run being resumed
    resumed = train(capsys, "--out", tmp_path / "parts", "--resume", "--epochs", total)
    assert resumed["resumed_from_epoch"] == first
    assert resumed["epochs_run"] == whole["epochs_run"] > first
    for key in set(whole) - {"run_dir", "resumed_from_epoch"}:
        assert resumed[key] == whole[key], key
    same_folders(tmp_path / "whole", tmp_path / "parts")


def test_resume_restores_the_state_it_saved(diabetes_csv, tmp_path, capsys, monkeypatch):
    """Resuming starts the descent from the checkpoint's moments and step, not afresh."""
    import gradstep.runs.train as run_train

    out = tmp_path / "r"
    common = [diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--lr", 0.05,
              "--tol", 0, "--no-report", "--out", out]  # fmt: skip
    train(capsys, *common, "--epochs", 10)
    tensors, _ = load_state(out / "checkpoints" / "last.ckpt", as_numpy=True)
    seen = []
    real = run_train.descend

    def spy(*args, **kwargs):
        seen.append(kwargs["state"])
        return real(*args, **kwargs)

    monkeypatch.setattr(run_train, "descend", spy)
    train(capsys, "--out", out, "--resume", "--epochs", 12)
    (state,) = seen
    assert state["step"] == 10
    assert np.array_equal(state["exp_avg"], tensors["optimizer_state.exp_avg"])
    assert np.array_equal(state["exp_avg_sq"], tensors["optimizer_state.exp_avg_sq"])


def test_hyperparameters_are_locked_on_resume(diabetes_csv, tmp_path, capsys):
    out = tmp_path / "r"
    train(capsys, diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--lr", 0.1,
          "--epochs", 5, "--tol", 0, "--no-report", "--out", out)  # fmt: skip
    err = fails(capsys, "--out", out, "--resume", "--epochs", 9, "--betas", "0.5,0.9")
    assert "--betas" in err and "contradicts the run being resumed" in err
    err = fails(capsys, "--out", out, "--resume", "--epochs", 9, "--optimizer", "sgd")
    assert "--optimizer" in err
    # config.json edited after the run: the checkpoint says which optimizer it holds
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["options"]["betas"] = [0.5, 0.9]
    config_path.write_text(json.dumps(config))
    err = fails(capsys, "--out", out, "--resume", "--epochs", 9)
    assert "optimizer" in err and "was trained with" in err


def test_a_checkpoint_without_its_state_is_refused(diabetes_csv, tmp_path, capsys):
    from gradstep.checkpoint import save_state

    out = tmp_path / "r"
    train(capsys, diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--lr", 0.1,
          "--epochs", 5, "--tol", 0, "--no-report", "--out", out)  # fmt: skip
    path = out / "checkpoints" / "last.ckpt"
    tensors, meta = load_state(path, as_numpy=True)
    del tensors["optimizer_state.exp_avg"]
    save_state(path, tensors, meta)
    assert "optimizer_state.exp_avg" in fails(capsys, "--out", out, "--resume", "--epochs", 9)
    meta["optimizer_state"] = None
    save_state(path, tensors, meta)
    assert "no optimizer state" in fails(capsys, "--out", out, "--resume", "--epochs", 9)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--optimizer", "adamw"], "choose one of sgd, momentum"),
        (["--optimizer", "adam", "--momentum", 0.5], "--momentum is not a hyperparameter"),
        (["--optimizer", "momentum", "--amsgrad"], "it takes: --momentum, --nesterov"),
        (["--alpha", 0.9], "--alpha is not a hyperparameter of --optimizer sgd"),
        (["--optimizer", "adam", "--betas", "0.9"], "--betas '0.9' must be two numbers"),
        (["--optimizer", "adam", "--betas", "0.9,1"], "in [0, 1)"),
        (["--optimizer", "adam", "--eps", "-1"], "--eps '-1' must be"),
        (["--optimizer", "adagrad", "--lr-decay", "nan"], "--lr-decay 'nan'"),
        (["--optimizer", "momentum", "--momentum", 0], "momentum=0.0 must be > 0"),
        (["--nesterov"], "nesterov=True needs a momentum > 0"),
        (["--optimizer", "adam", "--engine", "compiled"], "--engine compiled runs"),
        (["--optimizer", "adam", "--stream"], "--stream with --optimizer adam"),
    ],
)
def test_bad_optimizer_options_are_one_line_errors(diabetes_csv, tmp_path, capsys, args,
                                                   fragment):  # fmt: skip
    err = fails(capsys, diabetes_csv, "--target", TARGET, "--out", tmp_path / "r", *args)
    assert fragment in err
    assert not (tmp_path / "r").exists()


def test_bad_optimizer_in_the_config_file(diabetes_csv, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('optimizer = "adam"\nbetas = "x,y"\n')
    err = fails(capsys, diabetes_csv, "--target", TARGET, "--config", config)
    assert err.startswith("gradstep: error: betas in ") and "two numbers" in err


def test_adam_matches_fit_on_the_descent_units(diabetes_csv, tmp_path, capsys):
    """The CLI's Adam is the library's: the same per-epoch parameters as ``gradstep.fit``
    on the standardised training rows from zero."""
    import gradstep
    from gradstep.runs.train import prepare
    from gradstep.table import read_table, select

    out = tmp_path / "r"
    train(capsys, diabetes_csv, "--target", TARGET, "--optimizer", "adam", "--lr", 0.1,
          "--epochs", 25, "--tol", 0, "--no-report", "--out", out)  # fmt: skip
    problem = prepare(select(read_table(str(diabetes_csv)), None, TARGET), 0.2, 42, True)
    want = gradstep.fit(problem.z_train, problem.y_train, lr=0.1, epochs=25, init="zeros",
                        optimizer=Adam(), engine="numpy")  # fmt: skip
    metrics = np.loadtxt(out / "metrics.csv", delimiter=",", skiprows=1)
    assert np.array_equal(metrics[:, 1], want.history.b)
    assert np.array_equal(metrics[:, 2:12], want.history.w)
