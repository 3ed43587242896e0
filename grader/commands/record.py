"""`grader record`: re-record an exercise's cassettes by running the reference solution against the real APIs.

Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY and endpoints from OPENAI_BASE_URL /
ANTHROPIC_BASE_URL (the SDKs' own variables). Requests are rewritten to the public API hosts and
scrubbed of credentials and organisation ids on write; synthetic cassettes are left alone. Every
cassette written is then checked in this (parent) process: one in which a key or anything shaped
like a credential survives is refused and its previous version restored, and so is the cassette of
a check that failed while recording. What changed against the previous cassettes is printed.

A recording is all or nothing, and refuses before touching anything when a key it needs is missing
(record_plan): when any check fails, a cassette is refused or the run dies, every file it touched is
put back as it was. `--fake` records against the local fake API instead (fake_recording), serving each
check the replies scripted beside its cassette.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader import course, rubric
from grader.errors import UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_OK
from grader.parent import grading, runner
from grader.scoring import Outcome
from grader.staff import fake_recording, record_guard, record_plan, secrets_scan

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
    parser.add_argument(
        "--fake",
        action="store_true",
        help="record against the local fake API (tests/support/fake_api.py), started on 127.0.0.1; no keys needed",
    )


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
        console.print(f"  {key} set; endpoint {escape(endpoint)}")


def _groups(checks: Sequence[record_plan.PlannedCheck], fake: bool) -> list[list[record_plan.PlannedCheck]]:
    """The child runs: every unscripted check in one; against the fake, each scripted check alone (its replies)."""
    plain = [c for c in checks if c.scripted is None]
    scripted = [[c] for c in checks if c.scripted is not None] if fake else []
    return ([plain] if plain else []) + scripted


def run(args: argparse.Namespace, console: Console) -> int:
    (exercise,) = grading.select([args.exercise])
    loaded = rubric.load(exercise)
    _check_test_names(loaded, args.tests)
    if not args.reference.is_dir():
        raise UsageError(f"--reference {args.reference}: no such directory (the reference solutions live there)")
    cassettes = args.cassettes.resolve()
    planned = record_plan.plan(loaded, cassettes, args.tests)
    to_record = [c for c in planned if c.records and (args.fake or c.scripted is None)]
    left_alone = [c for c in planned if c not in to_record and c.cassette is not None]
    if not args.fake:
        record_plan.refuse_missing_keys(to_record, dict(os.environ))
    serving: AbstractContextManager[fake_recording.FakeServer | None] = (
        fake_recording.serving() if args.fake else nullcontext()
    )
    with serving as fake:
        return _record(args, console, loaded, cassettes, to_record, left_alone, fake)


def _record(
    args: argparse.Namespace,
    console: Console,
    loaded: rubric.ExerciseRubric,
    cassettes: Path,
    to_record: list[record_plan.PlannedCheck],
    left_alone: list[record_plan.PlannedCheck],
    fake: fake_recording.FakeServer | None,
) -> int:
    exercise = loaded.exercise
    secrets = secrets_scan.secret_values(os.environ)
    where = "the local fake API" if fake is not None else "the APIs"
    console.print(f"Recording {exercise.id} through {args.reference} from {where} into {cassettes / exercise.id}")
    _print_endpoints(console)
    before = record_guard.snapshot(cassettes)
    outcomes: dict[str, Outcome] = {}
    output: list[str] = []
    problems: list[str] = []
    finished = False
    try:
        for group in _groups(to_record, fake is not None):
            if fake is not None:
                fake.script(group[0].scripted)
            names = {c.check_id for c in group}
            result = runner.run_child(
                [loaded],
                submission=args.reference.resolve(),
                cassettes=cassettes,
                time_limit=args.time_limit,
                record=True,
                skip=[c.id for c in loaded.checks if c.id not in names],
            )
            outcomes.update(result.outcomes)
            output.append(result.output)
            if fake is not None and fake.pending:
                problems.append(f"{group[0].test_name} scripted replies it never asked for ({fake.pending} left)")
            if any(o.status != "passed" for o in result.outcomes.values()) or set(result.outcomes) != names or problems:
                break  # all or nothing: the rest would be put back anyway
            for check in group:
                if check.scripted is not None and check.cassette is not None and check.cassette.is_file():
                    record_plan.mark_synthetic(check.cassette, check.scripted.note)
        finished = True
    finally:
        if not finished:  # the run itself died: nothing it wrote stays
            restored = record_guard.restore_all(cassettes, before)
            console.print(f"[bold red]Recording stopped[/]: {len(restored)} cassette file(s) put back as they were.")
    verdicts = _judge_written(exercise.id, cassettes, before, secrets, outcomes)
    wanted = {c.check_id for c in to_record}
    failed = [i for i in wanted if outcomes.get(i) is None or outcomes[i].status != "passed"]
    refused = [v for v in verdicts if not v.kept]
    for check in to_record:
        outcome = outcomes.get(check.check_id)
        status = outcome.status if outcome is not None else "not run"
        mark = "[green]recorded[/]" if status == "passed" else f"[red]{status}[/]"
        console.print(f"{mark} {check.check_id}")
        if outcome is not None and outcome.feedback and status != "passed":
            console.print(f"    {escape(secrets_scan.redact(outcome.feedback, secrets))}")
    for problem in problems:
        console.print(f"[red]{escape(problem)}[/]")
    if failed or refused or problems:
        if failed and output:
            text = secrets_scan.redact("\n".join(output), secrets)
            console.print(f"[red]{len(failed)} check(s) failed while recording[/]; output:\n{escape(text)}")
        if refused:
            _print_verdicts(refused, cassettes, console)
        restored = record_guard.restore_all(cassettes, before)
        console.print(
            f"[bold red]Nothing recorded[/]: a recording is all or nothing, so the {len(restored)} cassette "
            "file(s) it touched were restored as they were (or removed when new). Fix the cause and record again."
        )
        _print_left_alone(left_alone, cassettes, console)
        return EXIT_BELOW
    # A check that sent nothing left no cassette: its previous one comes back.
    for path in record_guard.deleted_since(cassettes, before):
        record_guard.restore(path, before)
    _print_verdicts(verdicts, cassettes, console)
    _print_left_alone(left_alone, cassettes, console)
    return EXIT_OK


def _print_left_alone(checks: list[record_plan.PlannedCheck], cassettes: Path, console: Console) -> None:
    if not checks:
        return
    console.print("[bold]Cassettes left alone[/]")
    for check in checks:
        assert check.cassette is not None
        name = escape(str(check.cassette.relative_to(cassettes)))
        if check.left_alone:
            why = "synthetic (metadata: synthetic: true)"
        else:
            why = "its replies are scripted: record it with --fake"
        console.print(f"  {name}: {why}")


def _judge_written(
    exercise_id: str,
    cassettes: Path,
    before: dict[Path, bytes],
    secrets: dict[str, str],
    outcomes: dict[str, Outcome],
) -> list[record_guard.Verdict]:
    owners = _cassette_of_checks(exercise_id, cassettes)
    verdicts = []
    for path in record_guard.written_since(cassettes, before):
        outcome = outcomes.get(owners.get(path, ""))
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
