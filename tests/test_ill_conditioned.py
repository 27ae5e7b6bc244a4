"""Single features far from zero: a run lands on least squares or says it cannot be certified.

The hostile cases that once stopped after 1-2 epochs saying "converged" with an
intercept of 1e-16: Unix timestamps, integers near 2**53, values near 1e149.
"""

import json

import numpy as np
import pytest

from gradstep.cli import main

RNG = np.random.default_rng(11)
N = 300


def timestamps():
    x = 1.7e9 + RNG.uniform(0, 3.0e7, N)
    return x, -1_700_011.0 + 1e-3 * x + RNG.normal(size=N)


def near_2_53():
    x = 2.0**53 + 2.0 * np.arange(N)  # exactly representable
    return x, 3.0 + 0.5 * (x - 2.0**53) + RNG.normal(size=N)


def near_1e149():
    x = 1e149 * (1.0 + RNG.uniform(0, 1, N))
    return x, 2.0 + 3e-149 * x + 0.1 * RNG.normal(size=N)


CASES = {"timestamps": timestamps, "integers near 2**53": near_2_53, "1e149": near_1e149}


def write_csv(path, x, y):
    lines = ["x,y"] + [f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def train(capsys, *args):
    code = main(["train", *map(str, args), "--json", "--no-report"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize("case", list(CASES))
def test_default_run_lands_on_least_squares(case, tmp_path, capsys):
    csv_path = write_csv(tmp_path / "d.csv", *CASES[case]())
    got = train(capsys, csv_path, "--target", "y", "--out", tmp_path / "run")
    assert got["converged"] is True and got["scaled"] is True
    assert got["max_rel_diff_closed_form"] <= 1e-6
    assert got["certified_bound"] <= 1e-8


@pytest.mark.parametrize("case", list(CASES))
def test_unscaled_run_says_it_cannot_be_certified(case, tmp_path, capsys):
    csv_path = write_csv(tmp_path / "d.csv", *CASES[case]())
    got = train(capsys, csv_path, "--target", "y", "--out", tmp_path / "run", "--no-scale",
                "--epochs", 300)  # fmt: skip
    assert got["converged"] is False and got["epochs_run"] == 300
    assert got["condition_number"] > 1e10
    code = main(["train", str(csv_path), "--target", "y", "--out", str(tmp_path / "text"),
                 "--no-scale", "--epochs", "300", "--no-report"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "cannot be certified" in out and "--scale" in out
