"""Peak resident memory of ``gradstep train``, ``predict`` and ``evaluate`` on large tables.

Generates, in a temporary folder, a CSV of 10^6 rows x 10 float64 columns (9 features and a
target: 80 MB as float64, about 190 MB as text) and a Parquet file of 5 x 10^6 rows x 2
columns (80 MB as float64), each also with an empty cell in one row of 1000 (for
``--drop-missing``), then runs each command as a real process under ``/usr/bin/time -v`` and
reports its wall time and maximum resident set size (what the
operating system measured, imports included). The bound the slow test asserts is 500 MB.

    python benchmarks/bench_memory.py [--quick]     # --quick: a tenth of the rows
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CSV_ROWS, CSV_FEATURES = 1_000_000, 9
PARQUET_ROWS = 5_000_000
BOUND_MB = 500


def write_tables(folder: Path, scale: float = 1.0) -> dict[str, Path]:
    """The two tables, and copies with an empty cell in one row of 1000 (for
    ``--drop-missing``), written with pyarrow in ``folder``."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    paths = {}
    for kind, n, d in (("csv", CSV_ROWS, CSV_FEATURES), ("parquet", PARQUET_ROWS, 1)):
        n = int(n * scale)
        x = rng.normal(size=(n, d))
        y = 1.0 + x @ np.arange(1.0, d + 1) + rng.normal(size=n)
        columns = {f"x{j}": x[:, j] for j in range(d)}
        gaps = np.arange(n) % 1000 == 7
        for name, x0 in (("", pa.array(x[:, 0])), ("-gaps", pa.array(x[:, 0], mask=gaps))):
            table = pa.table({**columns, "x0": x0, "y": y})
            path = folder / f"table{name}.{kind}"
            pa_csv.write_csv(table, path) if kind == "csv" else pq.write_table(table, path)
            paths[kind + name] = path
        del x, y, columns, table
    return paths


def measure(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """``(seconds, peak MB, process)`` of ``python -m gradstep ARGS`` under /usr/bin/time -v."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "gradstep", *args]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    peak = int(found.group(1)) / 1024 if found else float("nan")
    return seconds, peak, proc


def commands(paths: dict[str, Path], folder: Path) -> list[tuple[str, list[str]]]:
    """``(label, arguments)`` for every command measured, in the order they must run."""
    rows = []
    for kind in ("csv", "parquet"):
        path, gaps, run = paths[kind], paths[f"{kind}-gaps"], folder / f"run-{kind}"
        train = ["train", "--target", "y", "--no-report", "--json"]
        predict = ["predict", str(run), str(path), "--out", str(folder / "p.csv"), "--force"]
        rows += [
            (f"train {kind}", [*train, str(path), "--out", str(run)]),
            (f"train {kind}, 0.1% gaps, --drop-missing",
             [*train, str(gaps), "--out", str(folder / f"run-{kind}-gaps"), "--drop-missing"]),
            (f"predict {kind}", predict),
            (f"evaluate {kind}", ["evaluate", str(run), str(path), "--json"]),
        ]  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    scale = 0.1 if "--quick" in argv else 1.0
    lines = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="gradstep-bench-memory-") as tmp:
        folder = Path(tmp)
        paths = write_tables(folder, scale)
        sizes = {kind: path.stat().st_size / 2**20 for kind, path in paths.items()}
        for label, args in commands(paths, folder):
            print(f"bench_memory: {label} ...", file=sys.stderr, flush=True)
            seconds, peak, proc = measure(args)
            ok = proc.returncode == 0
            failed |= not ok
            verdict = f"exit {proc.returncode}" if not ok else ("ok" if peak < BOUND_MB else "over")
            lines.append(f"| `{label}` | {seconds:.1f} | {peak:.0f} | {verdict} |")
    n_csv, n_pq = int(CSV_ROWS * scale), int(PARQUET_ROWS * scale)
    print("## Peak memory of the commands on large tables\n")
    print(
        f"CSV: {n_csv:,} rows x {CSV_FEATURES + 1} columns ({sizes['csv']:.0f} MB of text, "
        f"{n_csv * (CSV_FEATURES + 1) * 8 / 1e6:.0f} MB as float64); Parquet: {n_pq:,} rows x 2 "
        f"columns ({sizes['parquet']:.0f} MB, {n_pq * 16 / 1e6:.0f} MB as float64). Each command "
        "is one process under `/usr/bin/time -v`; peak is its maximum resident set size "
        f"(imports included), bound {BOUND_MB} MB.\n"
    )
    print("| command | time (s) | peak RSS (MB) | < 500 MB |")
    print("|---|---:|---:|---|")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
