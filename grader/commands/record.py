"""`grader record`: re-record an exercise's cassettes by running the reference solution against the real APIs.

Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY and endpoints from OPENAI_BASE_URL /
ANTHROPIC_BASE_URL (the SDKs' own variables). Requests are rewritten to the public API hosts and
scrubbed of credentials and organisation ids on write; synthetic cassettes are left alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import course, grading, rubric, runner
from grader.exitcodes import EXIT_BELOW, EXIT_OK

NAME = "record"
HELP = "record an exercise's cassettes from the real APIs through the reference solution"
REFERENCE_DIR = course.PROJECT_DIR / "tests" / "reference"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", help="the exercise whose cassettes to record")
    parser.add_argument("tests", nargs="*", metavar="TEST", help="only these checks (test function names)")
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR, help="the reference solution directory")
    parser.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help="where cassettes are written")
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit of the whole run (s)")


def run(args: argparse.Namespace, console: Console) -> int:
    (exercise,) = grading.select([args.exercise])
    loaded = rubric.load(exercise)
    result = runner.run_child(
        [loaded],
        submission=args.reference.resolve(),
        cassettes=args.cassettes.resolve(),
        time_limit=args.time_limit,
        record=True,
        only=args.tests,
    )
    failed = [o for o in result.outcomes.values() if o.status != "passed"]
    for outcome in result.outcomes.values():
        mark = "[green]recorded[/]" if outcome.status == "passed" else f"[red]{outcome.status}[/]"
        console.print(f"{mark} {outcome.check_id}")
        if outcome.feedback and outcome.status != "passed":
            console.print(f"    {outcome.feedback}")
    if failed or not result.outcomes:
        console.print(f"[red]{len(failed)} check(s) failed while recording[/]; output:\n{result.output}")
        return EXIT_BELOW
    return EXIT_OK
