"""Progress bars (gradstep.progress): the convergence mapping on a fake bar, each front door's
bar on standard error, where ``"auto"`` draws one, and ``gradstep train`` in a pseudo-terminal."""

import math
import os
import sys
import types

import pytest

import gradstep
from gradstep import GDRegressor, progress
from gradstep.errors import GradstepError
from gradstep.progress import STEPS, DescentBar, convergence_fraction

from conftest import run_cli

DATA = gradstep.make_data()


class FakeBar:
    """Records what a DescentBar asks of tqdm."""

    made: list = []

    def __init__(self, **options):
        self.options, self.n, self.postfixes, self.shown, self.closed = options, 0, [], [], False
        self.n = options.get("initial", 0)
        FakeBar.made.append(self)

    def set_postfix(self, postfix, refresh=True):
        self.postfixes.append(dict(postfix))

    def refresh(self):
        self.shown.append(self.n)

    def close(self):
        self.closed = True


# ------------------------------------------------------------------ the mapping


def test_fraction_is_the_bound_on_a_log_scale_from_start_to_tol():
    assert convergence_fraction(1.0, 1.0, 1e-8) == 0.0
    assert convergence_fraction(1e-4, 1.0, 1e-8) == pytest.approx(0.5)
    assert convergence_fraction(1e-6, 1e2, 1e-8) == pytest.approx(0.8)
    assert convergence_fraction(1e-8, 1.0, 1e-8) == 1.0  # certified: the whole way
    assert convergence_fraction(0.0, 1.0, 1e-8) == 1.0


def test_fraction_reaches_one_only_when_certified_and_never_goes_below_zero():
    just_above = convergence_fraction(1.0000001e-8, 1.0, 1e-8)
    assert just_above < 1.0 and int(just_above * STEPS) == STEPS - 1
    assert convergence_fraction(10.0, 1.0, 1e-8) == 0.0  # the bound rose above its start
    assert convergence_fraction(1e-9, 1e-9, 1e-8) == 1.0  # started within tol


def test_fraction_is_unknown_without_a_finite_bound():
    assert convergence_fraction(None, 1.0, 1e-8) is None
    assert convergence_fraction(math.inf, math.inf, 1e-8) is None  # nothing certifiable
    assert convergence_fraction(math.nan, 1.0, 1e-8) is None
    assert convergence_fraction(1.0, None, 1e-8) is None


def test_a_bar_with_tol_follows_the_bound_not_the_epochs():
    bar = DescentBar(100_000, tol=1e-8, start_bound=1.0, make_bar=FakeBar)
    fake = bar.bar
    assert fake.options["total"] == STEPS and "to tol 1e-08" in fake.options["desc"]
    assert "bar_format" in fake.options and "{n_fmt}" not in fake.options["bar_format"]
    bar(10, 100_000, 0.5, 1e-2)
    bar(20, 100_000, 0.4, 1e-4)
    bar(30, 100_000, 0.41, 1e-3)  # a bound can rise (mini-batches): the bar says so
    bar(40, 100_000, 0.3, 5e-9)
    assert fake.shown == [250, 500, 375, STEPS]
    assert fake.postfixes[-1] == {"epoch": "40/100000", "loss": "0.3", "bound": "5e-09"}
    bar.close()
    assert fake.closed


def test_a_bar_without_tol_counts_epochs_toward_the_cap():
    bar = DescentBar(5000, make_bar=FakeBar)
    fake = bar.bar
    assert fake.options["total"] == 5000 and fake.options["unit"] == "epoch"
    bar(1000, 5000, 0.5, None)
    bar(5000, 5000, 0.25, None)
    assert fake.shown == [1000, 5000] and fake.postfixes[-1] == {"loss": "0.25"}


def test_a_bar_counts_epochs_when_nothing_can_be_certified():
    bar = DescentBar(300, tol=1e-8, start_bound=math.inf, make_bar=FakeBar)
    assert not bar.converging and bar.bar.options["total"] == 300
    bar(100, 300, 1.0, math.inf)
    assert bar.bar.shown == [100] and bar.bar.postfixes[-1]["bound"] == "inf"


def test_a_resumed_run_starts_its_bar_where_it_left_off():
    bar = DescentBar(2000, offset=1500, make_bar=FakeBar, leave=False)
    assert bar.bar.options["initial"] == 1500 and bar.bar.options["leave"] is False
    bar(1700, 2000, 0.5, None)
    assert bar.bar.shown == [1700]


# ------------------------------------------------------------------ where bars are drawn


def test_auto_means_a_terminal_or_a_notebook(monkeypatch):
    assert progress.wanted(True) and not progress.wanted(False) and not progress.wanted(None)
    assert not progress.in_notebook()  # pytest: a plain interpreter
    assert not progress.wanted("auto")  # stderr captured: not a terminal
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: True))
    assert progress.wanted("auto")


def fake_kernel(monkeypatch, kernel):
    """IPython and ipykernel.zmqshell as a running Jupyter kernel shows them."""

    class ZMQInteractiveShell:
        def __init__(self):
            self.kernel = kernel

    shell = ZMQInteractiveShell()
    zmqshell = types.SimpleNamespace(ZMQInteractiveShell=ZMQInteractiveShell)
    ipython = types.SimpleNamespace(get_ipython=lambda: shell)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", zmqshell)
    monkeypatch.setitem(sys.modules, "IPython", ipython)


def test_a_running_kernel_is_a_notebook(monkeypatch):
    fake_kernel(monkeypatch, kernel=object())
    assert progress.in_notebook() and progress.wanted("auto")


def test_ipython_in_a_terminal_is_no_notebook(monkeypatch):
    fake_kernel(monkeypatch, kernel=None)
    assert not progress.in_notebook()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not progress.in_notebook()


def test_the_text_bar_in_a_notebook_without_ipywidgets(monkeypatch):
    """tqdm.auto would warn "IProgress not found"; a learner gets the text bar, no warning."""
    from tqdm import tqdm as text_bar

    fake_kernel(monkeypatch, kernel=object())
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name)
    )
    assert progress.bar_class() is text_bar


# ------------------------------------------------------------------ the front doors


def test_fit_prints_nothing_unless_asked(capsys):
    gradstep.fit(DATA.x_train, DATA.y_train, epochs=200, tol=1e-10)
    gradstep.fit(DATA.x_train, DATA.y_train, epochs=200, progress=False)
    gradstep.fit(DATA.x_train, DATA.y_train, epochs=200, progress="auto")  # not a terminal
    assert capsys.readouterr() == ("", "")


def test_fit_with_tol_shows_the_way_to_convergence_on_stderr(capsys):
    result = gradstep.fit(DATA.x_train, DATA.y_train, epochs=100_000, tol=1e-10, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "to tol 1e-10: 100%" in err
    assert f"epoch={result.history.epochs}/100000" in err  # the epochs run, in the postfix
    assert "/100000 [" not in err  # not a count toward the cap


def test_fit_cut_short_by_the_cap_leaves_its_bar_short_of_100(capsys):
    result = gradstep.fit(DATA.x_train, DATA.y_train, lr=0.001, epochs=300, tol=1e-10,
                          progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert not result.history.converged
    assert "100%" not in err and "epoch=300/300" in err


def test_fit_without_tol_counts_epochs(capsys):
    gradstep.fit(DATA.x_train, DATA.y_train, epochs=700, progress=True)
    assert "700/700" in capsys.readouterr().err


def test_fit_still_takes_a_callable():
    seen = []
    gradstep.fit(DATA.x_train, DATA.y_train, epochs=100_000, tol=1e-10,
                 progress=lambda *args: seen.append(args))  # fmt: skip
    assert seen and all(len(args) == 4 for args in seen) and seen[-1][3] <= 1e-10


@pytest.mark.parametrize("bad", ["yes", 1, 0.5, "terminal"])
def test_fit_refuses_an_unknown_progress(bad):
    with pytest.raises(GradstepError, match="progress="):
        gradstep.fit(DATA.x_train, DATA.y_train, epochs=5, progress=bad)


def test_gdregressor_verbose(capsys):
    model = GDRegressor().fit(DATA.x_train, DATA.y_train)
    assert capsys.readouterr() == ("", "") and model.get_params()["verbose"] == 0
    model = GDRegressor(verbose=1).fit(DATA.x_train, DATA.y_train)
    assert "to tol 1e-08: 100%" in capsys.readouterr().err
    GDRegressor(verbose=1, tol=None, max_iter=400).fit(DATA.x_train, DATA.y_train)
    assert "400/400" in capsys.readouterr().err
    model.partial_fit(DATA.x_train, DATA.y_train)
    assert capsys.readouterr().err == ""
    with pytest.raises(GradstepError, match="verbose=-1"):
        GDRegressor(verbose=-1).fit(DATA.x_train, DATA.y_train)


def test_trainer_auto_shows_its_bar_in_a_notebook(monkeypatch, capsys):
    import torch
    from torch import nn

    from gradstep import Trainer

    def fit(progress_setting):
        model = nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        Trainer(model, nn.MSELoss(), opt, progress=progress_setting).fit(
            DATA.x_train, DATA.y_train, epochs=3
        )

    fit("auto")
    assert capsys.readouterr().err == ""  # neither a terminal nor a notebook
    fake_kernel(monkeypatch, kernel=object())
    fit("auto")
    err = capsys.readouterr().err
    assert "training: 100%" in err and "3/3" in err


# ------------------------------------------------------------------ the command line


def run_in_pty(args, cwd) -> tuple[int, str]:
    """``python -m gradstep ARGS`` with standard error on a pseudo-terminal (120 columns)."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "gradstep", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=side, env=env)  # fmt: skip
    os.close(side)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    proc.stdout.read()
    os.close(main)
    return proc.wait(timeout=120), seen.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    data = gradstep.make_data(n=200, true_w=[2.0, -1.0], seed=3)
    lines = ["a,b,y"] + [
        f"{a:.17g},{b:.17g},{y:.17g}" for (a, b), y in zip(data.x, data.y, strict=True)
    ]
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_cli_bar_with_tol_shows_convergence_not_the_cap(table):
    code, err = run_in_pty(["train", "data.csv", "--target", "y", "--out", "run-tol"], table)
    assert code == 0, err
    assert "to tol 1e-08" in err and "100%" in err, err
    assert "/100000 [" not in err  # the cap is in the postfix, not the count
    assert "epoch=" in err and "/100000" in err and "bound=" in err


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_cli_bar_without_tol_counts_epochs(table):
    code, err = run_in_pty(["train", "data.csv", "--target", "y", "--out", "run-epochs",
                            "--tol", "0", "--epochs", "1500"], table)  # fmt: skip
    assert code == 0, err
    assert "1500/1500" in err and "to tol" not in err, err


def test_cli_shows_no_bar_off_a_terminal(table):
    proc = run_cli("train", "data.csv", "--target", "y", "--out", "run-pipe", cwd=table)
    assert proc.returncode == 0, proc.stderr
    assert "%|" not in proc.stderr and "to tol" not in proc.stderr
