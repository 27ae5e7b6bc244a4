"""``gradstep graph``: the computation graph of one step's loss (torchviz + Graphviz)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="out/graph",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for graph.svg and graph.png (replaced if there).",
)
def graph(out_dir: str) -> None:
    """Draw the autograd graph of the demo's first loss: b + x @ w, then the MSE."""
    from gradstep.tutorial.graph import render_graph

    files, note = render_graph(out_dir)
    for name, path in files.items():
        click.echo(f"{name}: {path}")
    if note:
        click.echo(f"Note: {note}", err=True)
