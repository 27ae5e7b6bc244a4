"""Streamed full-batch training (``gradstep train --stream``, ``gradstep.stream.fit_table``)
against the in-memory run of the same file: the same split, statistics and parameters."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_cli_train import training_rows

from gradstep.cli import main
from gradstep.stream import fit_table

from conftest import assert_one_line_error, run_cli

N, NAMES = 70_000, ["a", "b"]  # ~112,000 training values: in memory, the kernel too


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The same rows as a CSV, a Parquet file of 5 row groups and a folder of 3 files."""
    folder = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(1)
    x = rng.normal(loc=[3.0, -200.0], scale=[2.0, 15.0], size=(N, 2))
    y = 0.5 + x @ np.array([1.5, -0.25]) + rng.normal(size=N)
    csv_path = folder / "t.csv"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header="a,b,y", comments="")  # fmt: skip
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": y})
    pq.write_table(table, folder / "t.parquet", row_group_size=12_000)
    parts = folder / "parts"
    parts.mkdir()
    for name, (lo, hi) in zip(["p0", "p1", "p2"], [(0, 25_000), (25_000, 40_000), (40_000, N)],
                              strict=True):  # fmt: skip
        pq.write_table(table.slice(lo, hi - lo), parts / f"{name}.parquet", row_group_size=9_000)
    return {"csv": csv_path, "parquet": folder / "t.parquet", "folder": parts, "x": x, "y": y}


def params(payload: dict) -> np.ndarray:
    return np.array([payload["intercept"], *(payload["coef"][n] for n in NAMES)])


def train_json(capsys, *args) -> dict:
    code = main(["train", *map(str, args), "--json", "--no-report"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def in_memory(tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("mem") / "run"
    proc = run_cli("train", tables["csv"], "--target", "y", "--out", out, "--json", "--no-report")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
def test_streamed_agrees_with_in_memory(tables, in_memory, kind, capsys, tmp_path):
    got = train_json(capsys, tables[kind], "--target", "y", "--stream", "--out", tmp_path / "r")
    assert got["rows"] == in_memory["rows"] and got["epochs_run"] == in_memory["epochs_run"]
    want = params(in_memory)
    assert np.max(np.abs(params(got) / want - 1)) <= 1e-10
    if kind == "csv":  # one unit: the very statistics of the in-memory run, bit for bit
        np.testing.assert_array_equal(params(got), want)
    for key in ("train", "validation"):
        for metric in ("mse", "mae", "r2"):
            assert got["metrics"][key][metric] == pytest.approx(
                in_memory["metrics"][key][metric], rel=1e-9
            )
    assert got["streamed"] is True and got["world_size"] == 1 and got["rows_read"] == [N]
    assert (tmp_path / "r" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize(
    ("kind", "sizes"),
    [("parquet", (1_000, 7_777, 10**6)), ("folder", (3_001, 10**6)), ("csv", (500, 10**6))],
)
def test_any_chunk_size_gives_the_same_bits(tables, kind, sizes):
    first, *others = [fit_table(tables[kind], "y", chunk_rows=k) for k in sizes]
    for other in others:
        assert other.intercept == first.intercept
        np.testing.assert_array_equal(other.coef, first.coef)
        np.testing.assert_array_equal(other.history.w, first.history.w)
        assert other.extra["metrics"] == first.extra["metrics"]


def test_split_is_per_row_whatever_the_chunks(tables):
    from gradstep.runs.train import split_rows

    want = training_rows(N)
    np.testing.assert_array_equal(split_rows(N, 0.2, 42)[0], want)
    x, y = tables["x"], tables["y"]
    for k in (999, 10**6):
        result = fit_table(tables["parquet"], "y", chunk_rows=k, tol=None, epochs=1)
        assert result.extra["rows"]["train"] == want.size
        # the metrics pass saw exactly the training rows of the documented split
        b, w = result.intercept, result.coef
        mse = np.mean((b + x[want] @ w - y[want]) ** 2)
        assert result.extra["metrics"]["train"]["mse"] == pytest.approx(mse, rel=1e-12)


def test_missing_values_refused_or_dropped_like_in_memory(tmp_path, capsys):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 2))
    y = x @ [1.0, 2.0] + rng.normal(size=500)
    x[37, 1] = np.nan
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": y})
    pq.write_table(table, tmp_path / "gaps.parquet", row_group_size=100)
    proc = run_cli("train", tmp_path / "gaps.parquet", "--target", "y", "--stream",
                   "--out", tmp_path / "r")  # fmt: skip
    assert_one_line_error(proc, "'b'", "row 38", "--drop-missing")
    assert not (tmp_path / "r").exists()
    pq.write_table(table, tmp_path / "gaps2.parquet")
    mem = train_json(capsys, tmp_path / "gaps2.parquet", "--target", "y", "--drop-missing",
                     "--out", tmp_path / "m")  # fmt: skip
    got = train_json(capsys, tmp_path / "gaps.parquet", "--target", "y", "--drop-missing",
                     "--stream", "--out", tmp_path / "s")  # fmt: skip
    assert got["rows"] == mem["rows"] and got["dropped_rows"] == mem["dropped_rows"] == 1
    np.testing.assert_allclose(params(got), params(mem), rtol=1e-10)


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--batch-size", "32", "--workers", "2"], ["runs on one process"]),
        (["--features", "a,nope"], ["'nope'", "not in"]),
        (["--engine", "numpy"], ["--stream runs the stats engine"]),
        (["--workers", "2"], ["Parquet only"]),
        (["--distributed"], ["torchrun"]),
    ],
)
def test_one_line_refusals(tables, tmp_path, extra, fragments):
    proc = run_cli("train", tables["csv"], "--target", "y", "--stream", *extra,
                   "--out", tmp_path / "r")  # fmt: skip
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "r").exists()


def test_streamed_run_folder_has_figures_and_report(tables, tmp_path):
    proc = run_cli("train", tables["parquet"], "--target", "y", "--stream", "--out",
                   tmp_path / "r", "--checkpoint-every", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"config.json", "model.json", "summary.json", "quadratic.json", "metrics.csv",
            "checkpoints", "figures", "report.html"} <= names  # fmt: skip
    assert "rows:    70000" in proc.stdout
