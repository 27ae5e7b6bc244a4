"""Write docs/cli.md, the command-line reference, from the CLI's own ``--help`` texts.

    python scripts/gen_cli_docs.py           # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check   # exit 1 if docs/cli.md is out of date

The help is rendered at a fixed width so the file does not depend on the terminal.
``tests/test_cli_train.py`` checks that the committed file is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from docs_output import write_or_check

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"
WIDTH = 100

HEADER = """\
# Command-line reference

Generated from the CLI's own help by `scripts/gen_cli_docs.py`; do not edit by
hand (run `python scripts/gen_cli_docs.py` after changing an option). The user
guide, [guide.md](guide.md), shows the commands at work. Every command exits with
0 on success and 2, after one line `gradstep: error: ...` on standard error, on
bad input or options, and on a file or standard output it cannot write (a full
disk, an I/O error, a name too long), leaving no half-written file behind. A reader
that closes the pipe early (`gradstep predict ... | head -1`) ends it quietly with
141, as SIGPIPE ends `cat`; 130 means interrupted (Ctrl-C).
"""


def help_text(command: click.Command, name: str, parent: click.Context | None) -> str:
    ctx = click.Context(
        command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
    )
    return command.get_help(ctx).rstrip()


def render() -> str:
    from gradstep.cli import cli

    settings = dict(cli.context_settings, terminal_width=WIDTH, max_content_width=WIDTH)
    root = click.Context(cli, info_name="gradstep", **settings)
    parts = [HEADER, "## gradstep\n", "```text", cli.get_help(root).rstrip(), "```\n"]
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        parts += [f"## gradstep {name}\n", "```text", help_text(command, name, root), "```\n"]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    return write_or_check(TARGET, render(), "gen_cli_docs.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
