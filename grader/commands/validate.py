"""`grader validate`: prove the suites grade right: the reference scores the maximum, the stubs score 0,
every known-wrong implementation loses points on its exercise, failing exactly the checks it names, and
every sentence of the contract is graded by named checks and broken by a named mutant, or excused
(tests/contract_clauses.toml; see grader/staff/clauses.py).

Known-wrong implementations come from a catalogue module (default tests/wrong/catalogue.py) whose
`all_mutants()` returns objects with `exercise`, `name`, `description`, `check_ids` and
`write(directory) -> submission directory`. Submissions are graded in parallel child processes.
Exit 0 when everything holds, 1 on any violation (each one named in the table).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from grader import course, rubric, scoring
from grader.errors import StaffError, UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_OK
from grader.parent import grading
from grader.staff import clauses

NAME = "validate"
HELP = "prove the suites: reference at the maximum, stubs at 0, every known-wrong implementation caught"
CATALOGUE = course.PROJECT_DIR / "tests" / "wrong" / "catalogue.py"
REFERENCE_DIR = course.PROJECT_DIR / "tests" / "reference"
STUBS_DIR = course.PROJECT_DIR / "exercises"
CLAUSES = course.PROJECT_DIR / "tests" / "contract_clauses.toml"
CONTRACT_DIR = course.PACKAGE_DIR / "contract"


class Mutant(Protocol):
    @property
    def exercise(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def check_ids(self) -> tuple[str, ...]: ...
    def write(self, directory: Path) -> Path: ...


@dataclass(frozen=True)
class Row:
    submission: str
    exercises: str
    score: str
    expected: str
    violations: tuple[str, ...]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise ids (default: all)")
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR, help="the reference solutions")
    parser.add_argument("--stubs", type=Path, default=STUBS_DIR, help="the student stubs")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE, help="module with all_mutants()")
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit of each grading (s)")
    parser.add_argument("--clauses", type=Path, default=CLAUSES, help="the contract's clause table (TOML)")
    parser.add_argument("--contract", type=Path, default=CONTRACT_DIR, help="the contract's text, one .md per exercise")
    parser.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help=argparse.SUPPRESS)


def load_mutants(catalogue: Path) -> tuple[Mutant, ...]:
    """`all_mutants()` of the catalogue file; the project root is importable so `tests.wrong.*` resolves."""
    if not catalogue.is_file():
        raise UsageError(f"--catalogue {catalogue}: no such file (the known-wrong implementations live there)")
    root = str(course.PROJECT_DIR)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(f"_grader_catalogue_{abs(hash(catalogue))}", catalogue)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses defined in the catalogue look their module up there
    try:
        spec.loader.exec_module(module)
        mutants: tuple[Mutant, ...] = tuple(module.all_mutants())
    except Exception as exc:
        raise StaffError(f"catalogue {catalogue} could not be loaded: {type(exc).__name__}: {exc}") from None
    return mutants


def _failed(grade: scoring.Grade, exercise_id: str | None = None) -> set[str]:
    return {
        r.check.id
        for e in grade.exercises
        if exercise_id is None or e.id == exercise_id
        for r in e.results
        if r.status != "passed"
    }


def _staff_problems(grade: scoring.Grade) -> list[str]:
    return [
        f"grader problem in {r.check.id}: {r.feedback.splitlines()[0] if r.feedback else ''}"
        for r in grade.staff_errors
    ]


def _judge_reference(grade: scoring.Grade) -> list[str]:
    problems = _staff_problems(grade)
    problems += [f"{check} fails on the reference" for check in sorted(_failed(grade))]
    return problems


def _judge_stubs(grade: scoring.Grade) -> list[str]:
    passing = {r.check.id for e in grade.exercises for r in e.results if r.status == "passed"}
    return _staff_problems(grade) + [f"{check} passes on the stubs" for check in sorted(passing)]


def _judge_mutant(mutant: Mutant, grade: scoring.Grade) -> list[str]:
    (exercise,) = grade.exercises
    known = {r.check.id for r in exercise.results}
    unknown = sorted(set(mutant.check_ids) - known)
    problems = _staff_problems(grade)
    if unknown:
        problems.append(f"caught_by names check(s) the suite does not have: {', '.join(unknown)}")
    failed = _failed(grade, exercise.id)
    if exercise.score >= exercise.max_score:
        problems.append("not caught: it scores the maximum")
    missing = sorted(set(mutant.check_ids) & known - failed)
    extra = sorted(failed - set(mutant.check_ids))
    if missing:
        problems.append(f"expected to fail but passed: {', '.join(missing)}")
    if extra:
        problems.append(f"also failed, not in caught_by: {', '.join(extra)}")
    return problems


def _judge_clauses(
    path: Path, contract_dir: Path, exercises: Sequence[course.Exercise], mutants: Sequence[Mutant]
) -> tuple[Row, clauses.Coverage]:
    """The clause table against the contract text, the suites' checks and the catalogue (nothing is graded)."""
    table = clauses.load(path)
    sections = [e.id for e in exercises] + [clauses.COMMON]
    known = {e.id: frozenset(c.id for c in rubric.load(e).checks) for e in course.gradable()}
    facts = [clauses.MutantFacts(m.exercise, m.name, tuple(m.check_ids)) for m in mutants]
    contract = clauses.read_contract(contract_dir, sections)
    found = clauses.problems(table, contract, sections, known, facts)
    judged = clauses.coverage([c for c in table if c.section in sections])
    score = f"{judged.graded}/{judged.behavioural}"
    return Row("contract clauses", ", ".join(sections), score, "each graded or excused", tuple(found)), judged


def run(args: argparse.Namespace, console: Console) -> int:
    exercises = grading.select(args.exercises)
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    for label, directory in (("--reference", args.reference), ("--stubs", args.stubs)):
        if not directory.is_dir():
            raise UsageError(f"{label} {directory}: no such directory")
    selected = {e.id for e in exercises}
    catalogue = load_mutants(args.catalogue)
    mutants = [m for m in catalogue if m.exercise in selected or not args.exercises]
    clause_row, clause_coverage = _judge_clauses(args.clauses, args.contract, exercises, catalogue)
    all_ids = ", ".join(e.id for e in exercises)

    def grade(submission: Path, which: Sequence[course.Exercise]) -> scoring.Grade:
        return grading.grade_submission(which, submission, cassettes=args.cassettes, time_limit=args.time_limit)

    def reference_job() -> Row:
        result = grade(args.reference, exercises)
        return Row(
            "reference", all_ids, f"{result.score}/{result.max_score}", "maximum", tuple(_judge_reference(result))
        )

    def stubs_job() -> Row:
        result = grade(args.stubs, exercises)
        return Row("stubs", all_ids, f"{result.score}/{result.max_score}", "0", tuple(_judge_stubs(result)))

    def mutant_job(mutant: Mutant) -> Callable[[], Row]:
        def job() -> Row:
            label = f"wrong: {mutant.name}"
            expected = f"loses points; fails {len(mutant.check_ids)} named check(s)"
            if mutant.exercise not in {e.id for e in course.gradable()}:
                return Row(label, mutant.exercise, "-", expected, (f"exercise {mutant.exercise!r} has no suite",))
            with tempfile.TemporaryDirectory(prefix="grader-validate-") as workdir:
                try:
                    submission = mutant.write(Path(workdir) / "submission")
                except Exception as exc:
                    return Row(label, mutant.exercise, "-", expected, (f"could not be written: {exc}",))
                result = grade(submission, grading.select([mutant.exercise]))
            score = f"{result.score}/{result.max_score}"
            return Row(label, mutant.exercise, score, expected, tuple(_judge_mutant(mutant, result)))

        return job

    def guarded(job: Callable[[], Row], label: str) -> Row:
        try:
            return job()
        except StaffError as exc:
            return Row(label, "", "-", "", (f"could not be graded: {exc}",))

    jobs: list[tuple[Callable[[], Row], str]] = [(reference_job, "reference"), (stubs_job, "stubs")]
    jobs += [(mutant_job(m), f"wrong: {m.name}") for m in mutants]
    console.print(f"Validating {all_ids}: {len(jobs)} submissions, {args.workers} at a time")
    rows: list[Row | None] = [None] * len(jobs)
    with ThreadPoolExecutor(max_workers=args.workers) as pool, _progress(console, len(jobs)) as advance:
        futures = {pool.submit(guarded, *job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            rows[futures[future]] = row = future.result()
            advance(row)
    done = [r for r in rows if r is not None]
    bad = [r for r in done if r.violations]
    if bad or clause_row.violations:
        _print_violations([clause_row, *bad] if clause_row.violations else bad, console)
    console.print(f"Contract: {clause_coverage}")
    if clause_row.violations:
        console.print(f"[bold red]The contract's clause table has {len(clause_row.violations)} problem(s).[/]")
    if bad:
        console.print(
            f"[bold red]{len(bad)} of {len(done)} submission(s) violate the expectations:[/] "
            + ", ".join(escape(r.submission) for r in bad)
        )
    if bad or clause_row.violations:
        return EXIT_BELOW
    console.print(f"[bold green]All {len(done)} submissions graded as expected.[/]")
    return EXIT_OK


@contextmanager
def _progress(console: Console, total: int) -> Iterator[Callable[[Row], None]]:
    """A live bar on a terminal; in a log (CI), one line per tenth of the submissions."""
    if console.is_terminal:
        bar = Progress(
            SpinnerColumn(), TextColumn("Validating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )  # fmt: skip
        task = bar.add_task("validate", total=total)
        with bar:
            yield lambda row: bar.advance(task)
        return
    step = max(1, total // 10)
    finished: list[Row] = []

    def advance(row: Row) -> None:
        finished.append(row)
        if len(finished) % step == 0 or len(finished) == total:
            violations = sum(1 for r in finished if r.violations)
            console.print(f"  {len(finished)}/{total} graded, {violations} violation(s) so far")

    yield advance


CHECK_ID = re.compile(r"\b([a-z][a-z0-9_]*)/(test_\w+\.py::\w+)")


def _by_exercise(violations: Sequence[str]) -> dict[str, list[str]]:
    """{exercise: its violations, with check ids shown relative to it}; "" for those that name no check.
    A full id can be wider than 80 columns; relative to its exercise it fits."""
    groups: dict[str, list[str]] = {}
    for violation in violations:
        found = CHECK_ID.search(violation)
        exercise = found.group(1) if found else ""
        text = violation.replace(f"{exercise}/test_", "test_") if exercise else violation
        groups.setdefault(exercise, []).append(text)
    return groups


def _print_violations(rows: list[Row], console: Console) -> None:
    """Only the submissions that broke an expectation: what it scored, then each violation under its exercise.
    Wrapped between words to the console's width, never inside one: a check id is always whole (and can be
    copied)."""
    width = max(40, console.width)

    def show(text: str, first: str, rest: str) -> None:
        for number, paragraph in enumerate(text.splitlines() or [""]):
            wrapped = textwrap.fill(
                paragraph,
                width=width,
                initial_indent=first if number == 0 else rest,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
            console.print(escape(wrapped), soft_wrap=True, highlight=False)

    console.print("[bold]Violations[/]")
    for row in rows:
        show(f"{row.submission} ({row.exercises}): {row.score}", "", "  ")
        for exercise, violations in _by_exercise(row.violations).items():
            if exercise:
                console.print(escape(f"  {exercise}:"), soft_wrap=True, highlight=False)
            for violation in violations:
                show(violation, "  - ", "    ")
