"""The grader's command line, `python -m grader COMMAND ...`; see grader/exitcodes.py for exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType

from rich.console import Console
from rich.text import Text

from grader.commands import batch, comment, export, grade, gradescope, live, merge, record, validate
from grader.errors import StaffError
from grader.exitcodes import EXIT_CANNOT_GRADE
from grader.parent import hardening, untrusted

COMMANDS: tuple[ModuleType, ...] = (grade, live, record, validate, export, gradescope, comment, batch, merge)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Offline autograder for the LLM API course.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP, description=command.__doc__)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(highlight=False)
    hardening.make_undumpable()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        code: int = args.run(args, console)
    except StaffError as exc:
        # The message may quote the child's output: shown as text, never read as markup or escapes.
        console.print(Text("grader: ", style="bold red").append(untrusted.visible(str(exc))))
        return EXIT_CANNOT_GRADE
    return code
