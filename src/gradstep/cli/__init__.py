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

from gradstep.cli.stdout import StdoutError, checked_stdout, silence_stdout
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
    """Run the CLI; user errors become one line on standard error and exit code 2.

    Failed writes are one line too: a file or standard output that cannot be written
    (a full disk, an I/O error) exits 2; a reader that closed the pipe early
    (``gradstep predict ... | head -1``) ends the command quietly with 141, the status
    of a process killed by SIGPIPE, as ``cat`` or ``seq`` would.
    """
    try:
        with checked_stdout():
            return _run(argv)
    except StdoutError as exc:
        silence_stdout()
        if exc.closed_pipe:
            return EXIT_CLOSED_PIPE
        click.echo(f"gradstep: error: cannot write to standard output: {_reason(exc.error)}",
                   err=True)  # fmt: skip
        return 2


EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE


def _run(argv: list[str] | None) -> int:
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
    except OSError as exc:
        # The commands name the file in their own messages; this is the safety net for a
        # write they did not expect to fail (a full disk, a name too long), still one line.
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"gradstep: error: {where}{_reason(exc)}", err=True)
        return 2
    # A command's ctx.exit(code) comes back as the return value without standalone mode.
    return code if isinstance(code, int) else 0


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


if __name__ == "__main__":
    sys.exit(main())
