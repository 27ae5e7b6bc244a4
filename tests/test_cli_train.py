"""``gradstep train`` end to end, on scikit-learn's diabetes data exported to CSV and Parquet."""

import io
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gradstep
from gradstep.cli import main

from conftest import ROOT, generated_doc_is_current, run_cli

TARGET = "progression"


def export_diabetes(folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray, list[str]]:
    """The diabetes table (442 x 10, original units) as CSV and Parquet, written here."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    x, y, names = bunch.data, bunch.target, list(bunch.feature_names)
    csv_path = folder / "diabetes.csv"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header=",".join([*names, TARGET]), comments="")  # fmt: skip
    parquet_path = folder / "diabetes.parquet"
    columns = {name: pa.array(x[:, j]) for j, name in enumerate(names)}
    pq.write_table(pa.table({**columns, TARGET: pa.array(y)}), parquet_path)
    return csv_path, parquet_path, x, y, names


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    return export_diabetes(tmp_path_factory.mktemp("data"))


def train(capsys, *args) -> dict:
    """Run ``gradstep train ARGS --json`` in this process; return the summary."""
    code = main(["train", *map(str, args), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def splitmix64(z: int) -> int:
    """SplitMix64's output function, written out on Python integers (an independent oracle)."""
    mask = (1 << 64) - 1
    z = (z + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def training_rows(n: int, val_fraction: float = 0.2, seed: int = 42) -> np.ndarray:
    """The documented split: row i validates when splitmix64(splitmix64(seed) + i), its top
    53 bits read as a number in [0, 1), is below the fraction (fewer than 2: none validate)."""
    key = splitmix64(seed)
    mask = (1 << 64) - 1
    held = np.array([(splitmix64((key + i) & mask) >> 11) * 2.0**-53 < val_fraction
                     for i in range(n)])  # fmt: skip
    return np.arange(n) if held.sum() < 2 else np.flatnonzero(~held)


def params(payload: dict, names: list[str]) -> np.ndarray:
    return np.array([payload["intercept"], *(payload["coef"][n] for n in names)])


@pytest.fixture(scope="module")
def default_run(diabetes, tmp_path_factory):
    """The default settings, through a real process, with figures and report."""
    csv_path, *_ = diabetes
    out = tmp_path_factory.mktemp("runs") / "diabetes"
    proc = run_cli("train", csv_path, "--target", TARGET, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def test_default_settings_land_on_least_squares(diabetes, default_run):
    _, _, x, y, names = diabetes
    payload, _ = default_run
    train_idx = training_rows(len(y))
    design = np.column_stack([np.ones(train_idx.size), x[train_idx]])
    expected = np.linalg.lstsq(design, y[train_idx], rcond=None)[0]
    got = params(payload, names)
    assert np.all(np.abs(got - expected) <= 1e-4 * np.abs(expected)), np.abs(got / expected - 1)
    closed_form = params(payload["closed_form"], names)  # from the statistics, ~1e-12 apart
    np.testing.assert_allclose(closed_form, expected, rtol=1e-9)
    assert payload["converged"] is True and payload["epochs_run"] < payload["epoch_cap"]
    assert payload["max_abs_diff_closed_form"] == pytest.approx(np.max(np.abs(got - closed_form)))
    assert payload["rows"] == {"train": 354, "validation": 88, "total": 442}
    assert payload["features"] == names and payload["scaled"] is True
    assert payload["lr_source"] == "auto" and payload["skipped_columns"] == {}


def test_summary_metrics_match_scikit_learn(diabetes, default_run):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    _, _, x, y, names = diabetes
    payload, _ = default_run
    b, w = payload["intercept"], np.array([payload["coef"][n] for n in names])
    train_idx = training_rows(len(y))
    val_idx = np.setdiff1d(np.arange(len(y)), train_idx)
    for key, rows in (("train", train_idx), ("validation", val_idx)):
        pred, truth = b + x[rows] @ w, y[rows]
        got = payload["metrics"][key]
        assert got["mse"] == pytest.approx(mean_squared_error(truth, pred), rel=1e-12)
        assert got["rmse"] == pytest.approx(np.sqrt(mean_squared_error(truth, pred)), rel=1e-12)
        assert got["mae"] == pytest.approx(mean_absolute_error(truth, pred), rel=1e-12)
        assert got["r2"] == pytest.approx(r2_score(truth, pred), rel=1e-12)
    assert payload["train_loss"] == payload["metrics"]["train"]["mse"]
    assert payload["val_loss"] == payload["metrics"]["validation"]["mse"]


def test_run_folder_holds_every_file(default_run):
    from gradstep.checkpoint import load_state

    payload, out = default_run
    assert payload["run_dir"] == str(out)
    assert json.loads((out / "summary.json").read_text()) == payload
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,b," + ",".join(f"w_{j}" for j in range(10)) + ",train_loss,val_loss"
    assert len((out / "metrics.csv").read_text().splitlines()) == payload["epochs_run"] + 1
    model = json.loads((out / "model.json").read_text())
    assert model["coef"] == payload["coef"] and model["intercept"] == payload["intercept"]
    assert model["target"] == TARGET and len(model["scaler"]["mean"]) == 10
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["lr"] == "auto" and config["sources"]["target"] == "command line"
    assert config["resolved"]["lr"] == payload["lr"]
    quadratic = json.loads((out / "quadratic.json").read_text())
    assert quadratic["n"] == 354 and len(quadratic["gram"]) == 11
    tensors, meta = load_state(out / "checkpoints" / "last.ckpt")
    assert meta["epoch"] == payload["epochs_run"] and tensors["history_b"].shape[0] == meta["epoch"]
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "loss_curves.png" in figures
    assert all((out / "figures" / name).stat().st_size for name in figures)
    assert (out / "report.html").stat().st_size > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["diabetes"]  # no temporary folder left


def test_parquet_gives_the_same_run_as_csv(diabetes, default_run, tmp_path, capsys):
    _, parquet_path, *_ = diabetes
    payload, _ = default_run
    got = train(capsys, parquet_path, "--target", TARGET, "--out", tmp_path / "pq", "--no-report")
    for key in ("intercept", "coef", "epochs_run", "train_loss", "val_loss", "closed_form"):
        assert got[key] == payload[key], key
    assert got["format"] == "parquet"
    # --format wins over the extension
    renamed = tmp_path / "table.bin"
    renamed.write_bytes(parquet_path.read_bytes())
    again = train(capsys, renamed, "--format", "parquet", "--target", TARGET, "--out",
                  tmp_path / "bin", "--no-report", "--epochs", "5")  # fmt: skip
    assert again["epochs_run"] == 5


def test_standard_input(diabetes, default_run, tmp_path):
    csv_path, *_ = diabetes
    payload, _ = default_run
    proc = run_cli("train", "-", "--target", TARGET, "--json", "--no-report", cwd=tmp_path,
                   stdin=csv_path.read_text())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["data"] == "standard input" and got["run_dir"] == str(Path("runs") / "stdin")
    assert got["coef"] == payload["coef"]
    assert (tmp_path / "runs" / "stdin" / "model.json").is_file()


def test_resume_continues_exactly(diabetes, default_run, tmp_path, capsys):
    csv_path, *_ = diabetes
    payload, out_full = default_run
    out = tmp_path / "resumed"
    first = train(capsys, csv_path, "--target", TARGET, "--out", out, "--epochs", 3000,
                  "--no-report")  # fmt: skip
    assert first["epochs_run"] == 3000 and first["converged"] is False
    # DATA and --target come from the run being resumed
    resumed = train(capsys, "--out", out, "--resume", "--epochs", 100_000)
    assert resumed["resumed_from_epoch"] == 3000
    for key in set(payload) - {"run_dir", "resumed_from_epoch"}:
        assert resumed[key] == payload[key], key
    assert (out / "metrics.csv").read_bytes() == (out_full / "metrics.csv").read_bytes()
    assert (out / "model.json").read_bytes() == (out_full / "model.json").read_bytes()
    config = json.loads((out / "config.json").read_text())
    assert config["sources"]["lr"] == "resumed run" and config["sources"]["data"] == "resumed run"


def test_resume_mini_batches_exactly(diabetes, tmp_path, capsys):
    csv_path, *_ = diabetes
    common = [csv_path, "--target", TARGET, "--batch-size", 32, "--tol", 0, "--no-report"]
    train(capsys, *common, "--epochs", 7, "--out", tmp_path / "a")
    train(capsys, *common, "--epochs", 15, "--out", tmp_path / "a", "--resume")
    train(capsys, *common, "--epochs", 15, "--out", tmp_path / "b")
    a, b = ((tmp_path / n / "metrics.csv").read_bytes() for n in "ab")
    assert a == b and len(a.splitlines()) == 16


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}  # fmt: skip


def test_interrupted_write_keeps_the_previous_run(diabetes, tmp_path, capsys, monkeypatch):
    import gradstep.runs.output as run_output

    csv_path, *_ = diabetes
    out = tmp_path / "runs" / "d"
    train(capsys, csv_path, "--target", TARGET, "--out", out, "--epochs", 20, "--no-report")
    before = snapshot(tmp_path)
    real_write = run_output.write_files

    def write_then_interrupt(folder, files):
        real_write(folder, files)
        raise KeyboardInterrupt

    monkeypatch.setattr(run_output, "write_files", write_then_interrupt)
    code = main(["train", str(csv_path), "--target", TARGET, "--out", str(out), "--force",
                 "--epochs", "30", "--no-report"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 130 and err == "gradstep: interrupted; no run folder was written or changed\n"
    assert snapshot(tmp_path) == before
    monkeypatch.setattr(run_output, "write_files", real_write)
    replaced = train(capsys, csv_path, "--target", TARGET, "--out", out, "--force", "--epochs", 30,
                     "--no-report")  # fmt: skip
    assert replaced["epochs_run"] == 30
    assert sorted(p.name for p in out.parent.iterdir()) == ["d"]


def test_ctrl_c_during_training_leaves_nothing(tmp_path):
    """SIGINT to a real process in the middle of a long descent: one line, exit 130, the
    existing run folder untouched and no temporary folder left behind."""
    import signal
    import subprocess
    import time

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    x[:, 1] = x[:, 0] + 1e-4 * x[:, 1]  # nearly collinear: the descent crawls
    np.savetxt(tmp_path / "slow.csv", np.column_stack([x, x @ [1.0, 2.0, 3.0]]), delimiter=",",
               header="a,b,c,y", comments="")  # fmt: skip
    (tmp_path / "runs" / "slow").mkdir(parents=True)  # a previous run, as --force requires
    (tmp_path / "runs" / "slow" / "config.json").write_text('{"gradstep_version": "0.1"}')
    (tmp_path / "runs" / "slow" / "metrics.csv").write_text("the previous run")
    before = snapshot(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradstep", "train", "slow.csv", "--target", "y", "--tol", "0",
         "--epochs", "1000000000", "--no-report", "--out", "runs/slow", "--force"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    time.sleep(6)  # past the imports and the checks, well inside the descent
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err == "gradstep: interrupted; no run folder was written or changed\n"
    assert out == "" and snapshot(tmp_path) == before


def test_config_file_and_the_command_line_wins(diabetes, tmp_path, capsys):
    csv_path, *_ = diabetes
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{csv_path}"\ntarget = "{TARGET}"\nfeatures = ["bmi", "s5"]\nlr = 0.05\n'
        "val-fraction = 0.25\n[train]\nreport = false\n"
    )
    got = train(capsys, "--config", config, "--lr", 0.1, "--out", tmp_path / "run")
    assert got["features"] == ["bmi", "s5"] and got["lr"] == 0.1
    assert got["rows"]["validation"] == 442 - training_rows(442, 0.25).size
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["sources"]["lr"] == "command line"
    assert saved["sources"]["features"] == f"config file {config}"
    assert saved["sources"]["epochs"] == "default" and saved["config_file"] == str(config)
    assert not (tmp_path / "run" / "report.html").exists()


def test_early_stopping_and_checkpoint_interval(diabetes, tmp_path, capsys):
    from gradstep.checkpoint import load_state

    csv_path, _, x, y, names = diabetes
    out = tmp_path / "es"
    got = train(capsys, csv_path, "--target", TARGET, "--out", out, "--early-stopping", 50,
                "--checkpoint-every", 10, "--no-report")  # fmt: skip
    assert got["stopped_early"] is True and got["converged"] is False
    best, run = got["best_epoch"], got["epochs_run"]
    assert run == best + 50
    metrics = np.loadtxt(out / "metrics.csv", delimiter=",", skiprows=1)
    assert metrics[:, -1].argmin() + 1 == best  # the lowest validation loss
    x_train = x[training_rows(len(y))]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)  # standardised, as the run says
    w = metrics[best - 1, 2:12] / std
    b = metrics[best - 1, 1] - mean @ w
    np.testing.assert_allclose(params(got, names), [b, *w], rtol=1e-12)
    files = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert files == sorted(["last.ckpt", "best.ckpt", *(f"epoch-{k}.ckpt" for k in
                                                           range(10, run + 1, 10))])  # fmt: skip
    tensors, meta = load_state(out / "checkpoints" / "epoch-10.ckpt")
    assert meta["epoch"] == 10 and float(tensors["b"][0]) == metrics[9, 1]
    np.testing.assert_array_equal(tensors["w"].numpy(), metrics[9, 2:12])


def test_text_columns_skipped_and_missing_rows_dropped(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = 1 + x @ [2.0, -1.0] + 0.1 * rng.normal(size=40)
    lines = ["city,a,b,y"] + [
        f"c{i},{a},{b},{t}" for i, ((a, b), t) in enumerate(zip(x, y, strict=True))
    ]
    lines[5] = "c4,,1.0,2.0"
    lines[9] = "c8,1.0,nan,2.0"
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    got = train(capsys, path, "--target", "y", "--drop-missing", "--out", tmp_path / "r",
                "--no-report")  # fmt: skip
    assert got["features"] == ["a", "b"] and got["skipped_columns"] == {"city": "text"}
    assert got["dropped_rows"] == 2 and got["rows"]["total"] == 40
    assert got["rows"]["train"] + got["rows"]["validation"] == 38
    code = main(["train", str(path), "--target", "y", "--drop-missing", "--out",
                 str(tmp_path / "r2"), "--no-report"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "skipped: city (text)" in text and "dropped: 2 row(s)" in text
    assert "converged after" in text and "largest difference from least squares" in text


def test_the_summary_says_when_it_did_not_converge(diabetes, tmp_path, capsys):
    csv_path, *_ = diabetes
    code = main(["train", str(csv_path), "--target", TARGET, "--epochs", "100", "--out",
                 str(tmp_path / "r"), "--no-report"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "did NOT converge within the cap of 100 epochs" in text
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["converged"] is False and summary["epochs_run"] == 100


def test_closed_form_copes_with_columns_of_very_different_sizes(tmp_path, capsys):
    """A feature in the 1e100s: lstsq on [1, x] drops the intercept's column as negligible;
    the comparison must still find the exact answer y = 1 + 2e-100 * big."""
    x = np.random.default_rng(1).normal(size=40)
    np.savetxt(tmp_path / "m.csv", np.column_stack([x * 1e100, 1 + 2 * x]), delimiter=",",
               header="big,y", comments="")  # fmt: skip
    got = train(capsys, tmp_path / "m.csv", "--target", "y", "--out", tmp_path / "r", "--scale",
                "--no-report")  # fmt: skip
    assert got["closed_form"]["intercept"] == pytest.approx(1.0, rel=1e-12)
    assert got["closed_form"]["coef"]["big"] == pytest.approx(2e-100, rel=1e-12)
    assert got["intercept"] == pytest.approx(1.0, rel=1e-9)
    assert got["max_abs_diff_closed_form"] < 1e-9


def test_closed_form_of_nearly_collinear_features_falls_back_to_lstsq(tmp_path, capsys):
    """Correlation 1 - 1e-12: too ill-conditioned for the normal equations of the
    statistics, so the comparison is solved by lstsq on the training rows."""
    rng = np.random.default_rng(4)
    a = rng.normal(size=60)
    x = np.column_stack([a, a + 1e-6 * rng.normal(size=60)])
    y = 1.0 + x @ [2.0, 3.0] + rng.normal(size=60)
    np.savetxt(tmp_path / "c.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header="a,b,y", comments="")  # fmt: skip
    got = train(capsys, tmp_path / "c.csv", "--target", "y", "--out", tmp_path / "r",
                "--no-report", "--epochs", 10)  # fmt: skip
    rows = training_rows(60)
    want = np.linalg.lstsq(np.column_stack([np.ones(rows.size), x[rows]]), y[rows], rcond=None)[0]
    np.testing.assert_allclose(params(got["closed_form"], ["a", "b"]), want, rtol=1e-6)


def test_features_read_only_the_columns_used(tmp_path, capsys, monkeypatch):
    """--features with --target: the other columns stay out of memory."""
    import gradstep.cli.train_run as train_run

    read = []
    real = train_run.read_table
    monkeypatch.setattr(train_run, "read_table",
                        lambda *a, **k: read.append(k.get("columns")) or real(*a, **k))  # fmt: skip
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("a,note,b,y\n" + "".join(f"{i},x{i},{i % 3},{2 * i + 1}\n"
                                                   for i in range(20)))  # fmt: skip
    got = train(capsys, csv_path, "--target", "y", "--features", "b,a", "--out",
                tmp_path / "r", "--no-report", "--epochs", 5)  # fmt: skip
    assert read == [["b", "a", "y"]] and got["features"] == ["b", "a"]
    assert got["rows"]["total"] == 20 and got["skipped_columns"] == {}
    train(capsys, csv_path, "--target", "y", "--out", tmp_path / "all", "--no-report",
          "--epochs", 5)  # fmt: skip
    assert read[-1] is None  # the default features are every numeric column: all are read


def test_help_and_guide_describe_every_option(capsys):
    from gradstep.cli.train import train as command
    from gradstep.runs.config import OPTIONS

    assert set(OPTIONS) == {p.name for p in command.params} - {"config_path"}
    assert main(["train", "--help"]) == 0
    help_text = capsys.readouterr().out
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    for param in command.params:
        for flag in [*param.opts, *param.secondary_opts]:
            if flag.startswith("--"):
                assert flag in help_text, flag
                assert f"`{flag}" in guide, f"docs/guide.md does not describe {flag}"
    for command_name in ("train", "predict", "evaluate", "compare"):
        assert f"gradstep {command_name}" in guide


def test_cli_reference_is_up_to_date():
    generated_doc_is_current("gen_cli_docs", "cli.md")


# ---------------------------------------------------------------- the pieces


def test_split_and_early_stop_rules():
    from gradstep.runs.train import early_stop, split_rows

    train_idx, val_idx = split_rows(1000, 0.3, seed=1)
    assert sorted([*train_idx, *val_idx]) == list(range(1000)) and 240 < val_idx.size < 360
    np.testing.assert_array_equal(train_idx, training_rows(1000, 0.3, seed=1))
    assert split_rows(3, 0.01, seed=1)[1].size == 0  # one validation row is not worth it
    # a row's fate depends on its position, not on which other rows are there
    positions = np.arange(0, 1000, 7)
    _, val_sub = split_rows(positions.size, 0.3, 1, positions)
    np.testing.assert_array_equal(positions[val_sub], np.intersect1d(positions, val_idx))
    val = np.array([5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 3.0])
    assert early_stop(val, patience=3) == (7, 4)
    assert early_stop(val, patience=5) == (None, 4)


def test_auto_lr_is_the_shared_rule_and_does_not_diverge():
    """Checked against eigenvalues and row norms of the explicit design matrix."""
    from gradstep.moments import Moments
    from gradstep.runs.train import Problem, auto_lr

    rng = np.random.default_rng(3)
    z = rng.normal(size=(50, 3)) * [1.0, 5.0, 0.2]
    y = z @ [1.0, -2.0, 3.0] + rng.normal(size=50)
    problem = Problem(["a", "b", "c"], "y", z, y, None, None,
                      np.arange(50), np.arange(0), None, Moments.from_data(z, y))  # fmt: skip
    design = np.column_stack([np.ones(50), z])
    eig = 2 * np.linalg.eigvalsh(design.T @ design / 50)
    top, mu = eig[-1], eig[0]
    assert auto_lr(problem, None) == pytest.approx(min(2 / (top + mu), 1.5 / top), rel=1e-10)
    l_max = 2 * (design**2).sum(axis=1).max()
    for k in (1, 5, 16):
        small = 50 % k or k
        expected = (50 * (small - 1) * top + (50 - small) * l_max) / (small * 49)
        lr = auto_lr(problem, k)
        assert lr == pytest.approx(1 / (2 * expected), rel=1e-10)
        result = gradstep.fit(z, y, lr=lr, epochs=200, batch_size=k, init="zeros", engine="numpy")
        assert np.isfinite(result.history.train_loss).all()
        assert result.history.train_loss[-1] < result.history.train_loss[0]


def test_stdin_in_process(diabetes, tmp_path, capsys, monkeypatch):
    csv_path, *_ = diabetes
    stdin = io.TextIOWrapper(io.BytesIO(csv_path.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    got = train(capsys, "-", "--target", TARGET, "--out", tmp_path / "s", "--no-report",
                "--epochs", 3)  # fmt: skip
    assert got["epochs_run"] == 3 and got["data"] == "standard input"


def _listed_files(text: str) -> list[str]:
    """The names in the summary's last line: 'Run folder: DIR/ (a, b, c/)'."""
    line = [ln for ln in text.splitlines() if ln.startswith("Run folder: ")][-1]
    return [name.strip() for name in line[line.index("(") + 1 : line.rindex(")")].split(",")]


def test_run_folder_line_lists_only_what_was_written(diabetes, default_run, tmp_path, capsys):
    from gradstep.cli.train_text import format_summary

    csv_path, *_ = diabetes
    out = tmp_path / "nr"
    code = main(["train", str(csv_path), "--target", TARGET, "--out", str(out),
                 "--epochs", "5", "--no-report"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    listed = _listed_files(text)
    assert "checkpoints/" in listed and "report.html" not in listed and "figures/" not in listed
    assert all((out / name).exists() for name in listed), listed
    payload, folder = default_run  # with the report: every listed file is there too
    listed = _listed_files(format_summary(payload, report=True))
    assert {"figures/", "report.html"} <= set(listed)
    assert all((folder / name).exists() for name in listed), listed


def test_resume_without_report_drops_the_stale_report(diabetes, tmp_path, capsys):
    csv_path, *_ = diabetes
    out = tmp_path / "stale"
    train(capsys, csv_path, "--target", TARGET, "--out", out, "--epochs", 20)
    assert (out / "report.html").exists() and (out / "figures").is_dir()
    resumed = train(capsys, "--out", out, "--resume", "--epochs", 40, "--no-report")
    assert resumed["epochs_run"] == 40
    assert not (out / "report.html").exists() and not (out / "figures").exists()
    assert (out / "model.json").exists() and (out / "checkpoints" / "last.ckpt").exists()


def test_constant_feature_gets_coefficient_zero_and_is_reported(tmp_path, capsys):
    """The shared policy: a constant column adds nothing the intercept does not."""
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("x,c,y\n" + "".join(f"{i},7,{2 * i + 1}\n" for i in range(20)))
    got = train(capsys, csv_path, "--target", "y", "--out", tmp_path / "run", "--no-report")
    assert got["coef"]["c"] == 0.0 and got["constant_features"] == ["c"]
    assert got["converged"] is True
    assert got["intercept"] == pytest.approx(1.0, rel=1e-7)
    assert got["coef"]["x"] == pytest.approx(2.0, rel=1e-7)
