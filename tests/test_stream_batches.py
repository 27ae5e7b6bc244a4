"""Streamed mini-batch and stochastic descent (``gradstep train --stream --batch-size K``):
the shuffle (every training row once an epoch, reproducible per (seed, epoch)), the steps
against the plain loop's on the same visiting order, the in-memory run when one window
holds the table, and convergence to least squares within the noise of SGD."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradstep.cli import main
from gradstep.engines import kernels
from gradstep.engines.base import Settings
from gradstep.runs.train import validation_mask
from gradstep.steps import epoch_order
from gradstep.stream import fit_table
from gradstep.stream.batches import StreamedBatches, window_order
from gradstep.stream.fit import StreamOptions
from gradstep.stream.source import open_source

N, NAMES = 70_000, ["a", "b"]  # > 100,000 training values: in memory, the kernel too


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The same rows as a CSV (one unit) and a Parquet file of 7 row groups."""
    folder = tmp_path_factory.mktemp("batches")
    rng = np.random.default_rng(3)
    x = rng.normal(loc=[3.0, -200.0], scale=[2.0, 15.0], size=(N, 2))
    y = 0.5 + x @ np.array([1.5, -0.25]) + 0.1 * rng.normal(size=N)
    csv_path = folder / "t.csv"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header="a,b,y", comments="")  # fmt: skip
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), folder / "t.parquet",
                   row_group_size=10_500)  # fmt: skip
    return {"csv": csv_path, "parquet": folder / "t.parquet"}


def engine(path, buffer, batch, chunk_rows=1_000, seed=5):
    """An unscaled streamed engine (lr 1e-5 on the raw columns) on ``path``."""
    source = open_source(str(path), None, None, "y")
    options = StreamOptions(seed=seed, chunk_rows=chunk_rows, batch_size=batch,
                            shuffle_buffer=buffer)  # fmt: skip
    n_train = int((~validation_mask(np.arange(N), 0.2, seed)).sum())
    return StreamedBatches(source, options, 0.2, n_train, lambda x: x, None,
                           Settings(1e-5, batch, seed))  # fmt: skip


def test_the_shuffle_visits_every_training_row_once_in_bounded_windows(tables):
    eng = engine(tables["parquet"], buffer=2_000, batch=64)
    seen = []
    for _, y, order in eng.windows(epoch=0):
        assert y.size <= 2_000 and np.array_equal(np.sort(order), np.arange(y.size))
        seen.append(y[order])
    first = np.concatenate(seen)
    assert first.size == eng.data.n
    again = np.concatenate([y[o] for _, y, o in eng.windows(epoch=0)])
    other = np.concatenate([y[o] for _, y, o in eng.windows(epoch=1)])
    np.testing.assert_array_equal(first, again)  # reproducible per (seed, epoch)
    assert not np.array_equal(first, other)
    np.testing.assert_array_equal(np.sort(first), np.sort(other))


def test_window_zero_is_the_in_memory_order():
    np.testing.assert_array_equal(window_order(1000, 7, 3, 0), epoch_order(1000, 7, 3))


@pytest.mark.parametrize(("buffer", "batch"), [(2_000, 64), (999, 1_000), (5_000, 1), (10**6, 7)])
def test_steps_are_the_plain_loops_on_the_visiting_order(tables, buffer, batch):
    """Batches straddling windows included: one epoch equals the kernel run on the rows
    laid out in the order the windows visit them."""
    eng = engine(tables["parquet"], buffer, batch)
    rows = [(x[o], y[o]) for x, y, o in eng.windows(epoch=2)]
    x, y = np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    w_ref = np.zeros(2)
    b_ref, _, status, _ = kernels.batch_epoch(x, y, np.arange(y.size), batch, 0.0, w_ref, 1e-5,
                                              np.empty(1), np.empty((1, 2)), False)  # fmt: skip
    history = eng.run(0.0, np.zeros(2), start_epoch=2, epochs=1)
    assert status == kernels.OK and history.first_epoch == 3
    assert history.b[0] == b_ref and np.array_equal(history.w[0], w_ref)


def test_one_window_of_the_whole_table_is_the_in_memory_run(tables, capsys, tmp_path):
    """A CSV is one unit, so its statistics, scaler and step size are the in-memory ones too:
    parameters and training loss bit for bit, every epoch."""
    common = ["--target", "y", "--batch-size", "50", "--epochs", "4", "--no-report", "--json"]
    mem, streamed = tmp_path / "mem", tmp_path / "st"
    assert main(["train", str(tables["csv"]), *common, "--engine", "compiled", "--out",
                 str(mem)]) == 0  # fmt: skip
    assert main(["train", str(tables["csv"]), *common, "--stream", "--out", str(streamed)]) == 0
    capsys.readouterr()
    want = np.loadtxt(mem / "metrics.csv", delimiter=",", skiprows=1)
    got = np.loadtxt(streamed / "metrics.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(got[:, :5], want[:, :5])  # epoch, b, w, train_loss
    np.testing.assert_allclose(got[:, 5], want[:, 5], rtol=1e-9)  # validation moments


def test_reproducible_any_chunk_size_and_near_least_squares(tables):
    runs = [fit_table(tables["parquet"], "y", batch_size=32, shuffle_buffer=3_000, epochs=12,
                      chunk_rows=rows, tol=None) for rows in (1_000, 7_777, 10**6)]  # fmt: skip
    for other in runs[1:]:
        np.testing.assert_array_equal(other.history.w, runs[0].history.w)
        np.testing.assert_array_equal(other.history.b, runs[0].history.b)
    got = runs[0]
    cf = got.extra["closed_form"]
    want = np.array([cf["intercept"], *(cf["coef"][n] for n in NAMES)])
    ours = np.r_[got.intercept, got.coef]
    # SGD with a constant step stays within its noise of least squares (noise sd 0.1)
    assert np.max(np.abs(ours - want)) < 0.05
    assert got.extra["engine"] == "stream-batches" and got.extra["batch_size"] == 32
    assert got.extra["val_loss"] < 0.0102  # the noise's variance is 0.01
    assert got.extra["shuffle_buffer"] == 3_000


def test_stochastic_descent_with_early_stopping(tables, capsys, tmp_path):
    code = main(["train", str(tables["parquet"]), "--target", "y", "--stream", "--batch-size",
                 "1", "--shuffle-buffer", "4000", "--epochs", "40", "--early-stopping", "2",
                 "--no-report", "--json", "--out", str(tmp_path / "r")])  # fmt: skip
    got = json.loads(capsys.readouterr().out)
    assert code == 0 and got["batch_size"] == 1 and got["epochs_run"] <= 40
    assert got["best_epoch"] is not None and got["val_loss"] < 0.011


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shuffle-buffer", "10"], "--shuffle-buffer is for streamed mini-batches"),
        (["--stream", "--shuffle-buffer", "10"], "--shuffle-buffer is for streamed mini-batches"),
        (["--stream", "--batch-size", "8", "--workers", "2"], "runs on one process"),
        (["--stream", "--batch-size", "10000000"], "is larger than the"),
        (["--stream", "--batch-size", "8", "--shuffle-buffer", "0"], "--shuffle-buffer"),
    ],
)
def test_refusals_are_one_line(tables, args, message, tmp_path, capsys):
    code = main(["train", str(tables["parquet"]), "--target", "y", "--out", str(tmp_path / "r"),
                 *args])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- --resume


def train_cli(capsys, path, out, *args) -> dict:
    code = main(["train", str(path), "--target", "y", "--no-report", "--json", "--tol", "0",
                 "--out", str(out), *map(str, args)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("batch", [None, 100])
def test_a_resumed_streamed_run_is_the_uninterrupted_one_bit_for_bit(tables, capsys, tmp_path,
                                                                      batch):  # fmt: skip
    extra = ["--stream", "--early-stopping", "50"]
    if batch is not None:
        extra += ["--batch-size", batch, "--shuffle-buffer", 7_000]
    whole = train_cli(capsys, tables["parquet"], tmp_path / "whole", "--epochs", 9, *extra)
    train_cli(capsys, tables["parquet"], tmp_path / "cut", "--epochs", 4, *extra)
    # --stream, --batch-size and --shuffle-buffer come from the run resumed
    resumed = train_cli(capsys, tables["parquet"], tmp_path / "cut", "--epochs", 9, "--resume")
    assert resumed["resumed_from_epoch"] == 4 and resumed["epochs_run"] == 9
    assert resumed["batch_size"] == batch and resumed["streamed"] is True
    for key in ("intercept", "coef", "train_loss", "val_loss", "best_epoch", "metrics"):
        assert resumed[key] == whole[key], key
    want = (tmp_path / "whole" / "metrics.csv").read_bytes()
    assert (tmp_path / "cut" / "metrics.csv").read_bytes() == want


def test_resume_refuses_another_table_and_changed_options(tables, capsys, tmp_path):
    out = tmp_path / "r"
    train_cli(capsys, tables["parquet"], out, "--epochs", 2, "--stream", "--batch-size", 100)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = tmp_path / "other.parquet"
    table = pq.read_table(tables["parquet"])
    pq.write_table(table.slice(0, N - 1), other, row_group_size=10_500)
    for args, message in [
        ([str(other), "--resume"], "the data differs"),
        ([str(tables["parquet"]), "--resume", "--shuffle-buffer", "99"], "contradicts"),
        ([str(tables["parquet"]), "--resume", "--batch-size", "7"], "contradicts"),
        ([str(tables["parquet"]), "--resume", "--workers", "2"], "one process"),
    ]:
        code = main(["train", *args, "--target", "y", "--out", str(out), "--epochs", "5"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and message in err, (args, err)
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing half-written
