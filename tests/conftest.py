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


# A real headless Chromium for the report tests (Debian's; never a downloaded browser).
CHROMIUM = os.environ.get("GRADSTEP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no headless browser: {CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no browser driver: Playwright for Python is not installed")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # a broken install should say so, not fail the suite
            pytest.skip(f"{CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()
