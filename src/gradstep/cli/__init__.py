"""The command line. The only place that prints and turns errors into exit codes.

Each command lives in its own module under ``gradstep.cli`` and is imported only
when it runs (or when ``--help`` lists it); heavy modules (NumPy, matplotlib,
torch) are imported inside the command functions, so ``gradstep --help`` stays
instant. To add a command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import signal
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
    "animate": "gradstep.cli.animate:animate",
    "report": "gradstep.cli.report:report",
    "bench": "gradstep.cli.bench:bench",
}


class Interrupted(Exception):
    """Ctrl-C: the CLI prints one line (this message) and exits with 130."""


class CtrlC:
    """The command line's Ctrl-C policy: the first Ctrl-C raises ``KeyboardInterrupt``;
    any later one, and one after the command's outcome is decided (:meth:`hold`), is only
    recorded, so the clean-up and the one-line message cannot be torn. Run as the
    program, SIGINT stays ignored on the way out: a Ctrl-C during interpreter shutdown
    would otherwise kill the finished process by signal. Inactive outside the main
    thread and when SIGINT is already ignored (``nohup``, background jobs)."""

    def __init__(self) -> None:
        self.late = False
        self.previous = None
        from gradstep.interrupts import in_main_thread

        if in_main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self.previous = signal.signal(signal.SIGINT, self._first)

    def _first(self, signum, frame) -> None:
        signal.signal(signal.SIGINT, self._record)
        raise KeyboardInterrupt

    def _record(self, signum, frame) -> None:
        self.late = True

    def rearm(self) -> None:
        """Let the next Ctrl-C interrupt again: the first one was swallowed by a finalizer."""
        from gradstep.interrupts import in_main_thread

        if self.previous is not None and in_main_thread():
            signal.signal(signal.SIGINT, self._first)

    def hold(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self._record)

    def restore(self, program: bool) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN if program else self.previous)


# The policy of the running main() (a list: main() may be called from within a command).
_active_ctrl_c: list[CtrlC] = []


class LazyGroup(click.Group):
    def make_context(self, *args, **kwargs) -> click.Context:
        # Parsing runs inside click's own KeyboardInterrupt handler, which prints a blank line.
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

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
                if _active_ctrl_c:
                    _active_ctrl_c[-1].rearm()
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

    A Ctrl-C at any moment gives one line and exit code 130 (see :class:`CtrlC`).
    Failed writes are one line too: a file or standard output that cannot be written
    (a full disk, an I/O error) exits 2; a reader that closed the pipe early
    (``gradstep predict ... | head -1``) ends the command quietly with 141, the status
    of a process killed by SIGPIPE, as ``cat`` or ``seq`` would.
    """
    ctrl_c = CtrlC()
    _active_ctrl_c.append(ctrl_c)
    try:
        code, message = checked(invoke, argv)
        ctrl_c.hold()
    except KeyboardInterrupt:  # landed in click or here, outside a command
        ctrl_c.hold()
        code, message = 130, "gradstep: interrupted"
    finally:
        _active_ctrl_c.remove(ctrl_c)
    if ctrl_c.late and code == 0:
        code, message = 130, "gradstep: interrupted after the command had finished its work"
    try:
        if message is not None:
            written = checked(_echo, message, code != 0)
            if written != (0, None):  # standard output failed: its code, and why
                code, failure = written
                if failure is not None:
                    click.echo(failure, err=True)
    finally:
        ctrl_c.restore(program=argv is None)
    return code


EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE


def checked(function, *args) -> tuple[int, str | None]:
    """``function(*args)`` with standard output checked; a failed write becomes
    ``(exit code, line)``: 141 and nothing for a closed pipe, else 2 and the reason."""
    try:
        with checked_stdout():
            return function(*args)
    except StdoutError as exc:
        silence_stdout()
        if exc.closed_pipe:
            return EXIT_CLOSED_PIPE, None
        return 2, f"gradstep: error: cannot write to standard output: {_reason(exc.error)}"


def _echo(message: str, err: bool) -> tuple[int, None]:
    click.echo(message, err=err)
    return 0, None


def invoke(argv: list[str] | None) -> tuple[int, str | None]:
    """``(exit code, the line to print)``: standard error unless the code is 0."""
    try:
        code = cli.main(args=argv, prog_name="gradstep", standalone_mode=False)
    except Interrupted as exc:
        return 130, f"gradstep: {exc}"
    except GradstepError as exc:
        return 2, f"gradstep: error: {exc}"
    except _NO_ARGS_IS_HELP as exc:
        return 0, exc.ctx.get_help() if exc.ctx else str(exc)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        return 2, f"gradstep: error: {exc.format_message()}{hint}"
    except click.exceptions.Abort as exc:
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        return 130, "gradstep: interrupted" if interrupted else "gradstep: aborted"
    except click.exceptions.Exit as exc:
        return exc.exit_code, None
    except click.ClickException as exc:
        return exc.exit_code, f"gradstep: error: {exc.format_message()}"
    except OSError as exc:
        # The commands name the file in their own messages; this is the safety net for a
        # write they did not expect to fail (a full disk, a name too long), still one line.
        where = f"{exc.filename}: " if exc.filename else ""
        return 2, f"gradstep: error: {where}{_reason(exc)}"
    # A command's ctx.exit(code) comes back as the return value without standalone mode.
    return (code if isinstance(code, int) else 0), None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


if __name__ == "__main__":
    sys.exit(main())
