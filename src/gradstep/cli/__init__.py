"""The command line. The only place that prints and turns errors into exit codes.

Each command lives in its own module under ``gradstep.cli`` and is imported only
when it runs (or when ``--help`` lists it); heavy modules (NumPy, matplotlib,
torch) are imported inside the command functions, so ``gradstep --help`` stays
instant. To add a command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys

import click

from gradstep.errors import GradstepError

# command name -> "module:attribute" of its click command
COMMANDS = {
    "demo": "gradstep.cli.demo:demo",
    "train": "gradstep.cli.train:train",
    "predict": "gradstep.cli.predict:predict",
    "evaluate": "gradstep.cli.evaluate:evaluate",
    "compare": "gradstep.cli.compare:compare",
    "graph": "gradstep.cli.graph:graph",
    "plot": "gradstep.cli.plot:plot",
    "report": "gradstep.cli.report:report",
}


class Interrupted(Exception):
    """Ctrl-C: the CLI prints one line (this message) and exits with 130."""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context):
        # A Ctrl-C that lands while a finalizer runs (a __del__ or weakref callback, in
        # matplotlib say) cannot propagate: Python would print "Exception ignored in ..."
        # with a traceback and carry on. Keep it quiet and report the interrupt at the end.
        swallowed = []
        previous = sys.unraisablehook

        def hook(unraisable) -> None:
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                swallowed.append(unraisable)
            else:
                previous(unraisable)

        sys.unraisablehook = hook
        # Caught here, before click turns it into Abort after printing a blank line.
        try:
            result = super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        finally:
            sys.unraisablehook = previous
        if swallowed:
            raise Interrupted("interrupted")
        return result


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradstep")
def cli() -> None:
    """gradstep: learn, see and run gradient descent for linear regression."""


# click >= 8.2 raises this for a bare `gradstep`; older versions print help themselves.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on standard error and exit code 2."""
    try:
        code = cli.main(args=argv, prog_name="gradstep", standalone_mode=False)
    except Interrupted as exc:
        click.echo(f"gradstep: {exc}", err=True)
        return 130
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
    # A command's ctx.exit(code) comes back as the return value without standalone mode.
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
