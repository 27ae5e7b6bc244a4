"""``gradstep demo``: the document's walkthrough, printed step by step."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="out/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the figures (files the demo writes there are replaced).",
)
@click.option(
    "--epochs", default=1000, show_default=True, type=int, help="Epochs of batch gradient descent."
)
@click.option("--lr", default=0.1, show_default=True, type=float, help="Learning rate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def demo(out_dir: str, epochs: int, lr: float, as_json: bool) -> None:
    """Run the document's walkthrough on its own data and print every step."""
    from gradstep.cli.demo_text import format_walkthrough
    from gradstep.plots.demo_figures import write_demo_figures
    from gradstep.report import write_demo_report
    from gradstep.tutorial.demo_runs import run_demo_runs
    from gradstep.tutorial.graph import render_graph
    from gradstep.tutorial.torch_walkthrough import run_torch_walkthrough
    from gradstep.tutorial.walkthrough import run_walkthrough

    walk = run_walkthrough(epochs=epochs, lr=lr)
    out = Path(out_dir)
    runs = run_demo_runs(walk)  # once, for the figures and the report
    figures = write_demo_figures(walk, out, runs=runs)
    torch_walk = run_torch_walkthrough(epochs=epochs, lr=lr)
    graph_files, graph_note = render_graph(out)
    figures.update(graph_files)
    figures["report"] = write_demo_report(walk, out, race=runs.race)  # last: inlines graph.svg
    if as_json:
        payload = walk.to_dict()
        payload["torch"] = torch_walk.to_dict()
        payload["figures"] = {name: str(path) for name, path in figures.items()}
        click.echo(json.dumps(payload, indent=2))
        if graph_note:
            click.echo(f"Note: {graph_note}", err=True)
    else:
        notes = (graph_note,) if graph_note else ()
        click.echo(format_walkthrough(walk, figures, torch_walk, notes))
