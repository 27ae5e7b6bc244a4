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
