"""The command line as a whole: entry points, help, lazy imports."""

import subprocess
import sys
from pathlib import Path

from conftest import run_cli


def test_console_script_behaves_like_python_m(tmp_path):
    script = Path(sys.executable).with_name("gradstep")
    assert script.exists()
    via_script = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    via_module = run_cli("--help")
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    assert "demo" in via_script.stdout


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from gradstep.cli import main\n"
        "rc = main(['--help'])\n"
        "names = ('numpy', 'torch', 'matplotlib', 'sklearn', 'plotly', 'pyarrow')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout + proc.stderr
