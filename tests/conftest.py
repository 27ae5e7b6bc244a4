import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def global_rng_guard():
    """Fail the test if the code under test touched NumPy's global random state."""
    before = np.random.get_state()
    yield
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def run_cli(*args, cwd=None, stdin=None, timeout=300):
    """Run ``python -m gradstep ARGS`` as a real process."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run(
        [sys.executable, "-m", "gradstep", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment.lower() in err.lower(), (fragment, err)
    return err


def generated_doc_is_current(script: str, doc: str) -> None:
    """Assert that ``docs/<doc>`` equals what ``scripts/<script>.py`` renders now."""
    import importlib

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        module = importlib.import_module(script)
    finally:
        sys.path.pop(0)
    committed = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    assert committed == module.render(), f"run: python scripts/{script}.py"
