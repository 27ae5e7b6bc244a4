"""A hostile environment: full disks, closed pipes, names too long, damaged run folders.

Every case runs the real CLI in a subprocess and expects what docs/guide.md promises:
one line on standard error and exit code 2 (nothing half-written left behind), or, for
a reader that closes the pipe early, a quiet exit 141 as from a process killed by
SIGPIPE. Tables are tiny and one run folder is trained per module, to stay fast.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

BIG_ROWS = 9000  # predictions of ~170 kB: more than a pipe's buffer and the small tmpfs


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with the tables and one trained run folder (``run``), shared by the module."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.RandomState(0)
    x = rng.rand(40)
    rows = "".join(
        f"{a:.17g},{2 * a + 1 + 0.1 * e:.17g}\n" for a, e in zip(x, rng.randn(40), strict=True)
    )
    (folder / "small.csv").write_text("x,y\n" + rows)
    (folder / "big.csv").write_text("x\n" + "".join(f"{a:.17g}\n" for a in rng.rand(BIG_ROWS)))
    # the trained coef is about 2: 1.5e308 x overflows; 1e200 x does not, its square does
    (folder / "huge.csv").write_text("x,y\n1.0,3.0\n1.5e308,2.0\n")
    (folder / "squares.csv").write_text("x,y\n1.0,3.0\n1e200,0.0\n")
    proc = run_cli("train", "small.csv", "--target", "y", "--out", "run", "--epochs", "30",
                   "--tol", "0", "--no-report", cwd=folder)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder


def run_env(*args, cwd, stdout, env_extra=None, timeout=120):
    """The CLI with its standard output going to ``stdout`` (an open file)."""
    env = dict(os.environ, PYTHONHASHSEED="0", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "gradstep", *map(str, args)], cwd=cwd, stdout=stdout,
        stderr=subprocess.PIPE, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def entries(folder: Path) -> list[str]:
    """Everything in ``folder``, hidden temporary files included."""
    return sorted(os.listdir(folder))


# -- a full disk on standard output (/dev/full) ---------------------------------
FULL_STDOUT = {
    "predict": ["predict", "run", "big.csv"],
    "evaluate --json": ["evaluate", "run", "small.csv", "--json"],
    "evaluate": ["evaluate", "run", "small.csv"],
    "compare": ["compare", "run", "--out", "cmp.png", "--force"],
    "train --json": [
        "train",
        "small.csv",
        "--target",
        "y",
        "--out",
        "run-full",
        "--force",
        "--epochs",
        "5",
        "--no-report",
        "--json",
    ],  # fmt: skip
}


@pytest.mark.parametrize("name", list(FULL_STDOUT))
def test_full_stdout_is_one_line_and_exit_2(work, name):
    with open("/dev/full", "w") as full:
        proc = run_env(*FULL_STDOUT[name], cwd=work, stdout=full)
    assert_one_line_error(proc, "cannot write to standard output", "no space left")


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])
def test_full_stdout_with_and_without_pythonunbuffered(work, unbuffered):
    """Unbuffered, Python's text layer drops a short write's rest without an error."""
    with open("/dev/full", "w") as full:
        proc = run_env("predict", "run", "big.csv", cwd=work, stdout=full,
                       env_extra={"PYTHONUNBUFFERED": unbuffered})  # fmt: skip
    assert_one_line_error(proc, "cannot write to standard output", "no space left")


# -- a closed pipe ----------------------------------------------------------------
def test_reader_closing_the_pipe_early_ends_quietly_with_141(work):
    """``gradstep predict RUN big.csv | head -1``: no traceback, no "Exception ignored"."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradstep", "predict", "run", "big.csv"], cwd=work,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout.readline() == b"prediction\n"
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == b""


def test_a_whole_output_through_a_pipe_is_unchanged(work):
    """The checked writes pass every byte on: the same text as a plain run."""
    proc = run_cli("predict", "run", "big.csv", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == BIG_ROWS + 1


# -- a full disk for files (a 64 kB tmpfs; mounting needs root) --------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB file system at ``tmp_path/disk``, unmounted when the test ends."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                           capture_output=True, text=True)  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def fill(disk: Path, leave: int = 2048) -> None:
    """Fill ``disk`` up to ``leave`` bytes, so even small files do not fit."""
    stats = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))


def test_predict_to_a_file_on_a_disk_that_fills_up_midway(work, small_disk):
    """The bug: 228 of 9001 lines written and exit 0."""
    with open(small_disk / "pred.csv", "w") as out:
        proc = run_env("predict", "run", "big.csv", cwd=work, stdout=out)
    assert_one_line_error(proc, "cannot write to standard output", "no space left")


FULL_FILES = {
    "predict --out": (["predict", "run", "big.csv", "--out", "{disk}/pred.csv"], False),
    "report --out": (["report", "run", "--out", "{disk}/report.html"], False),
    "plot --out": (["plot", "run", "--out", "{disk}/figures"], False),
    "compare --out": (["compare", "run", "--out", "{disk}/cmp.png"], True),
    "train --out": (
        [
            "train",
            "small.csv",
            "--target",
            "y",
            "--out",
            "{disk}/run",
            "--epochs",
            "5",
            "--no-report",
        ],
        True,
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", list(FULL_FILES))
def test_full_disk_for_files_is_one_line_and_leaves_nothing(work, small_disk, name):
    args, filled = FULL_FILES[name]
    if filled:  # small outputs: leave no room for them
        fill(small_disk)
    before = entries(small_disk)
    proc = run_cli(*(a.format(disk=small_disk) for a in args), cwd=work)
    assert_one_line_error(proc, "no space left")
    assert entries(small_disk) == before  # no partial file, folder or temporary left


def test_plot_into_an_existing_folder_keeps_it_as_it_was(work, small_disk):
    figures = small_disk / "figures"
    figures.mkdir()
    (figures / "notes.txt").write_text("mine")
    proc = run_cli("plot", "run", "--out", figures, cwd=work)
    assert_one_line_error(proc, "cannot write", "no space left")
    assert entries(figures) == ["notes.txt"] and entries(small_disk) == ["figures"]


# -- names too long for the file system --------------------------------------------
TOO_LONG = "n" * 300


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "run", "small.csv", "--out", f"{TOO_LONG}.csv"],
        ["report", "run", "--out", f"{TOO_LONG}.html"],
        ["plot", "run", "--out", TOO_LONG],
        ["compare", "run", "--out", f"{TOO_LONG}.png"],
        ["train", "small.csv", "--target", "y", "--out", TOO_LONG, "--no-report"],
    ],
    ids=["predict", "report", "plot", "compare", "train"],
)
def test_a_name_too_long_is_one_line(work, args):
    assert_one_line_error(run_cli(*args, cwd=work), "file name too long")


def test_a_long_name_that_fits_is_written(work, tmp_path):
    """250 bytes fit the usual 255-byte limit: the temporary name must not break it."""
    target = tmp_path / ("r" * 246 + ".csv")
    proc = run_cli("predict", "run", "small.csv", "--out", target, cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert entries(tmp_path) == [target.name]


# -- damaged run folders: one line, no traceback, no warning ----------------------
def damage(work: Path, tmp_path: Path, edit) -> Path:
    """A copy of the trained run with ``edit(folder)`` applied."""
    folder = tmp_path / "damaged"
    shutil.copytree(work / "run", folder)
    edit(folder)
    return folder


def set_cell(column: str, value: str, line: int = 3):
    def edit(folder: Path) -> None:
        path = folder / "metrics.csv"
        rows = [r.split(",") for r in path.read_text().splitlines()]
        rows[line - 1][rows[0].index(column)] = value
        path.write_text("\n".join(",".join(r) for r in rows) + "\n")

    return edit


def set_quadratic(**changes):
    def edit(folder: Path) -> None:
        path = folder / "quadratic.json"
        payload = json.loads(path.read_text())
        payload.update(changes)
        path.write_text(json.dumps(payload))

    return edit


DAMAGED_FOR_DRAWING = {
    "inf parameter": (set_cell("b", "inf"), "not finite"),
    "1e308 parameter": (set_cell("w_0", "1e308"), "too large"),
    "inf loss": (set_cell("train_loss", "inf"), "not finite"),
    "1e308 gram": (set_quadratic(gram=[[1.0, 0.5], [0.5, 1e308]]), "overflows"),
    "1e308 everywhere": (set_quadratic(gram=[[1e308, 1e308], [1e308, 1e308]]), "damaged"),
    "all-zero gram": (set_quadratic(gram=[[0.0, 0.0], [0.0, 0.0]], xty=[0.0, 0.0]), "damaged"),
    "1e308 xty": (set_quadratic(xty=[1e308, 1e308], yty=1e308), "overflows"),
}


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("case", list(DAMAGED_FOR_DRAWING))
def test_plot_and_report_on_damaged_values(work, tmp_path, command, case):
    edit, fragment = DAMAGED_FOR_DRAWING[case]
    folder = damage(work, tmp_path, edit)
    out = tmp_path / "out"
    proc = run_cli(command, folder, "--out", out)
    assert_one_line_error(proc, fragment)
    assert "Warning" not in proc.stderr and not out.exists()


@pytest.mark.parametrize(
    ("summary", "fragment"),
    [
        ({"lr": "fast"}, 'lr is "fast"'),
        ({"metrics": 3}, "metrics is 3"),
        ({"metrics": {"validation": {"r2": [1]}}}, "metrics.validation.r2"),
        ({"train_loss": float("inf")}, "train_loss is Infinity"),
        ({"epochs_run": 2.5}, "whole number"),
    ],
    ids=["text", "not-an-object", "nested", "infinite", "fraction"],
)
def test_compare_on_a_damaged_summary(work, tmp_path, summary, fragment):
    def edit(folder: Path) -> None:
        payload = json.loads((folder / "summary.json").read_text())
        payload.update(summary)
        (folder / "summary.json").write_text(json.dumps(payload))

    folder = damage(work, tmp_path, edit)
    proc = run_cli("compare", work / "run", folder, "--out", tmp_path / "c.png")
    assert_one_line_error(proc, "summary.json", fragment)


def test_compare_on_an_infinite_loss_curve(work, tmp_path):
    folder = damage(work, tmp_path, set_cell("train_loss", "inf"))
    proc = run_cli("compare", folder, "--out", tmp_path / "c.png")
    assert_one_line_error(proc, "metrics.csv", "line 3", "not finite")
    assert not (tmp_path / "c.png").exists()


def test_a_loss_near_1e308_is_drawn_without_warnings(work, tmp_path):
    """Finite, so drawable: matplotlib's overflow in its margins is silenced, not shown."""
    folder = damage(work, tmp_path, set_cell("train_loss", "1e308"))
    compare = run_cli("compare", folder, "--out", tmp_path / "c.png")
    assert (compare.returncode, compare.stderr) == (0, "")
    report = run_cli("report", folder, "--out", tmp_path / "r.html")
    assert (report.returncode, report.stderr) == (0, "")


# -- predictions that overflow -----------------------------------------------------
@pytest.mark.parametrize("out", [None, "pred.csv"], ids=["stdout", "file"])
def test_predict_overflow_is_an_error_and_writes_nothing(work, tmp_path, out):
    args = ["predict", work / "run", work / "huge.csv"]
    if out:
        args += ["--out", tmp_path / out]
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(proc, "row 2 of", "overflows")
    assert proc.stdout == "" and entries(tmp_path) == []


def test_evaluate_overflow_is_an_error(work):
    proc = run_cli("evaluate", "run", "huge.csv", "--json", cwd=work)
    assert_one_line_error(proc, "row 2 of", "overflows")
    assert proc.stdout == ""


def test_evaluate_metrics_that_overflow_are_an_error(work):
    """Predictions that fit in a float, errors whose squares do not: no MSE of inf."""
    proc = run_cli("evaluate", "run", "squares.csv", "--json", cwd=work)
    assert_one_line_error(proc, "metrics", "overflow")
    assert proc.stdout == ""
