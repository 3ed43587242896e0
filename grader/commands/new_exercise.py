"""`grader new-exercise NAME "Title" --points N [--spec FILE]`: scaffold a new exercise (grader/staff/scaffold.py).

Writes the stub, the reference (unless tests/reference/NAME.py exists: then the stub is made from it),
public and hidden suites with one example check each, an empty mutants file, the student contract
(grader/contract/NAME.md), the course entry and a live demo. Its points are its own: no other
exercise's points change, and the course total grows by them. Then record its cassettes
(`nox -s record -- NAME --fake`) and prove it (`nox -s validate -- NAME`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader import course
from grader.exitcodes import EXIT_OK
from grader.staff import scaffold

NAME = "new-exercise"
HELP = "scaffold a new exercise: stub, reference, suites, mutants, contract, course entry and live demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the exercise id, a Python module name (exercises/NAME.py)")
    parser.add_argument("title", help="its title, as the score table shows it")
    parser.add_argument("--points", type=int, required=True, help="what it is worth (added to the course total)")
    parser.add_argument("--spec", type=Path, help="a module with its given material and function signatures")


def run(args: argparse.Namespace, console: Console) -> int:
    project = course.PROJECT_DIR
    planned = scaffold.plan(project, args.name, args.title, args.points, args.spec)
    for path in scaffold.write(project, planned):
        console.print(f"  wrote {escape(str(path.relative_to(project)))}")
    console.print("  added its entry to grader/course.py and a live demo to grader/live/demos.py")
    total = sum(e.weight for e in course.COURSE) + args.points
    console.print(
        f"{escape(args.name)} is worth {args.points} points; the course is now out of {total}. Next: edit the "
        f"reference and the checks, then `nox -s record -- {escape(args.name)} --fake` and "
        f"`nox -s validate -- {escape(args.name)}`."
    )
    return EXIT_OK
