"""``gradstep bench``: the JSON's structure and its answers (never its timings)."""

import json
import math

import numpy as np
import pytest

from gradstep import bench

from conftest import run_cli

EXPECTED_ROWS = ("read pass, NumPy", "read pass, torch", "document's NumPy loop",
                 "PyTorch full batch", "DataLoader", "gradstep `numpy`, full batch",
                 "gradstep `numpy`, mini-batch 16", "gradstep `auto`, full batch",
                 "scikit-learn LinearRegression", "scikit-learn SGDRegressor")  # fmt: skip


@pytest.fixture(scope="module")
def document():
    proc = run_cli("bench", "--quick", "--json", "--sizes", "100,2000", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "gradstep bench: [1/" in proc.stderr  # the progress lines
    return json.loads(proc.stdout)


def test_header_names_the_machine_and_threads(document):
    machine = document["machine"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"]
    assert machine["torch_threads"] >= 1
    assert document["config"]["sizes"] == [100, 2000]
    assert document["config"]["dtypes"] == ["float32", "float64"]


def test_every_size_and_dtype_has_the_baselines_and_the_engines(document):
    for n in (100, 2000):
        for dtype in ("float32", "float64"):
            labels = [r["label"] for r in document["rows"] if r["n"] == n and r["dtype"] == dtype]
            for start in EXPECTED_ROWS:
                assert any(label.startswith(start) for label in labels), (n, dtype, start)


def test_rows_are_timed_or_say_why_not(document):
    for row in document["rows"]:
        if row["available"]:
            assert row["seconds_per_epoch"] > 0 and math.isfinite(row["seconds_per_epoch"])
            assert row["rows_per_second"] > 0 and row["ratio_to_read"] > 0
            assert row["repeats"] >= 1
        else:
            assert row["reason"], row


def test_errors_are_finite_and_converged_rows_agree_with_least_squares(document):
    converged = [r for r in document["rows"] if r["converged"]]
    assert any(r["label"].startswith("document's NumPy loop") for r in converged)
    for row in converged:
        assert row["reference"] == "lstsq"
        assert row["error"] < 1e-3, row
    for row in document["rows"]:
        if row["error"] is not None:
            assert math.isfinite(row["error"]), row
        # Runs compared with float64 descent for the same epochs or batches agree closely.
        if row["reference"] in ("gd64", "numpy-engine"):
            assert row["error"] < (1e-4 if row["dtype"] == "float32" else 1e-10), row


def test_headline_checks_are_reported(document):
    a, b = document["headlines"]["a"], document["headlines"]["b"]
    assert a["indicative"] and b["indicative"]  # sizes other than the checks' own
    assert a["pass"] in (True, False, None) and b["pass"] in (True, False, None)
    if a["pass"] is not None:
        assert a["read_ratio"] > 0 and a["speedup_vs_doc_loop"] > 0
    else:
        assert a["reason"]


def test_the_full_batch_reference_is_the_numpy_engine_in_other_words():
    import gradstep

    x, y = bench.make_data64(500, 2, seed=3)
    case = bench.make_case(x, y, "float64", seed=42)
    result = gradstep.fit(x, y, lr=0.1, epochs=50, init=case.init, engine="numpy")
    ours = np.concatenate([[result.intercept], result.coef])
    assert bench.rel_error(ours, bench.full_batch_gd64(case, 0.1, 50)) < 1e-13


def test_a_missing_engine_is_a_row_saying_so_not_a_crash():
    x, y = bench.make_data64(100, 1, seed=0)
    case = bench.make_case(x, y, "float64", seed=42)
    info = bench.EngineInfo("no-such-engine", ("full",), ("float64",), ("cpu",))
    cfg = bench.quick_config()
    row = bench.engine_row(case, cfg, info, "full", bench.MiniReferences(cfg))
    assert not row.available and "no-such-engine" in row.reason


def test_headline_checks_judge_the_rows_they_are_given():
    """The PASS/FAIL logic on made-up rows (no timing is measured here)."""
    cfg = bench.Config(sizes=(10**5, 10**7), dtypes=("float32", "float64"))
    rows = []
    for dtype in ("float32", "float64"):
        for n in (10**5, 10**7):
            rows += [
                bench.Row(n, dtype, "read pass, NumPy", "read", seconds_per_epoch=0.01),
                bench.Row(n, dtype, "document's NumPy loop", "baseline", seconds_per_epoch=0.2),
                bench.Row(
                    n,
                    dtype,
                    "gradstep `auto`, full batch",
                    "engine",
                    engine="auto",
                    engine_ran="stats",
                    seconds_per_epoch=1.2e-5,
                ),  # fmt: skip
                bench.Row(n, dtype, "DataLoader", "baseline", rows_per_second=2e4),
            ]
        theta = [1.0, 2.0]
        rows += [
            bench.Row(
                10**5,
                dtype,
                "gradstep `compiled`, mini-batch 16",
                "engine",
                rows_per_second=2e7,
                rows_timed=10**5,
                theta=theta,
            ),  # fmt: skip
            bench.Row(
                10**5,
                dtype,
                "gradstep `numpy`, mini-batch 16",
                "engine",
                rows_timed=10**5,
                theta=[1.0, 2.0 * (1 + 1e-14)],
            ),  # fmt: skip
        ]
    heads = bench.headlines(rows, cfg)
    assert heads["a"]["pass"] is True and not heads["a"]["indicative"]
    assert heads["a"]["read_ratio"] == pytest.approx(1.2)
    assert heads["b"]["pass"] is True and heads["b"]["params_equal"] is True
    assert heads["b"]["rows_ratio"]["float32"] == pytest.approx(1000)
    rows[-1].theta = [1.0, 2.0 * (1 + 1e-9)]  # float64 numpy engine disagrees
    assert bench.headlines(rows, cfg)["b"]["pass"] is False
    bench.find(rows, 10**7, "float32", "gradstep `auto`").seconds_per_epoch = 2e-5  # 2x read
    assert bench.headlines(rows, cfg)["a"]["pass"] is False
