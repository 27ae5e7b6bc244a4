"""Bad input: one clear line on standard error, exit code 2, nothing written, nothing lost.

Each case runs the CLI in this process, in a folder holding a good table
(``good.csv``), the case's own files and an existing run (``runs/good``); the
whole folder must be byte for byte the same afterwards.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradstep.cli import main


def good_csv() -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = 1 + x @ [2.0, -1.0] + 0.1 * rng.normal(size=30)
    rows = [f"{a:.6f},{b:.6f},n{i},{t:.6f}" for i, ((a, b), t) in enumerate(zip(x, y, strict=True))]
    return "\n".join(["x1,x2,name,y", *rows]) + "\n"


def with_cell(row: int, column: int, value: str) -> str:
    """good.csv with one cell (data row ``row``, 1-based) replaced."""
    lines = good_csv().splitlines()
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def parquet_bytes(table: pa.Table, tmp: Path) -> bytes:
    path = tmp / "scratch.parquet"
    pq.write_table(table, path)
    data = path.read_bytes()
    path.unlink()
    return data


TRAIN = ["train", "good.csv", "--target", "y", "--no-report", "--out", "runs/new"]
RESUME = ["train", "good.csv", "--target", "y", "--no-report", "--out", "runs/good", "--resume"]

# (case, files to add: name -> text, bytes or None for a folder, argv, fragments of the message)
CASES = [
    ("missing file", {}, ["train", "nope.csv", "--target", "y"], ["no such file: nope.csv"]),
    ("folder as data", {"folder": None}, ["train", "folder", "--target", "y"],
     ["folder is a folder, not a table"]),
    ("unreadable: not UTF-8", {"t.csv": b"x,y\n1,\xff\n2,3\n"}, ["train", "t.csv", "--target", "y"],
     ["cannot read t.csv", "not UTF-8"]),
    ("unreadable: not Parquet", {"t.parquet": b"PAR1 this is not parquet PAR1"},
     ["train", "t.parquet", "--target", "y"], ["cannot read t.parquet as Parquet"]),
    ("unknown format", {"t.xlsx": "x,y\n1,2\n"}, ["train", "t.xlsx", "--target", "y"],
     ["cannot tell the format of t.xlsx", "--format csv"]),
    ("unknown --format", {}, ["train", "good.csv", "--format", "excel", "--target", "y"],
     ["'excel' is not one of"]),
    ("empty CSV", {"e.csv": ""}, ["train", "e.csv", "--target", "y"], ["e.csv is empty"]),
    ("empty Parquet", {"e.parquet": b""}, ["train", "e.parquet", "--target", "y"],
     ["e.parquet is empty"]),
    ("header only", {"h.csv": "x,y\n"}, ["train", "h.csv", "--target", "y"],
     ["h.csv has a header (x, y) but no data rows"]),
    ("one data row", {"o.csv": "x,y\n1,2\n"}, ["train", "o.csv", "--target", "y"],
     ["o.csv has only 1 usable data row", "at least 2"]),
    ("target missing", {}, [*TRAIN[:3], "Y", *TRAIN[4:]],
     ["target column 'Y' is not in good.csv", "did you mean 'y'?",
      "columns there: x1, x2, name, y"]),
    ("feature missing", {}, [*TRAIN, "--features", "x1,X2"],
     ["feature column 'X2' is not in good.csv", "did you mean 'x2'?", "x1, x2, name, y"]),
    ("text in a named feature", {}, [*TRAIN, "--features", "x1,name"],
     ["feature column 'name' is not numeric", "row 1 (line 2) of good.csv holds 'n0'", "one-hot"]),
    ("text in the target", {}, [*TRAIN[:3], "name", *TRAIN[4:]],
     ["target column 'name' is not numeric", "row 1 (line 2)"]),
    ("text in a numeric column", {"t.csv": with_cell(7, 1, "abc")},
     ["train", "t.csv", "--target", "y", "--features", "x1,x2"],
     ["feature column 'x2' is not numeric", "row 7 (line 8) of t.csv holds 'abc'"]),
    ("NaN", {"t.csv": with_cell(3, 0, "nan")}, ["train", "t.csv", "--target", "y"],
     ["column 'x1' has NaN at row 3 (line 4) of t.csv", "--drop-missing"]),
    ("inf", {"t.csv": with_cell(5, 3, "-inf")}, ["train", "t.csv", "--target", "y"],
     ["column 'y' has inf at row 5 (line 6)", "--drop-missing"]),
    ("empty cell", {"t.csv": with_cell(2, 1, "")}, ["train", "t.csv", "--target", "y"],
     ["column 'x2' has an empty/NA cell at row 2 (line 3)", "1 row(s)"]),
    ("duplicate column names", {"d.csv": "x,y,x\n1,2,3\n4,5,6\n"},
     ["train", "d.csv", "--target", "y"],
     ["column name 'x' appears twice in d.csv (columns 1 and 3)"]),
    ("duplicate column names, Parquet", {"d.parquet": "DUP"},
     ["train", "d.parquet", "--target", "y"], ["column name 'a' appears twice in d.parquet"]),
    ("more features than rows", {"w.csv": "a,b,c,y\n1,5,2,1\n2,7,3,2\n3,1,1,3\n"},
     ["train", "w.csv", "--target", "y", "--val-fraction", "0"],
     ["3 feature(s) but only 3", "more features than rows"]),
    ("numbers too large", {"big.csv": "x,y\n1,2e200\n2,3e200\n3,1e200\n4,5e199\n"},
     ["train", "big.csv", "--target", "y", "--val-fraction", "0"],
     ["the descent would overflow", "column 'y' holds values up to 3e+200", "rescale it"]),
    ("descent diverges", {}, [*TRAIN, "--lr", "1000"],
     ["the descent diverged", "lr=1000", "try a smaller learning rate"]),
    ("ragged row", {"r.csv": "x,y\n1,2\n3,4,5\n"}, ["train", "r.csv", "--target", "y"],
     ["row 2 (line 3) of r.csv has 3 field(s) but the header has 2"]),
    ("missing --target", {}, ["train", "good.csv", "--out", "runs/new"],
     ["missing --target", "columns in good.csv: x1, x2, name, y"]),
    ("missing DATA", {}, ["train", "--target", "y"], ["missing DATA"]),
    ("--resume and --force", {}, [*RESUME, "--force"], ["--resume and --force contradict"]),
    ("early stopping without validation", {},
     [*TRAIN, "--early-stopping", "5", "--val-fraction", "0"],
     ["--early-stopping", "--val-fraction 0"]),
    ("early stopping, too few rows to validate", {"s.csv": "x,y\n1,2\n2,3\n3,5\n4,4\n"},
     ["train", "s.csv", "--target", "y", "--early-stopping", "5"],
     ["--early-stopping watches the validation loss", "fewer than 2 for validation"]),
    ("GPU with the numpy engine", {}, [*TRAIN, "--engine", "numpy", "--device", "cuda"],
     ["--device cuda needs a torch engine"]),
    ("float32 with the numpy engine", {}, [*TRAIN, "--engine", "numpy", "--dtype", "float32"],
     ["--dtype float32 needs a torch engine"]),
    ("Parquet from standard input", {}, ["train", "-", "--format", "parquet", "--target", "y"],
     ["standard input ('-') is read as csv"]),
    ("batch larger than the data", {}, [*TRAIN, "--batch-size", "100"],
     ["--batch-size 100 is larger than the 25 training rows"]),
    ("bad learning rate", {}, [*TRAIN, "--lr", "fast"], ["--lr 'fast' must be a positive number"]),
    ("negative learning rate", {}, [*TRAIN, "--lr", "-0.1"], ["--lr '-0.1' must be a positive"]),
    ("zero epochs", {}, [*TRAIN, "--epochs", "0"], ["--epochs '0' must be a whole number >= 1"]),
    ("validation fraction of 1", {}, [*TRAIN, "--val-fraction", "1"], ["--val-fraction '1'"]),
    ("unknown engine", {}, [*TRAIN, "--engine", "jax"], ["--engine 'jax' is not known"]),
    ("empty --features", {}, [*TRAIN, "--features", ","], ["--features ','"]),
    ("target among the features", {}, [*TRAIN, "--features", "x1,y"],
     ["column 'y' is both the target and a feature"]),
    ("existing run folder", {}, ["train", "good.csv", "--target", "y", "--out", "runs/good"],
     ["run folder runs/good already exists", "--resume", "--force"]),
    ("run folder inside a file", {}, [*TRAIN[:-1], "good.csv/run"],
     ["--out good.csv/run: good.csv is a file, not a folder"]),
    ("run folder is a file", {}, [*TRAIN[:-1], "good.csv"],
     ["--out good.csv: good.csv is a file, not a folder"]),
    ("nothing to resume", {}, [*RESUME[:-2], "runs/none", "--resume"],
     ["nothing to resume: runs/none does not exist"]),
    ("resume a folder that was never a run", {"notrun": None, "notrun/notes.txt": "mine"},
     [*RESUME[:-2], "notrun", "--resume"],
     ["nothing to resume: notrun has no checkpoints/last.ckpt"]),
    ("resume a corrupted checkpoint", {"runs/good/checkpoints/last.ckpt": b"garbage"}, RESUME,
     ["last.ckpt: not a gradstep checkpoint"]),
    ("resume a truncated checkpoint", {"runs/good/checkpoints/last.ckpt": "TRUNCATE"}, RESUME,
     ["runs/good/checkpoints/last.ckpt"]),
    ("resume a damaged config.json", {"runs/good/config.json": '{"options": 5}'}, RESUME,
     ["runs/good/config.json holds no options"]),
    ("resume, config.json holds a bad value",
     {"runs/good/config.json": '{"options": {"target": "y", "lr": "fast"}}'},
     [*RESUME, "--lr", "0.1"], ["lr in the resumed run's config.json: 'fast' must be"]),
    ("resume with another learning rate", {}, [*RESUME, "--lr", "0.5"],
     ["--lr 0.5 (command line) contradicts the run being resumed"]),
    ("resume on other data", {"other.csv": with_cell(4, 3, "99")},
     ["train", "other.csv", "--out", "runs/good", "--resume"], ["the data differs from the data"]),
    ("resume a converged run", {}, RESUME, ["nothing to resume: the run converged at epoch"]),
    ("config: unknown key", {"run.toml": 'lrr = 0.1\n'}, [*TRAIN, "--config", "run.toml"],
     ["run.toml: unknown option 'lrr'; did you mean 'lr'?"]),
    ("config: not TOML", {"run.toml": "lr = = 1\n"}, [*TRAIN, "--config", "run.toml"],
     ["config file run.toml is not valid TOML"]),
    ("config: bad value", {"run.toml": 'epochs = "many"\n'}, [*TRAIN, "--config", "run.toml"],
     ["epochs in run.toml: 'many' must be a whole number"]),
    ("config: missing file", {}, [*TRAIN, "--config", "none.toml"], ["no such config file"]),
    ("predict: missing feature columns", {"p.csv": "x1,name\n1,a\n"},
     ["predict", "runs/good", "p.csv"],
     ["p.csv lacks 1 column(s) the model in runs/good needs: 'x2'", "columns there: x1, name"]),
    ("predict: not a run folder", {"folder": None}, ["predict", "folder", "good.csv"],
     ["folder is not a gradstep run folder (no model.json)"]),
    ("predict: output exists", {"pred.csv": "keep me\n"},
     ["predict", "runs/good", "good.csv", "--out", "pred.csv"], ["pred.csv already exists"]),
    ("predict: output cannot be written", {},
     ["predict", "runs/good", "good.csv", "--out", "good.csv/p.csv"],
     ["cannot write good.csv/p.csv"]),
    ("predict: output is a folder", {"pred": None},
     ["predict", "runs/good", "good.csv", "--out", "pred", "--force"], ["cannot write pred"]),
    ("predict: NaN in a feature", {"t.csv": with_cell(3, 0, "nan")},
     ["predict", "runs/good", "t.csv"], ["column 'x1' has NaN at row 3"]),
    ("evaluate: target missing", {"p.csv": "x1,x2\n1,2\n"}, ["evaluate", "runs/good", "p.csv"],
     ["lacks 1 column(s) the model in runs/good needs: 'y'"]),
    ("compare: not a run folder", {"folder": None}, ["compare", "runs/good", "folder"],
     ["has no metrics.csv"]),
]  # fmt: skip


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.csv").write_text(good_csv())
    code = main(["train", "good.csv", "--target", "y", "--no-report", "--out", "runs/good"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    return tmp_path


def add_files(folder: Path, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        if content is None:
            path.mkdir()
        elif content == "DUP":
            table = pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["a", "a"])
            path.write_bytes(parquet_bytes(table, folder))
        elif content == "TRUNCATE":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.mark.parametrize(("case", "files", "argv", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(workdir, capsys, case, files, argv, fragments):
    add_files(workdir, files)
    before = snapshot(workdir)
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, (code, captured.out, captured.err)
    assert "Traceback" not in captured.err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gradstep: error: "), err
    for fragment in fragments:
        assert fragment.lower() in err.lower(), (fragment, err)
    assert captured.out == ""
    assert snapshot(workdir) == before, "the command wrote or changed files"


def test_each_bad_input_through_a_real_process(workdir):
    """The same contract holds outside pytest's process (one representative case)."""
    from conftest import assert_one_line_error, run_cli

    before = snapshot(workdir)
    proc = run_cli("train", "good.csv", "--target", "y", "--features", "x1,name", cwd=workdir)
    assert_one_line_error(proc, "feature column 'name' is not numeric", "row 1 (line 2)")
    assert snapshot(workdir) == before


@pytest.mark.parametrize(("stdin", "fragment"), [
    ("", "standard input is empty"),
    ("\n\n", "standard input is empty"),
    ("x,y\n", "standard input has a header (x, y) but no data rows"),
])  # fmt: skip
def test_standard_input_without_data(workdir, stdin, fragment):
    from conftest import assert_one_line_error, run_cli

    before = snapshot(workdir)
    proc = run_cli("train", "-", "--target", "y", cwd=workdir, stdin=stdin)
    assert_one_line_error(proc, fragment)
    assert snapshot(workdir) == before


def test_drop_missing_says_how_many(workdir, capsys):
    (workdir / "t.csv").write_text(with_cell(3, 0, "nan"))
    code = main(["train", "t.csv", "--target", "y", "--drop-missing", "--no-report", "--json",
                 "--out", "runs/dropped"])  # fmt: skip
    assert code == 0
    assert '"dropped_rows": 1' in capsys.readouterr().out
