"""Distributed streamed runs: real processes, gloo on loopback (``--workers``, torchrun)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import assert_one_line_error, run_cli

N = 70_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    rng = np.random.default_rng(3)
    x = rng.normal(loc=[1.0, 50.0], scale=[1.0, 5.0], size=(N, 2))
    y = 2.0 + x @ np.array([0.5, 3.0]) + rng.normal(size=N)
    path = folder / "t.parquet"
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), path, row_group_size=10_000)
    proc = run_cli("train", path, "--target", "y", "--stream", "--out", folder / "one",
                   "--json", "--no-report")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return path, json.loads(proc.stdout)


def same_numbers(got: dict, want: dict) -> None:
    for key in ("intercept", "coef", "epochs_run", "rows", "metrics", "val_loss", "lr"):
        assert got[key] == want[key], key


def test_two_workers_give_the_bits_of_one_process(data, tmp_path):
    path, one = data
    proc = run_cli("train", path, "--target", "y", "--stream", "--workers", 2, "--out",
                   tmp_path / "two", "--json", "--no-report")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    two = json.loads(proc.stdout)
    same_numbers(two, one)
    # 7 row groups round-robin: rank 0 reads groups 0, 2, 4, 6 and rank 1 groups 1, 3, 5
    assert two["world_size"] == 2 and two["rows_read"] == [40_000, 30_000]
    assert one["world_size"] == 1 and one["rows_read"] == [N]
    assert (tmp_path / "two" / "model.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_torchrun_with_distributed(data, tmp_path):
    path, one = data
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "3",
         "-m", "gradstep", "train", str(path), "--target", "y", "--stream", "--distributed",
         "--out", str(tmp_path / "tr"), "--json", "--no-report"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)  # only rank 0 prints
    same_numbers(got, one)
    assert got["world_size"] == 3 and got["rows_read"] == [30_000, 20_000, 20_000]


def test_a_rank_that_dies_ends_the_job_with_one_line(data, tmp_path):
    path, _ = data
    env = dict(os.environ, GRADSTEP_TEST_EXIT_RANK="1")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "gradstep", "train", str(path), "--target", "y", "--stream",
         "--workers", "2", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert time.monotonic() - start < 90
    assert_one_line_error(proc, "rank 1 of 2", "exited with code 3", "no run folder")
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_a_rank_that_cannot_read_its_share_names_itself(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for name in ("p0", "p1"):
        x = rng.normal(size=5_000)
        table = pa.table({"a": x, "y": 2 * x + rng.normal(size=5_000)})
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
    damaged = bytearray((folder / "p1.parquet").read_bytes())
    damaged[4:60] = bytes(range(56))  # a page header, not the footer: only rank 1 reads it
    (folder / "p1.parquet").write_bytes(bytes(damaged))
    proc = run_cli("train", folder, "--target", "y", "--stream", "--workers", 2,
                   "--out", tmp_path / "r", "--no-report")  # fmt: skip
    assert_one_line_error(proc, "rank 1: cannot read", "p1.parquet (row group 0)")
    assert not (tmp_path / "r").exists()
