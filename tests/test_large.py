"""Large tables, end to end (``make test-slow``): a million rows through the CLI."""

import json

import numpy as np
import pytest
from test_cli_train import training_rows

from gradstep import least_squares

from conftest import run_cli

pytestmark = pytest.mark.slow


def test_million_row_csv_trains_to_least_squares(tmp_path):
    rng = np.random.default_rng(0)
    n, names = 1_000_000, ["a", "b", "c", "d", "e"]
    x = rng.normal(loc=[0, 10, -5, 100, 0.01], scale=[1, 3, 0.5, 20, 0.001], size=(n, 5))
    y = 3.0 + x @ np.array([1.0, -2.0, 0.5, 0.03, 400.0]) + rng.normal(size=n)
    data = tmp_path / "big.csv"
    np.savetxt(data, np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header=",".join([*names, "y"]), comments="")  # fmt: skip
    proc = run_cli("train", data, "--target", "y", "--out", tmp_path / "run", "--json",
                   "--no-report", timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rows = training_rows(n)
    cf_b, cf_w = least_squares(x[rows], y[rows])
    got = np.array([summary["intercept"], *(summary["coef"][k] for k in names)])
    want = np.array([cf_b, *cf_w])
    assert np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)) < 1e-4


def _bench_memory():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_memory.py"
    spec = importlib.util.spec_from_file_location("bench_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_peak_memory_of_real_processes_stays_under_500_mb(tmp_path):
    """bench_memory's tables and commands, each a real process under /usr/bin/time -v."""
    bench = _bench_memory()
    paths = bench.write_tables(tmp_path)
    peaks = {}
    for label, args in bench.commands(paths, tmp_path):
        _, peaks[label], proc = bench.measure(args)
        assert proc.returncode == 0, (label, proc.stderr[-2000:])
    for label, peak in peaks.items():
        assert peak < bench.BOUND_MB, (label, peak, peaks)


def test_hundred_million_row_parquet_streams_under_500_mb_to_least_squares(tmp_path):
    """10^8 rows, one feature (float32 Parquet, 50 row groups), full batch, streamed: peak RSS
    under the bound and within 1e-6 of a float64 two-pass least squares on the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gradstep.runs.train import validation_mask

    rng = np.random.default_rng(7)
    path = tmp_path / "t.parquet"
    schema = pa.schema([("x", pa.float32()), ("y", pa.float32())])
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(50):
            x = rng.random(2_000_000, dtype=np.float32)
            y = 1.0 + 2.0 * x + 0.1 * rng.standard_normal(2_000_000, dtype=np.float32)
            writer.write_table(pa.table({"x": x, "y": y.astype(np.float32)}))
    bench = _bench_memory()
    _, peak, proc = bench.measure(["train", str(path), "--target", "y", "--stream", "--out",
                                   str(tmp_path / "run"), "--no-report", "--json"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert peak < bench.BOUND_MB, peak
    summary = json.loads(proc.stdout)
    table = pq.read_table(path)
    x = table.column("x").to_numpy().astype(np.float64)
    y = table.column("y").to_numpy().astype(np.float64)
    keep = ~validation_mask(np.arange(len(y), dtype=np.uint64), 0.2, 42)
    x, y = x[keep], y[keep]
    assert summary["rows"]["train"] == len(y)
    mx, my = x.mean(), y.mean()
    w = ((x - mx) * (y - my)).sum() / ((x - mx) ** 2).sum()
    want = np.array([my - mx * w, w])
    got = np.array([summary["intercept"], summary["coef"]["x"]])
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-6
