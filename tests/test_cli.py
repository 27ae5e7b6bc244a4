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


def test_ctrl_c_inside_a_finalizer_is_one_line_and_exit_130(tmp_path):
    """A KeyboardInterrupt raised in a __del__ cannot propagate; Python would print
    'Exception ignored in ...' and a traceback, and the command would exit 0."""
    module = tmp_path / "finalizer_cmd.py"
    module.write_text(
        "import gc, sys, click\n"
        "class Dies:\n"
        "    def __init__(self, exc): self.exc = exc\n"
        "    def __del__(self): raise self.exc\n"
        "@click.command()\n"
        "@click.option('--other', is_flag=True)\n"
        "def cmd(other):\n"
        "    Dies(RuntimeError('other') if other else KeyboardInterrupt()); gc.collect()\n"
        "    click.echo('finished')\n"
    )
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from gradstep import cli\n"
        "cli.COMMANDS['fin'] = 'finalizer_cmd:cmd'\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    run = [sys.executable, "-c", code, "fin"]
    proc = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (130, "gradstep: interrupted\n")
    other = subprocess.run([*run, "--other"], capture_output=True, text=True, timeout=60)
    assert other.returncode == 0 and "RuntimeError: other" in other.stderr  # still reported
