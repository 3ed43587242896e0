"""`grader grade`: grade a submission, print the table, write the JSON report (and JUnit, Gradescope, GitHub)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader import course, rubric, scoring
from grader.errors import StaffError, UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_CANNOT_GRADE, EXIT_OK
from grader.parent import grading, official, report, runner, untrusted
from grader.reports import github, gradescope
from grader.scoring import Grade, Outcome
from grader.staff import unpack

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
    parser.add_argument("-v", "--verbose", action="store_true", help="also list the checks that passed")
    parser.add_argument(
        "--failed", action="store_true", help="re-grade only the checks that did not pass in the previous --json report"
    )
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
    parser.add_argument(
        "--watch",
        action="store_true",
        help="grade, then re-grade the exercises whose modules you save, until Ctrl-C (your own computer only)",
    )
    parser.add_argument(
        "--all", action="store_true", help="with --watch: re-grade every exercise on each save, not only the changed"
    )


def passed_before(path: Path) -> dict[str, Outcome]:
    """The checks that passed in the report at `path` (for --failed); UsageError when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tests = [t for e in data["exercises"] for t in e["tests"]]
        passed = {str(t["id"]) for t in tests if t["status"] == "passed"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else f"could not be read ({type(exc).__name__})"
        raise UsageError(
            f"--failed re-grades what failed in the previous report, but {path} {why}; "
            "grade once without --failed first"
        ) from None
    note = f"passed in {path}; not run again (--failed)"
    return {check_id: Outcome(check_id, "passed", note) for check_id in passed}


_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".gz", ".bz2", ".xz", ".rar", ".7z")


def check_submission(path: Path, exercises: tuple[course.Exercise, ...]) -> None:
    """UsageError, in one line saying what to pass instead, when `path` is not a folder holding a module to grade."""
    modules = f"{exercises[0].id}.py" + (", ..." if len(exercises) > 1 else "")
    wanted = f"pass the folder that holds your exercise modules ({modules})"
    if not path.exists():
        raise UsageError(f"--submission {path}: no such file or folder; {wanted}")
    if not path.is_dir():
        if path.name.lower().endswith(_ARCHIVES):
            raise UsageError(
                f"--submission {path} is an archive, and grade takes a folder: unpack it first and {wanted}"
            )
        raise UsageError(f"--submission {path} is a file, and grade takes a folder: {wanted}")
    if not any(path.iterdir()):
        raise UsageError(f"--submission {path} is empty; {wanted}")
    # Otherwise `_located` finds the modules in every layout batch accepts, or says they are nowhere.


def _grade(args: argparse.Namespace, console: Console) -> tuple[int, Grade]:
    if args.official or official.is_ci():
        official.require_official("official" if args.official else "CI", allow_weak=args.allow_weak_sandbox)
        if args.failed:
            # Ignored, not refused: in CI and on Gradescope the previous report is whatever the student
            # committed, so nothing is carried over; every check runs and the score sent is the true one
            # (a refusal would send no score at all).
            console.print(
                untrusted.plain(
                    "--failed is ignored in official and CI grading: every check runs, nothing is carried "
                    f"over from {args.json}."
                )
            )
            args.failed = False
    exercises = grading.select(args.exercises)
    check_submission(args.submission, exercises)
    args.submission = _located(args.submission)
    if args.failed and (args.gradescope or args.junit):
        raise UsageError("--failed is for your own edit-grade loop; --gradescope and --junit need a full run")
    before = passed_before(args.json) if args.failed else {}
    began = time.monotonic()
    result = _graded(args, console, exercises, before)
    return _report(args, console, result, time.monotonic() - began)


def _graded(
    args: argparse.Namespace, console: Console, exercises: tuple[course.Exercise, ...], before: dict[str, Outcome]
) -> Grade:
    """Grade `exercises` of `args.submission`, the checks that passed `before` carried over (--failed)."""
    chosen = {e.id for e in exercises}
    skip = sorted(k for k in before if k.split("/", 1)[0] in chosen)
    with grading.started(exercises, args.submission, cassettes=args.cassettes, time_limit=args.time_limit,
                         check_timeout=args.check_timeout, skip=skip) as pending:  # fmt: skip
        # The judge is starting (and its sandbox importing the SDKs): meanwhile the rubrics and the
        # terminal's modules load here, off the path to the first check.
        from grader.reports import terminal

        rubrics = [rubric.load(e) for e in exercises]
        every = [c.id for r in rubrics for c in r.checks]
        carried = {k: v for k, v in before.items() if k in every}
        if args.failed:
            console.print(
                f"--failed: re-grading {len(every) - len(carried)} check(s); "
                f"{len(carried)} that passed in {args.json} are not run again."
            )
        names = {c.id: c.name for r in rubrics for c in r.checks if c.id not in carried}
        with terminal.progress(console, names, check_timeout=args.check_timeout) as progress:
            return grading.finish(pending, rubrics, time_limit=args.time_limit, carried=carried, progress=progress)


_NOT_WITH_WATCH = (
    "official and CI grading run once and report once; run `nox -s grade -- --watch` on your own computer without it"
)


def _refuse_watch(args: argparse.Namespace) -> None:
    """UsageError naming what cannot go with --watch (official or machine-read output), or --all without it."""
    if not args.watch:
        if args.all:
            raise UsageError("--all re-grades every exercise on each save, so it needs --watch: `grade --watch --all`")
        return
    reasons = [
        ("--official", args.official),
        ("GITHUB_ACTIONS=true", official.is_ci()),
        ("--github", args.github),
        ("--junit", args.junit is not None),
        ("--gradescope", args.gradescope is not None),
        ("--fail-under", args.fail_under is not None),
    ]
    refused = [name for name, given in reasons if given]
    if refused:
        raise UsageError(f"--watch cannot be used with {' or '.join(refused)}: {_NOT_WITH_WATCH}")
    if args.failed:
        raise UsageError("--watch already re-grades only the exercises whose modules you save; leave out --failed")


def _watch(args: argparse.Namespace, console: Console) -> int:
    """Grade, then re-grade what each save changes (grader/parent/watch.py), each round's table the whole
    course's: the exercises not re-graded keep their last results, as their modules have not changed."""
    from grader.parent import watch  # watchfiles only when watching

    exercises = grading.select(args.exercises)
    check_submission(args.submission, exercises)
    args.submission = _located(args.submission)
    shown: list[Grade] = []

    def grade_round(ids: tuple[str, ...]) -> None:
        began = time.monotonic()
        result = _graded(args, console, tuple(e for e in exercises if e.id in ids), {})
        if shown:
            result = scoring.regraded(shown[-1], result)
        shown[:] = [result]
        _report(args, console, result, time.monotonic() - began, watching=True)

    every = tuple(e.id for e in course.gradable())
    watched = tuple(e.id for e in exercises)
    return watch.run(args.submission, watched, every, grade_round, console, every_time=args.all)


def _report(
    args: argparse.Namespace, console: Console, result: Grade, elapsed: float, *, watching: bool = False
) -> tuple[int, Grade]:
    from grader.reports import junit, terminal  # junit after grading: not on the path to the first check

    report.write_json(result, args.json)
    console.print(f"Report written to {args.json}", soft_wrap=True)  # a path is never broken with a trailing space
    if args.junit:
        junit.write(result, args.junit)
        console.print(f"JUnit XML written to {args.junit}", soft_wrap=True)
    if args.gradescope and result.staff_errors:
        reason = "\n".join(f"{r.check.id}: {r.feedback}" for r in result.staff_errors)
        gradescope.write_not_graded(args.gradescope, reason, execution_time=elapsed)
        console.print(
            f"Gradescope results written to {args.gradescope} (not graded: no score shown to the student)",
            soft_wrap=True,
        )
    elif args.gradescope:
        gradescope.write(result, args.gradescope, execution_time=elapsed, hidden_visibility=args.gradescope_hidden)
        console.print(f"Gradescope results written to {args.gradescope}", soft_wrap=True)
    # Last: the table and total where the eye lands.
    terminal.print_report(result, console, verbose=args.verbose, official=args.official or official.is_ci())
    if result.staff_errors:
        console.print(
            f"[bold magenta]Grader problem:[/] {len(result.staff_errors)} check(s) could not be graded "
            "because of the harness, not the submission (see above)" + ("." if watching else "; exit code 2.")
        )
        return EXIT_CANNOT_GRADE, result
    if args.fail_under is not None and result.percent < args.fail_under:
        console.print(f"Score {result.percent:.1f}% is below --fail-under {args.fail_under:g}%.")
        return EXIT_BELOW, result
    return EXIT_OK, result


def _located(path: Path) -> Path:
    """The folder of exercise modules in `path`, in every layout batch accepts (GitHub's zip with one top
    folder, `exercises/` beside stray stubs, a nested `exercises/exercises/`)."""
    if not path.is_dir():
        return path  # grading.started names what is wrong with it
    try:
        return unpack.locate(path, str(path))
    except unpack.UnpackError as exc:
        raise UsageError(f"--submission {exc}; pass the folder that holds your exercise modules") from None


def _grade_or_say_why(args: argparse.Namespace, console: Console) -> tuple[int, Grade]:
    """`_grade`; where grading cannot happen, Gradescope still gets a results.json that says so to staff."""
    began = time.monotonic()
    try:
        return _grade(args, console)
    except StaffError as exc:
        if args.gradescope:
            gradescope.write_not_graded(args.gradescope, str(exc), execution_time=time.monotonic() - began)
            console.print(f"Gradescope results written to {args.gradescope} (not graded: no score for the student)")
        raise


def run(args: argparse.Namespace, console: Console) -> int:
    _refuse_watch(args)
    runner.judges_told()  # a bad GRADER_JUDGES is named before anything is graded
    if args.watch:
        return _watch(args, console)
    if not github.active(args.github):
        return _grade_or_say_why(args, console)[0]
    # Under Actions: everything printed while student code runs, or that quotes it, is fenced; the
    # outputs below are made from the parent's own numbers.
    code, result = EXIT_CANNOT_GRADE, None
    with github.command_fence(console.file):
        try:
            code, result = _grade_or_say_why(args, console)
        except StaffError as exc:
            console.print(Text("grader: ", style="bold red").append(untrusted.visible(str(exc))))
    if result is None or result.staff_errors:
        # Points from a grade the harness could not finish would be wrong in some unknown way: none are
        # posted anywhere (no outputs, no Classroom result), only one line that says so.
        github.write_step_summary(f"## Grade\n\n{github.INCOMPLETE}\n")
        console.file.write(github.incomplete_line() + "\n")
        console.file.flush()
        return EXIT_CANNOT_GRADE
    from grader.reports import markdown  # after grading: not on the path to the first check

    data = report.as_json(result)
    github.write_step_summary(markdown.render(data))
    github.write_outputs(result.score, result.max_score)
    github.write_classroom_result(data)
    return code
