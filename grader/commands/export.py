"""`grader export DIR`: write the student template repository into a new directory.

It holds the stubs, the public suites, the cassettes those replay, the grader engine, a student
README.md, a noxfile.py with the student sessions only (grade, live, comment), pyproject.toml,
constraints.txt, .gitignore (with .env) and the grade-on-push workflow. No hidden suite, reference
solution, known-wrong implementation or staff session. The exercise modules are graded first: any that
scores above 0 is not a stub, and the export is refused (exit 1, naming the files); there is no override.
Official grading runs the full grader over the submission's `exercises/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.exitcodes import EXIT_BELOW, EXIT_OK
from grader.staff import export

NAME = "export"
HELP = "write the student distribution (no hidden checks, no solutions) into a new directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="where to write it (new or empty)")


def run(args: argparse.Namespace, console: Console) -> int:
    console.print("Grading exercises/ first: every module must be a stub (score 0) ...")
    try:
        files = export.write(args.directory)
    except export.NotStubsError as exc:
        console.print(f"[bold red]export:[/] {exc}")
        return EXIT_BELOW
    cassettes = sum(1 for f in files if f.parts[0] == "cassettes")
    suites = sum(1 for f in files if f.name == export.PUBLIC_SUITE)
    console.print(
        f"Exported {len(files)} files to {args.directory}: {suites} public suite(s), {cassettes} cassette(s), "
        "the stubs, the grader, .gitignore and the grade-on-push workflow. "
        f"Check it with `cd {args.directory} && nox -s grade`."
    )
    return EXIT_OK
