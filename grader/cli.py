"""The grader's command line: `python -m grader grade ...` (exit 0 graded, 1 below --fail-under, 2 cannot grade)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from grader import course, report, rubric, runner, scoring
from grader.errors import StaffError, UsageError

EXIT_OK, EXIT_BELOW, EXIT_CANNOT_GRADE = 0, 1, 2


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fail-under takes a percentage from 0 to 100, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--fail-under takes a percentage from 0 to 100, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a submission and print the score table")
    grade.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise ids (default: all)")
    grade.add_argument("--submission", type=Path, default=Path("exercises"), help="directory graded as `exercises`")
    grade.add_argument("--json", type=Path, default=Path("grade-report.json"), help="where to write the report")
    grade.add_argument("--fail-under", type=_percent, metavar="PERCENT", help="exit 1 when the score is lower")
    grade.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit of the whole run (s)")
    grade.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help=argparse.SUPPRESS)
    return parser


def _select(names: Sequence[str]) -> tuple[course.Exercise, ...]:
    available = course.gradable()
    if not names:
        return available
    valid = {e.id for e in available}
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(f"unknown exercise {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(valid))}")
    return tuple(e for e in available if e.id in names)


def grade_command(args: argparse.Namespace, console: Console) -> int:
    exercises = _select(args.exercises)
    submission = args.submission.resolve()
    if not submission.is_dir():
        raise UsageError(f"--submission {args.submission}: no such directory")
    rubrics = [rubric.load(e) for e in exercises]
    run = runner.run_child(rubrics, submission=submission, cassettes=args.cassettes, time_limit=args.time_limit)
    notes = []
    if run.returncode is None:
        notes.append(f"grading hit its time limit of {args.time_limit:.0f} s; unfinished checks score 0")
    if run.rejected_records:
        notes.append(f"{run.rejected_records} forged or corrupt result line(s) were ignored")
    result = scoring.grade(
        rubrics, run.outcomes, missing_status="timeout" if run.returncode is None else "failed", notes=notes
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(highlight=False)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        return grade_command(args, console)
    except StaffError as exc:
        console.print(f"[bold red]grader:[/] {exc}")
        return EXIT_CANNOT_GRADE
