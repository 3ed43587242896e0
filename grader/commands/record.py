"""`grader record`: re-record an exercise's cassettes by running the reference solution against the real APIs.

Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY and endpoints from OPENAI_BASE_URL /
ANTHROPIC_BASE_URL (the SDKs' own variables). Requests are rewritten to the public API hosts and
scrubbed of credentials and organisation ids on write; synthetic cassettes are left alone. Every
cassette written is then checked in this (parent) process: one in which a key or anything shaped
like a credential survives is refused and its previous version restored, and so is the cassette of
a check that failed while recording. What changed against the previous cassettes is printed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader import course, rubric
from grader.errors import UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_OK
from grader.parent import grading, runner
from grader.staff import record_guard, secrets_scan

NAME = "record"
HELP = "record an exercise's cassettes from the real APIs through the reference solution"
REFERENCE_DIR = course.PROJECT_DIR / "tests" / "reference"
KEY_VARIABLES = {"OPENAI_API_KEY": "OPENAI_BASE_URL", "ANTHROPIC_API_KEY": "ANTHROPIC_BASE_URL"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", help="the exercise whose cassettes to record")
    parser.add_argument("tests", nargs="*", metavar="TEST", help="only these checks (test function names)")
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR, help="the reference solution directory")
    parser.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help="where cassettes are written")
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit of the whole run (s)")


def _cassette_of_checks(exercise_id: str, cassettes: Path) -> dict[Path, str]:
    """{cassette path: id of the check that records it} for every check of the exercise."""
    owners: dict[Path, str] = {}
    for suite in rubric.suite_files(exercise_id):
        for check in rubric.checks_of_file(suite, exercise_id):
            if check.cassette is not None:
                owners.setdefault(cassettes / exercise_id / f"{check.cassette}.yaml", check.id)
    return owners


def _check_test_names(loaded: rubric.ExerciseRubric, names: list[str]) -> None:
    known = {c.id.split("::", 1)[1] for c in loaded.checks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"{loaded.exercise.id} has no check named {', '.join(map(repr, unknown))}; "
            f"its checks are: {', '.join(sorted(known))}"
        )


def _print_endpoints(console: Console) -> None:
    for key, base in KEY_VARIABLES.items():
        endpoint = os.environ.get(base) or "the public API"
        state = "set" if os.environ.get(key, "").strip() else "[yellow]not set: checks that need it will fail[/]"
        console.print(f"  {key} {state}; endpoint {escape(endpoint)}")


def run(args: argparse.Namespace, console: Console) -> int:
    (exercise,) = grading.select([args.exercise])
    loaded = rubric.load(exercise)
    _check_test_names(loaded, args.tests)
    if not args.reference.is_dir():
        raise UsageError(f"--reference {args.reference}: no such directory (the reference solutions live there)")
    cassettes = args.cassettes.resolve()
    secrets = secrets_scan.secret_values(os.environ)
    console.print(f"Recording {exercise.id} through {args.reference} into {cassettes / exercise.id}")
    _print_endpoints(console)
    before = record_guard.snapshot(cassettes)
    result: runner.ChildRun | None = None
    try:
        result = runner.run_child(
            [loaded],
            submission=args.reference.resolve(),
            cassettes=cassettes,
            time_limit=args.time_limit,
            record=True,
            only=args.tests,
        )
    finally:
        # Judged even when the child crashed: nothing it wrote stays unchecked on disk.
        verdicts = _judge_written(exercise.id, cassettes, before, secrets, result)
        if result is None:
            _print_verdicts(verdicts, cassettes, console)
    assert result is not None
    for outcome in result.outcomes.values():
        mark = "[green]recorded[/]" if outcome.status == "passed" else f"[red]{outcome.status}[/]"
        console.print(f"{mark} {outcome.check_id}")
        if outcome.feedback and outcome.status != "passed":
            console.print(f"    {escape(secrets_scan.redact(outcome.feedback, secrets))}")
    _print_verdicts(verdicts, cassettes, console)
    failed = [o for o in result.outcomes.values() if o.status != "passed"]
    refused = [v for v in verdicts if not v.kept]
    if failed or not result.outcomes:
        output = secrets_scan.redact(result.output, secrets)
        console.print(f"[red]{len(failed)} check(s) failed while recording[/]; output:\n{escape(output)}")
    if refused:
        console.print(
            f"[bold red]{len(refused)} cassette(s) refused[/]: their previous versions are back in place "
            "(or they were removed when new). Fix the cause and record again."
        )
    return EXIT_BELOW if failed or refused or not result.outcomes else EXIT_OK


def _judge_written(
    exercise_id: str,
    cassettes: Path,
    before: dict[Path, bytes],
    secrets: dict[str, str],
    result: runner.ChildRun | None,
) -> list[record_guard.Verdict]:
    owners = _cassette_of_checks(exercise_id, cassettes)
    verdicts = []
    for path in record_guard.written_since(cassettes, before):
        outcome = result.outcomes.get(owners.get(path, "")) if result is not None else None
        verdicts.append(
            record_guard.judge(
                path,
                before,
                secrets,
                check_failed=outcome is None or outcome.status != "passed",
                name=str(path.relative_to(cassettes)),
            )
        )
    return verdicts


def _print_verdicts(verdicts: list[record_guard.Verdict], cassettes: Path, console: Console) -> None:
    if not verdicts:
        console.print("No cassette changed on disk.")
        return
    console.print("[bold]Cassettes written[/]")
    for verdict in verdicts:
        name = escape(str(verdict.path.relative_to(cassettes)))
        if not verdict.kept:
            console.print(f"  [bold red]REFUSED[/] {name}:")
            for reason in verdict.reasons:
                console.print(f"    - {escape(reason)}")
            continue
        assert verdict.changes is not None
        console.print(f"  {name}: {escape(verdict.changes.summary())}")
        for line in verdict.changes.details():
            console.print(f"    {escape(line)}")
