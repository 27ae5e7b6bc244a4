"""Resume across processes: save, load in a fresh process, continue; SIGKILL at random moments."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from gradstep.checkpoint import CheckpointError, load_state

from conftest import ROOT

JOB = ROOT / "tests" / "trainer_job.py"
sys.path.insert(0, str(JOB.parent))
import trainer_job  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def job(*args, **popen):
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = [sys.executable, str(JOB), *map(str, args)]
    return subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **popen)  # fmt: skip


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def straight(case: str, epochs: int):
    trainer, fit = trainer_job.build(case)
    trainer.fit(**fit, epochs=epochs)
    return trainer


def straight_params(case: str, epochs: int) -> dict:
    return {name: p.detach() for name, p in straight(case, epochs).model.named_parameters()}


def assert_bit_identical(final_file, expected: dict):
    tensors, meta = load_state(final_file)
    assert sorted(tensors) == sorted(expected)
    for name, value in expected.items():
        assert torch.equal(tensors[name], value), name
    return meta


def test_train_save_load_in_a_fresh_process_continue_equals_straight(tmp_path):
    """10 epochs in one process, save_checkpoint; a new process loads it and trains 10
    more: bit-identical to 20 epochs straight (in this third process). Full batch,
    mini-batch with dropout and Adam, and mini-batch with a StepLR scheduler."""
    cases = "full,mini,scheduled"
    finish(job(cases, 10, "--dir", tmp_path))
    out = finish(job(cases, 20, "--dir", tmp_path, "--resume"))
    assert "start mini 10" in out
    for case in cases.split(","):
        meta = assert_bit_identical(tmp_path / case / "final.ckpt", straight_params(case, 20))
        assert meta["epoch"] == 20


def test_sigkill_at_random_moments_then_resume_equals_straight(tmp_path):
    """Checkpoint every epoch; SIGKILL the process at random moments, each time check
    that every checkpoint on disk loads, resume, and finally compare with a run that
    was never interrupted. Kills land in the middle of epochs and of writes."""
    epochs, folder = 40, tmp_path / "plateau"
    reference = straight("plateau", epochs)
    seconds_per_epoch = sum(reference.history.seconds) / epochs
    rng = random.Random(2024)
    progress = []
    for _ in range(4):
        proc = job("plateau", epochs, "--dir", tmp_path, "--resume", "--periodic")
        assert proc.stdout.readline().startswith("start plateau")
        time.sleep(rng.uniform(0.3, 8.0) * seconds_per_epoch)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
        for path in folder.glob("*.ckpt"):  # never a damaged file
            load_state(path)
        if (folder / "last.ckpt").exists():
            trainer, _ = trainer_job.build("plateau")
            trainer.load_checkpoint(folder / "last.ckpt")
            progress.append(trainer.epoch)
    print("epochs reached at each kill:", progress)
    assert progress == sorted(progress) and any(0 < p < epochs for p in progress), progress
    finish(job("plateau", epochs, "--dir", tmp_path, "--resume", "--periodic"))
    assert not list(folder.glob(".*.tmp"))
    expected = {name: p.detach() for name, p in reference.model.named_parameters()}
    meta = assert_bit_identical(folder / "final.ckpt", expected)
    assert meta["epoch"] == epochs


def test_sigkill_in_the_middle_of_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    """The job is killed while its 3rd last.ckpt (epoch 3) is half written and not yet
    renamed: last.ckpt still holds epoch 2 and loads; the half file is a temporary that
    the resumed run removes; the end is bit-identical to an uninterrupted run."""
    epochs, folder = 6, tmp_path / "mini"
    proc = job("mini", epochs, "--dir", tmp_path, "--periodic", "--stall-write", 3)
    assert proc.stdout.readline().startswith("start mini 0")
    line = proc.stdout.readline()
    assert line.startswith("writing"), (line, proc.stderr.read() if not line else "")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    (half,) = folder.glob(".last.ckpt.*.tmp")
    assert half.name == line.split()[1]
    with pytest.raises(CheckpointError, match="truncated"):
        load_state(half)  # what a non-atomic write would have left as last.ckpt
    trainer, _ = trainer_job.build("mini")
    trainer.load_checkpoint(folder / "last.ckpt")
    assert trainer.epoch == 2
    finish(job("mini", epochs, "--dir", tmp_path, "--resume", "--periodic"))
    assert not list(folder.glob(".*.tmp"))
    expected = {name: p.detach() for name, p in straight("mini", epochs).model.named_parameters()}
    assert assert_bit_identical(folder / "final.ckpt", expected)["epoch"] == epochs
