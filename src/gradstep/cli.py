"""The command line. The only place that prints and turns errors into exit codes.

Heavy modules (NumPy, matplotlib, torch) are imported inside commands so that
``gradstep --help`` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gradstep.errors import GradstepError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradstep")
def cli() -> None:
    """gradstep: learn, see and run gradient descent for linear regression."""


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="out/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the figures.",
)
@click.option(
    "--epochs", default=1000, show_default=True, type=int, help="Epochs of batch gradient descent."
)
@click.option("--lr", default=0.1, show_default=True, type=float, help="Learning rate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def demo(out_dir: str, epochs: int, lr: float, as_json: bool) -> None:
    """Run the document's walkthrough on its own data and print every step."""
    from gradstep.demo_text import format_walkthrough
    from gradstep.plots import save_figure
    from gradstep.plots.data import figure1
    from gradstep.walkthrough import run_walkthrough

    walk = run_walkthrough(epochs=epochs, lr=lr)
    out = Path(out_dir)
    data = walk.data
    fig, _ = figure1(data.x_train, data.y_train, data.x_val, data.y_val)
    figures = {"figure1": out / "figure1.png"}
    save_figure(fig, figures["figure1"])
    if as_json:
        payload = walk.to_dict()
        payload["figures"] = {name: str(path) for name, path in figures.items()}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(format_walkthrough(walk, figures))


# click >= 8.2 raises this for a bare `gradstep`; older versions print help themselves.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on standard error and exit code 2."""
    try:
        cli.main(args=argv, prog_name="gradstep", standalone_mode=False)
    except GradstepError as exc:
        click.echo(f"gradstep: error: {exc}", err=True)
        return 2
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"gradstep: error: {exc.format_message()}{hint}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("gradstep: aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"gradstep: error: {exc.format_message()}", err=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
