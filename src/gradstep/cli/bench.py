"""``gradstep bench``: time every engine against the read pass and the document's loops."""

from __future__ import annotations

import click

DEFAULT_SIZES = "100,100000,1000000,10000000"
QUICK_SIZES = "100,100000"


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"100,1e5,10^6"`` -> (100, 100000, 1000000)."""
    from gradstep.errors import GradstepError

    sizes = []
    for part in text.split(","):
        item = part.strip().replace("**", "^")
        try:
            if "^" in item:
                base, exp = item.split("^")
                value = int(base) ** int(exp)
            else:
                value = float(item)
        except ValueError:
            value = None
        if value is None or value != int(value) or value < 20:
            raise GradstepError(
                f"--sizes: {part.strip()!r} is not a whole number >= 20; "
                "pass sizes like 100,1e5,10^6"
            )
        sizes.append(int(value))
    return tuple(sizes)


def parse_dtypes(text: str) -> tuple[str, ...]:
    from gradstep.errors import GradstepError

    dtypes = tuple(part.strip() for part in text.split(","))
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise GradstepError(f"--dtypes: {', '.join(bad)} not known; use float32, float64 or both")
    return dtypes


@click.command()
@click.option("--quick", is_flag=True,
              help=f"Sizes {QUICK_SIZES}, short budgets: finishes in well under 30 s.")  # fmt: skip
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of Markdown."
)
@click.option("--sizes", metavar="N,N,...", default=None,
              help=f"Data sizes (rows). Default {DEFAULT_SIZES}; with --quick {QUICK_SIZES}. "
              "Accepts 1e5 and 10^5.")  # fmt: skip
@click.option("--dtypes", metavar="DTYPE,...", default="float32,float64", show_default=True,
              help="Data types of x and y.")  # fmt: skip
@click.option("--features", type=click.IntRange(1), default=1, show_default=True,
              help="Number of features d (y = 1 + 2·(x_1 + ... + x_d) + 0.1·noise).")  # fmt: skip
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch threads (default: the CPU count).")  # fmt: skip
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="A line on standard error per cell (which one, time elapsed).")  # fmt: skip
def bench(quick: bool, as_json: bool, sizes: str | None, dtypes: str, features: int,
          threads: int | None, progress: bool) -> None:  # fmt: skip
    """Time every gradstep engine side by side with the physical limit (one read pass over
    the data), the document's NumPy loop, PyTorch full batch, the book's DataLoader loop and
    scikit-learn, for several data sizes and dtypes, and check two headline targets.

    Prints a Markdown table per size: time per epoch, rows/s, ratios to the read pass and to
    the document's loop, compile time apart, and the parameter error against least squares
    (or against the same descent in float64). The full run takes several minutes.

    \b
      gradstep bench --quick
      gradstep bench --sizes 1e5,1e6 --dtypes float32 --json > bench.json
    """
    import json
    import sys

    from gradstep import bench as engine_bench

    changes = {"sizes": parse_sizes(sizes or (QUICK_SIZES if quick else DEFAULT_SIZES)),
               "dtypes": parse_dtypes(dtypes), "features": features}  # fmt: skip
    if threads is not None:
        changes["threads"] = threads
    cfg = engine_bench.quick_config(**changes) if quick else engine_bench.Config(**changes)

    def say(message: str) -> None:
        print(f"gradstep bench: {message}", file=sys.stderr, flush=True)

    document = engine_bench.run(cfg, progress=say if progress else None)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(engine_bench.to_markdown(document), nl=False)
