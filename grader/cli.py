"""The grader's command line, `python -m grader COMMAND ...`; see grader/exitcodes.py for exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from types import ModuleType

from rich.console import Console
from rich.text import Text

from grader.errors import StaffError
from grader.exitcodes import EXIT_CANNOT_GRADE, EXIT_STOPPED
from grader.parent import ctrl_c, hardening, untrusted

# In the order `--help` lists them. Only the command that runs is imported: grading starts sooner.
COMMAND_NAMES = (
    "grade", "live", "record", "validate", "export", "gradescope", "comment", "batch", "merge", "new-exercise",
    "grades-export",
)  # fmt: skip


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"grader.commands.{name.replace('-', '_')}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (with `only`) just that command's part of it."""
    parser = argparse.ArgumentParser(prog="grader", description="Offline autograder for the LLM API course.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in [_command(only)] if only else [_command(n) for n in COMMAND_NAMES]:
        sub = subparsers.add_parser(command.NAME, help=command.HELP, description=command.__doc__)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(highlight=False)
    hardening.make_undumpable()
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        only = words[0] if words and words[0] in COMMAND_NAMES else None
        args = build_parser(only).parse_args(words)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    # grade and batch stop their judges at once on Ctrl-C, so a second one is ignored until they have cleaned up.
    with ctrl_c.first_only() if args.command in ("grade", "batch") else nullcontext():
        try:
            code: int = args.run(args, console)
        except StaffError as exc:
            # The message may quote the child's output: shown as text, never read as markup or escapes.
            # soft_wrap: a one-line message stays one line (the terminal wraps it), with no padding.
            console.print(Text("grader: ", style="bold red").append(untrusted.visible(str(exc))), soft_wrap=True)
            return EXIT_CANNOT_GRADE
        except KeyboardInterrupt as exc:
            # Every judge and sandbox was stopped on the way out (their `finally` blocks); a traceback of wherever
            # the parent was would only read as a harness crash. A command may say what it left as it was.
            stopped = " ".join(filter(None, [f"{args.command} stopped by Ctrl-C before it finished.", str(exc)]))
            console.print(Text("grader: ", style="bold red").append(stopped))
            return EXIT_STOPPED
    return code
