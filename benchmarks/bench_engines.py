"""Every way to fit the document's line, side by side: gradstep's engines against the physical
limit (one read pass over the data), the document's NumPy loop, PyTorch full batch, the book's
``DataLoader`` loop and scikit-learn, for N = 100 ... 10^7 rows in float32 and float64.

The measuring code is ``gradstep.bench`` (also behind ``gradstep bench``); its docstring says
how each cell is timed, scaled to its budget and checked. This script prints the Markdown
tables with the two headline checks and writes the whole run as JSON to
``benchmarks/results-engines.json`` (atomically). A progress line per cell goes to standard
error. It exits 1 only when check (b) finds the ``compiled`` engine's parameters differ from
the ``numpy`` engine's (a wrong answer); a missed speed target is reported as FAIL, exit 0.

    python benchmarks/bench_engines.py [--quick]      # the full run takes several minutes
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gradstep import bench
from gradstep.files import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results-engines.json"


def main(argv: list[str]) -> int:
    cfg = bench.quick_config() if "--quick" in argv else bench.Config()
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"bench_engines: {message}", file=sys.stderr, flush=True)

    document = bench.run(cfg, progress=say)
    print(bench.to_markdown(document), end="")
    atomic_write_text(RESULTS, json.dumps(document, indent=2) + "\n")
    say(f"wrote {RESULTS.name} after {time.perf_counter() - start:.0f} s")
    return 1 if document["headlines"]["b"].get("params_equal") is False else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
