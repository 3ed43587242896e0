"""`grader grade`: grade a submission, print the table, write the JSON report (and JUnit, Gradescope, GitHub)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader import course, grading, report, runner, terminal
from grader.errors import StaffError
from grader.exitcodes import EXIT_BELOW, EXIT_CANNOT_GRADE, EXIT_OK
from grader.reports import github, gradescope, junit, markdown
from grader.sandbox import official
from grader.scoring import Grade

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
    parser.add_argument("--junit", type=Path, metavar="PATH", help="also write JUnit XML (one testcase per check)")
    parser.add_argument("--gradescope", type=Path, metavar="PATH", help="also write Gradescope's results.json")
    parser.add_argument(
        "--gradescope-hidden",
        choices=gradescope.HIDDEN_CHOICES,
        default=course.HIDDEN_VISIBILITY,
        help=f"when Gradescope shows hidden checks to students (default {course.HIDDEN_VISIBILITY}, from course.py)",
    )
    parser.add_argument(
        "--official",
        action="store_true",
        help="official grading (run_autograder passes it; implied by GITHUB_ACTIONS=true): refuse a weak sandbox",
    )
    parser.add_argument(
        "--allow-weak-sandbox",
        action="store_true",
        help="grade officially even when this machine cannot confine student code fully",
    )
    parser.add_argument(
        "--github",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="job summary, step outputs and GitHub Classroom points (default: on when GITHUB_ACTIONS=true)",
    )


def _grade(args: argparse.Namespace, console: Console) -> tuple[int, Grade]:
    if args.official or official.is_ci():
        official.require_full("official" if args.official else "CI", allow_weak=args.allow_weak_sandbox)
    exercises = grading.select(args.exercises)
    started = time.monotonic()
    result = grading.grade_submission(
        exercises,
        args.submission,
        cassettes=args.cassettes,
        time_limit=args.time_limit,
        check_timeout=args.check_timeout,
    )
    elapsed = time.monotonic() - started
    report.print_table(result, console)
    report.write_json(result, args.json)
    console.print(f"Report written to {args.json}")
    if args.junit:
        junit.write(result, args.junit)
        console.print(f"JUnit XML written to {args.junit}")
    if args.gradescope:
        gradescope.write(result, args.gradescope, execution_time=elapsed, hidden_visibility=args.gradescope_hidden)
        console.print(f"Gradescope results written to {args.gradescope}")
    if result.staff_errors:
        console.print(
            f"[bold magenta]Grader problem:[/] {len(result.staff_errors)} check(s) could not be graded "
            "because of the harness, not the submission (see above); exit code 2."
        )
        return EXIT_CANNOT_GRADE, result
    if args.fail_under is not None and result.percent < args.fail_under:
        console.print(f"Score {result.percent:.1f}% is below --fail-under {args.fail_under:g}%.")
        return EXIT_BELOW, result
    return EXIT_OK, result


def run(args: argparse.Namespace, console: Console) -> int:
    if not github.active(args.github):
        return _grade(args, console)[0]
    # Under Actions: everything printed while student code runs, or that quotes it, is fenced;
    # the only workflow commands are the notices below, made from the parent's own numbers.
    code, result = EXIT_CANNOT_GRADE, None
    with github.command_fence(console.file):
        try:
            code, result = _grade(args, console)
        except StaffError as exc:
            console.print(Text("grader: ", style="bold red").append(terminal.visible(str(exc))))
    if result is None:
        github.write_step_summary("## Grade\n\nGrading could not complete: see the job log (exit code 2).\n")
        return code
    github.write_step_summary(markdown.render(report.as_json(result)))
    github.write_outputs(result.score, result.max_score)
    for line in github.classroom_notices(result.score, result.max_score):
        console.file.write(line + "\n")
    console.file.flush()
    return code
