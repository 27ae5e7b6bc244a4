"""Distributed mini-batch descent: real processes, gloo on loopback (``--workers``).

The linear model (the ``distributed`` engine) against one process with the same global
batches; a rank killed mid-run, then ``--resume``; the Trainer with DistributedDataParallel
against one process.
"""

import csv
import json
import os
import time

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

N, EPOCHS, BATCH = 2_000, 12, 16
# The parts of a batch are summed on their ranks and then added: another order than one
# sequential sum, so agreement is to rounding (measured: about 1e-15 relative).
RTOL = 1e-12


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini")
    rng = np.random.default_rng(11)
    x = rng.normal(loc=[1.0, -2.0], scale=[1.0, 3.0], size=(N, 2))
    y = 0.5 + x @ np.array([2.0, -0.7]) + rng.normal(size=N)
    path = folder / "t.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,y", comments="",
               fmt="%.17g")  # fmt: skip
    return path


def train(table, out, *extra, env=None):
    args = ("train", table, "--target", "y", "--batch-size", BATCH, "--tol", 0, "--out", out,
            "--json", "--no-report", *extra)  # fmt: skip
    if env is None:
        return run_cli(*args)
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "gradstep", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONHASHSEED="0", **env))  # fmt: skip


def summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def history(run_dir) -> np.ndarray:
    with open(run_dir / "metrics.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in rows[0] if k not in ("epoch",) and rows[0][k] != ""]
    return np.array([[float(r[k]) for k in keys] for r in rows])


def params(payload: dict) -> np.ndarray:
    return np.r_[payload["intercept"], list(payload["coef"].values())]


@pytest.fixture(scope="module")
def runs(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    one = summary(train(table, folder / "one", "--epochs", EPOCHS))
    two = summary(train(table, folder / "two", "--epochs", EPOCHS, "--workers", 2))
    return folder, one, two


def test_two_workers_follow_one_process(runs):
    folder, one, two = runs
    assert two["engine"] == "distributed" and two["world_size"] == 2
    assert two["backend"] == "gloo" and two["epochs_run"] == one["epochs_run"] == EPOCHS
    np.testing.assert_allclose(params(two), params(one), rtol=RTOL)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=RTOL)
    np.testing.assert_allclose(history(folder / "two"), history(folder / "one"), rtol=RTOL)
    assert (folder / "two" / "checkpoints" / "last.ckpt").is_file()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_killed_rank_ends_the_job_and_resume_equals_the_run_never_stopped(runs, table):
    folder, _, two = runs
    out = folder / "resumed"
    first = summary(train(table, out, "--epochs", 4, "--checkpoint-every", 2, "--workers", 2))
    assert first["epochs_run"] == 4
    before = {p.name: p.read_bytes() for p in sorted((out / "checkpoints").iterdir())}
    assert sorted(before) == ["epoch-2.ckpt", "epoch-4.ckpt", "last.ckpt"]
    start = time.monotonic()
    kill = {"GRADSTEP_TEST_KILL": "1:7"}  # rank 1 dies as it starts epoch 7
    killed = train(table, out, "--resume", "--epochs", EPOCHS, "--workers", 2, env=kill)
    assert time.monotonic() - start < 60
    assert_one_line_error(killed, "rank 1 of 2", "killed by SIGKILL", "no run folder")
    after = {p.name: p.read_bytes() for p in sorted((out / "checkpoints").iterdir())}
    assert after == before  # the previous checkpoints are intact
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    resumed = summary(train(table, out, "--resume", "--epochs", EPOCHS, "--workers", 2))
    assert resumed["resumed_from_epoch"] == 4 and resumed["epochs_run"] == EPOCHS
    # the same ranks sum the same parts in the same order: the very bits of the run
    # that was never stopped
    assert params(resumed).tolist() == params(two).tolist()
    np.testing.assert_array_equal(history(out), history(folder / "two"))


def test_trainer_with_ddp_follows_one_process_and_resumes_with_the_same_ranks(tmp_path):
    import subprocess
    import sys

    import torch

    from gradstep.checkpoint import load_state

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tests"))
    import ddp_job

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(ROOT / "tests" / "ddp_job.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    x, y = ddp_job.data()
    alone = ddp_job.build(distributed=False)
    alone.fit(x, y, batch_size=ddp_job.BATCH, epochs=ddp_job.EPOCHS)
    straight, _ = load_state(tmp_path / "straight.ckpt")
    resumed, meta = load_state(tmp_path / "resumed.ckpt")
    # float64: DDP averages the weighted part gradients, one process sums the batch
    # (measured 4e-16 relative after 6 epochs of Adam)
    for name, p in alone.model.named_parameters():
        torch.testing.assert_close(straight[name], p.detach(), rtol=1e-12, atol=1e-14)
        assert torch.equal(resumed[name], straight[name]), name  # resume: the same bits
    np.testing.assert_allclose(straight["train_loss"].numpy(), alone.history.train_loss,
                               rtol=1e-12)  # fmt: skip
    assert meta["epoch"] == ddp_job.EPOCHS
    with open(tmp_path / "log.csv", encoding="utf-8") as handle:  # rank 0 alone wrote it
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == list(range(1, ddp_job.EPOCHS + 1))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["last.ckpt"]
