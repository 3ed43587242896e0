"""`grader export DIR`: write the student distribution into a new directory.

It holds the stubs, the public suites, the cassettes those replay, the grader engine, a student
README.md, a noxfile.py with the student sessions only (grade, live), pyproject.toml and
constraints.txt. No hidden suite, reference solution, known-wrong implementation or staff session.
Official grading runs the full grader over the submission's `exercises/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import export
from grader.exitcodes import EXIT_OK

NAME = "export"
HELP = "write the student distribution (no hidden checks, no solutions) into a new directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="where to write it (new or empty)")


def run(args: argparse.Namespace, console: Console) -> int:
    files = export.write(args.directory)
    cassettes = sum(1 for f in files if f.parts[0] == "cassettes")
    suites = sum(1 for f in files if f.name == export.PUBLIC_SUITE)
    console.print(
        f"Exported {len(files)} files to {args.directory}: {suites} public suite(s), {cassettes} cassette(s), "
        f"the stubs and the grader. Check it with `cd {args.directory} && nox -s grade`."
    )
    return EXIT_OK
