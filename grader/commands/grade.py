"""`grader grade`: grade a submission, print the table, write the JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import course, grading, report, runner
from grader.exitcodes import EXIT_BELOW, EXIT_CANNOT_GRADE, EXIT_OK

NAME = "grade"
HELP = "grade a submission and print the score table"


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--fail-under takes a percentage from 0 to 100, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise ids (default: all)")
    parser.add_argument("--submission", type=Path, default=Path("exercises"), help="directory graded as `exercises`")
    parser.add_argument("--json", type=Path, default=Path("grade-report.json"), help="where to write the report")
    parser.add_argument("--fail-under", type=_percent, metavar="PERCENT", help="exit 1 when the score is lower")
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit of the whole run (s)")
    parser.add_argument(
        "--check-timeout", type=float, default=runner.DEFAULT_CHECK_TIMEOUT, help="time limit of each check (s)"
    )
    parser.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help=argparse.SUPPRESS)


def run(args: argparse.Namespace, console: Console) -> int:
    exercises = grading.select(args.exercises)
    result = grading.grade_submission(exercises, args.submission, cassettes=args.cassettes, time_limit=args.time_limit)
    report.print_table(result, console)
    report.write_json(result, args.json)
    console.print(f"Report written to {args.json}")
    if result.staff_errors:
        console.print(
            f"[bold magenta]Grader problem:[/] {len(result.staff_errors)} check(s) could not be graded "
            "because of the harness, not the submission (see above); exit code 2."
        )
        return EXIT_CANNOT_GRADE
    if args.fail_under is not None and result.percent < args.fail_under:
        console.print(f"Score {result.percent:.1f}% is below --fail-under {args.fail_under:g}%.")
        return EXIT_BELOW
    return EXIT_OK
