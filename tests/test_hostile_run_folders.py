"""A hostile tester's reproductions: --force pointed at the wrong folder, two writers on one
run folder, kills and Ctrl-C during the write, hand-edited files in a run folder.

Every test checks that nothing outside a gradstep run folder is deleted or changed, by
comparing the listing and the contents of the whole test folder before and after.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradstep.cli import main
from gradstep.runs.safety import lock_path, run_lock

from conftest import assert_one_line_error, run_cli

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

DATA = "x,y\n1,2\n2,4.1\n3,5.9\n4,8.2\n5,9.9\n6,12.1\n"
QUICK = ["--target", "y", "--epochs", "5", "--tol", "0", "--no-report"]  # every epoch runs


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its bytes (None for folders, the target for links)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        else:
            state[key] = path.read_bytes() if path.is_file() else None
    return state


def cli(capsys, *args) -> tuple[int, str]:
    """``gradstep ARGS`` in this process: ``(exit code, standard error)``."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def refused(capsys, *args, fragments=()) -> str:
    code, err = cli(capsys, *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A project folder holding d.csv, as the current folder."""
    (tmp_path / "d.csv").write_text(DATA)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def train_run(capsys, out, *extra) -> None:
    code, err = cli(capsys, "train", "d.csv", *QUICK, "--out", out, *extra)
    assert code == 0, err


# ------------------------------------------------------------------ --force


def test_force_refuses_a_folder_holding_other_files(work, capsys):
    (work / "proj").mkdir()
    (work / "proj" / "thesis.tex").write_text("x\n")
    before = snapshot(work)
    refused(capsys, "train", "d.csv", *QUICK, "--out", "proj", "--force",
            fragments=["--force refuses to replace proj", "thesis.tex"])  # fmt: skip
    assert snapshot(work) == before


def test_force_refuses_a_run_folder_with_a_file_added(work, capsys):
    train_run(capsys, "run")
    (work / "run" / "notes.txt").write_text("mine")
    (work / "run" / "figures").mkdir()
    (work / "run" / "figures" / "sketch.svg").write_text("<svg/>")
    before = snapshot(work)
    err = refused(capsys, "train", "d.csv", *QUICK, "--out", "run", "--force")
    assert "figures/sketch.svg" in err and "notes.txt" in err
    assert snapshot(work) == before


@pytest.mark.parametrize("out", [".", "{cwd}", "..", "{cwd}/sub/.."])
def test_force_refuses_the_current_folder_and_its_parents(work, capsys, monkeypatch, out):
    here = work / "here"
    (here / "sub").mkdir(parents=True)
    (here / "notes.txt").write_text("mine")
    monkeypatch.chdir(here)
    before = snapshot(work)
    refused(capsys, "train", "../d.csv", *QUICK, "--out", out.format(cwd=here), "--force",
            fragments=["the current folder"])  # fmt: skip
    assert snapshot(work) == before  # no '..old-*' folder either


def test_force_refuses_the_folder_holding_the_data_even_through_a_link(work, capsys):
    (work / "data").mkdir()
    (work / "data" / "table.csv").write_text(DATA)
    (work / "alias").symlink_to(work / "data")
    before = snapshot(work)
    for out in ("data", "alias", str(work / "data")):
        refused(capsys, "train", "data/table.csv", *QUICK, "--out", out, "--force",
                fragments=["the folder holding the data"])  # fmt: skip
    assert snapshot(work) == before


def test_force_from_a_config_file_is_refused_too(work, capsys):
    (work / "proj").mkdir()
    (work / "proj" / "thesis.tex").write_text("x\n")
    (work / "run.toml").write_text('data = "d.csv"\ntarget = "y"\nout = "proj"\nforce = true\n')
    before = snapshot(work)
    refused(capsys, "train", "--config", "run.toml", "--epochs", "5", "--no-report",
            fragments=["--force refuses to replace proj", "thesis.tex"])  # fmt: skip
    assert snapshot(work) == before


def test_force_refuses_a_folder_that_only_looks_like_a_run(work, capsys):
    (work / "fake").mkdir()
    (work / "fake" / "metrics.csv").write_text("epoch,b,w_0\n1,0,0\n")
    (work / "fake" / "config.json").write_text('{"mine": true}')
    before = snapshot(work)
    refused(capsys, "train", "d.csv", *QUICK, "--out", "fake", "--force",
            fragments=["not a gradstep run folder"])  # fmt: skip
    assert snapshot(work) == before


def test_force_replaces_a_run_folder_and_one_from_an_older_version(work, capsys):
    train_run(capsys, "run", "--checkpoint-every", "2")
    (work / "run" / "report.html").write_text("an old report")
    train_run(capsys, "run", "--force")
    assert not (work / "run" / "report.html").exists()
    (work / "old").mkdir()  # an earlier version's folder: its documented files, no more
    (work / "old" / "config.json").write_text('{"gradstep_version": "0.1.0", "options": {}}')
    (work / "old" / "metrics.csv").write_text("epoch,b,w_0,train_loss\n1,0,0,1\n")
    train_run(capsys, "old", "--force")
    assert json.loads((work / "old" / "config.json").read_text())["options"]["force"] is True
    assert sorted(p.name for p in work.iterdir()) == ["d.csv", "old", "run"]


# ------------------------------------------------------------------ one writer per folder


def start_train(cwd: Path, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = [sys.executable, "-m", "gradstep", "train", "d.csv", "--target", "y", *args]
    return subprocess.Popen(command, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the process ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def holds_lock(out: Path, pid: int):
    def check() -> bool:
        try:
            return lock_path(out).read_text().strip() == str(pid)
        except FileNotFoundError:
            return False

    return check


@pytest.mark.parametrize("resume", [False, True], ids=["train", "resume"])
def test_a_second_writer_on_the_same_run_folder_exits_at_once(work, resume):
    """Two real ``gradstep train`` processes on one --out: the first holds the folder (frozen
    with SIGSTOP to keep the timing out of the test), the second exits 2 naming its pid;
    the first then finishes, and its run is the one in the folder."""
    first_args = ["--out", "run", "--epochs", "20000", "--tol", "0", "--no-report"]
    if resume:
        assert run_cli("train", "d.csv", *QUICK, "--out", "run", cwd=work).returncode == 0
        first_args = ["--out", "run", "--resume", "--epochs", "20000", "--tol", "0"]
    first = start_train(work, *first_args)
    try:
        wait_for(holds_lock(work / "run", first.pid), first, "the first run locks the folder")
        first.send_signal(signal.SIGSTOP)
        second = run_cli("train", "d.csv", *QUICK, "--out", "run", "--force", cwd=work)
        assert_one_line_error(second, f"pid {first.pid}", "another gradstep process")
        if resume:
            second = run_cli("train", "d.csv", "--out", "run", "--resume", "--epochs", "30000",
                             cwd=work)  # fmt: skip
            assert_one_line_error(second, f"pid {first.pid}", "another gradstep process")
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    summary = json.loads((work / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 20000
    assert sorted(p.name for p in work.iterdir()) == ["d.csv", "run"]  # lock file removed


def test_plot_and_report_wait_for_no_one_but_refuse_a_held_folder(work, capsys):
    train_run(capsys, "run")
    before = snapshot(work)
    with run_lock(work / "run"):
        for command in ("plot", "report"):
            refused(capsys, command, "run", fragments=[f"pid {os.getpid()}"])
        refused(capsys, "train", "d.csv", *QUICK, "--out", "run", "--force",
                fragments=[f"pid {os.getpid()}"])  # fmt: skip
    assert snapshot(work) == before


def test_a_file_or_link_at_the_lock_name_is_never_written_through(work, capsys):
    (work / ".run.lock").write_text("my notes, oddly named\n")
    (work / "target.txt").write_text("keep")
    (work / ".other.lock").symlink_to(work / "target.txt")
    before = snapshot(work)
    refused(capsys, "train", "d.csv", *QUICK, "--out", "run", fragments=[".run.lock is in the way"])
    refused(capsys, "train", "d.csv", *QUICK, "--out", "other", fragments=["cannot lock"])
    assert snapshot(work) == before


# ------------------------------------------------------------------ leftovers


def test_sigkill_during_the_write_then_the_next_run_cleans_up(work):
    """SIGKILL a real run while it writes its folder (figures and report take a while);
    the next run on the folder removes the temporary folder and the stale lock, and
    touches nothing else, not even names that only look like gradstep's."""
    (work / ".run.backup").mkdir()  # the user's, despite the name
    (work / ".run.backup" / "keep.txt").write_text("mine")
    (work / ".run.old-mine").mkdir()
    proc = start_train(work, "--out", "run", "--epochs", "5")
    building = lambda: any(work.glob(".run.*.tmp"))  # noqa: E731
    wait_for(building, proc, "the run folder is being written")
    proc.kill()
    proc.communicate(timeout=30)
    assert any(work.glob(".run.*.tmp")) and not (work / "run").exists()
    proc = run_cli("train", "d.csv", *QUICK, "--out", "run", cwd=work)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in work.iterdir())
    assert names == [".run.backup", ".run.old-mine", "d.csv", "run"]
    assert (work / ".run.backup" / "keep.txt").read_text() == "mine"


def test_a_run_set_aside_by_a_crash_between_the_renames_is_put_back(work, capsys):
    train_run(capsys, "run")
    before = snapshot(work / "run")
    aside = work / ".run.old-0a1b2c3d"
    aside.mkdir()
    os.rename(work / "run", aside / "run")
    refused(capsys, "train", "d.csv", *QUICK, "--out", "run",
            fragments=["run folder run already exists"])  # fmt: skip
    assert snapshot(work / "run") == before and not aside.exists()


def test_ctrl_c_between_the_renames_is_held_until_the_folder_is_in_place(work, capsys, monkeypatch):
    import gradstep.runs.output as run_output

    train_run(capsys, "run")
    real_swap = run_output.swap_into_place

    def interrupted_swap(new, out):
        os.kill(os.getpid(), signal.SIGINT)  # lands while the swap is held
        real_swap(new, out)

    monkeypatch.setattr(run_output, "swap_into_place", interrupted_swap)
    code, err = cli(capsys, "train", "d.csv", *QUICK, "--out", "run", "--force",
                    "--epochs", "7")  # fmt: skip
    assert code == 130
    assert err == "gradstep: interrupted after the run folder was written (it is complete)\n"
    assert json.loads((work / "run" / "summary.json").read_text())["epochs_run"] == 7
    assert sorted(p.name for p in work.iterdir()) == ["d.csv", "run"]


def test_ctrl_c_after_the_folder_is_written_says_so(work, capsys, monkeypatch):
    import gradstep.cli.train_text as train_text

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler runs here

    monkeypatch.setattr(train_text, "format_summary", interrupted)
    previous = signal.getsignal(signal.SIGINT)
    code, err = cli(capsys, "train", "d.csv", *QUICK, "--out", "run")
    assert code == 130
    assert err == "gradstep: interrupted after the run folder was written (it is complete)\n"
    assert (work / "run" / "model.json").is_file()
    assert signal.getsignal(signal.SIGINT) is previous  # in-process callers get theirs back


# ------------------------------------------------------------------ hand-edited files


def test_deeply_nested_json_is_refused_in_one_line(work, capsys):
    train_run(capsys, "run")
    (work / "run" / "summary.json").write_text('{"a":' * 5000 + "1" + "}" * 5000)
    refused(capsys, "plot", "run", fragments=["summary.json is nested more than"])
    (work / "run" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    before = snapshot(work)
    refused(capsys, "train", "d.csv", "--out", "run", "--resume", "--epochs", "9",
            fragments=["config.json is nested more than"])  # fmt: skip
    assert snapshot(work) == before


@pytest.mark.parametrize(("key", "value"), [("lr", 0.25), ("seed", 7)])
def test_resume_refuses_a_configuration_edited_after_the_run(work, capsys, key, value):
    train_run(capsys, "run")
    config = json.loads((work / "run" / "config.json").read_text())
    config["options"][key] = value
    (work / "run" / "config.json").write_text(json.dumps(config))
    before = snapshot(work)
    refused(capsys, "train", "d.csv", "--out", "run", "--resume", "--epochs", "9",
            fragments=[f"gives {key} {value!r}", "checkpoints/last.ckpt was trained with",
                       "restore config.json"])  # fmt: skip
    assert snapshot(work) == before
