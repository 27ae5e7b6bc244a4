"""Run every ``benchmarks/bench_*.py``, print their results, write ``benchmarks/results.md``.

The contract for a benchmark: a script ``bench_NAME.py`` that, run with this
Python from the repository root, prints Markdown to standard output (a ``##``
heading, a line or two, a table) and exits 0. Each runs in its own process, one
after another, so none warms up or slows down another. A benchmark that fails is
reported with its exit code and the end of its standard error; the others still run.

    python benchmarks/run.py [NAME ...]     # all (writes results.md), or only bench_NAME.py
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from gradstep.files import atomic_write_text

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"


def run_one(script: Path) -> tuple[str, bool]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=HERE.parent)  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return f"{proc.stdout.rstrip()}\n\n_{script.name}: {seconds:.0f} s._\n", True
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    body = proc.stdout.rstrip()
    return (
        f"## {script.name} FAILED (exit {proc.returncode})\n\n{body}\n\n```\n{tail}\n```\n",
        False,
    )


def header() -> str:
    import numpy
    import torch

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    return (
        "# Benchmark results\n\n"
        f"Written by `make bench` (`benchmarks/run.py`) on {when}: {cpu}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, "
        f"NumPy {numpy.__version__}. One run; numbers from another machine will differ, "
        "ratios much less.\n"
    )


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
    if not scripts:
        print("no benchmarks matched", file=sys.stderr)
        return 2
    sections, ok = [header()], True
    for script in scripts:
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        text, passed = run_one(script)
        ok &= passed
        print(text, flush=True)
        sections.append(text)
    if argv:  # a partial run must not replace the other benchmarks' results
        print(f"not written: {RESULTS.relative_to(HERE.parent)} (only some benchmarks ran)",
              file=sys.stderr)  # fmt: skip
    else:
        atomic_write_text(RESULTS, "\n".join(sections))
        print(f"wrote {RESULTS.relative_to(HERE.parent)}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
