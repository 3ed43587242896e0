"""Scores from outcomes and the rubric: pure functions, no pytest, no student code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.rubric import Check, ExerciseRubric

STATUSES = ("passed", "failed", "error", "timeout")


@dataclass(frozen=True)
class Outcome:
    """What the child reported for one check."""

    check_id: str
    status: str
    feedback: str = ""
    staff_error: bool = False
    duration: float = 0.0  # seconds the check took in the child, setup and teardown included
    cause: str = ""  # one line, the root cause, alike for every submission that made the same mistake
    output: str = ""  # what the submission printed and logged during the check (capped; untrusted text)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str
    score: int
    feedback: str
    staff_error: bool = False
    duration: float = 0.0
    cause: str = ""
    output: str = ""


@dataclass(frozen=True)
class ExerciseResult:
    rubric: ExerciseRubric
    results: tuple[CheckResult, ...]

    @property
    def id(self) -> str:
        return self.rubric.exercise.id

    @property
    def score(self) -> int:
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> int:
        return self.rubric.exercise.weight

    @property
    def hidden_not_run(self) -> int:
        return self.rubric.absent_hidden_points


@dataclass(frozen=True)
class Grade:
    exercises: tuple[ExerciseResult, ...]
    notes: tuple[str, ...] = field(default=())
    sandbox: Mapping[str, Any] = field(default_factory=dict)  # confinement.status(): level, layers, missing
    unwritten: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # exercise id: functions still stubs
    hidden_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # of those, called by no suite present

    @property
    def score(self) -> int:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> int:
        return sum(e.max_score for e in self.exercises)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    @property
    def staff_errors(self) -> tuple[CheckResult, ...]:
        return tuple(r for e in self.exercises for r in e.results if r.staff_error)


def score_check(check: Check, outcome: Outcome | None, *, missing_status: str = "failed") -> CheckResult:
    """A check earns its points only on a reported pass; no outcome counts as a failure."""
    if outcome is None:
        return CheckResult(
            check,
            missing_status,
            0,
            "No result was reported for this check: grading stopped before it finished"
            + (" (time limit reached)." if missing_status == "timeout" else "."),
            cause="grading stopped before this check finished",
        )
    status = outcome.status if outcome.status in STATUSES else "error"
    score = check.points if status == "passed" else 0
    if status == "passed":
        return CheckResult(check, status, score, outcome.feedback, outcome.staff_error, outcome.duration)
    return CheckResult(
        check, status, score, outcome.feedback, outcome.staff_error, outcome.duration, outcome.cause, outcome.output
    )


def grade(
    rubrics: Iterable[ExerciseRubric],
    outcomes: Mapping[str, Outcome],
    *,
    missing_status: str = "failed",
    notes: Iterable[str] = (),
) -> Grade:
    exercises = tuple(
        ExerciseResult(
            rubric,
            tuple(score_check(c, outcomes.get(c.id), missing_status=missing_status) for c in rubric.checks),
        )
        for rubric in rubrics
    )
    return Grade(exercises, tuple(notes))


def regraded(earlier: Grade, later: Grade) -> Grade:
    """`earlier` with the exercises that `later` graded again replaced by their new results (a `grade --watch`
    round re-grades only what changed); the notes and the sandbox are the later run's."""
    fresh = {e.id: e for e in later.exercises}
    kept = {e.id for e in earlier.exercises} - fresh.keys()

    def merged(field: Mapping[str, tuple[str, ...]], new: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {**{k: v for k, v in field.items() if k in kept}, **new}

    return Grade(
        tuple(fresh.pop(e.id, e) for e in earlier.exercises) + tuple(fresh.values()),
        later.notes,
        later.sandbox,
        merged(earlier.unwritten, later.unwritten),
        merged(earlier.hidden_only, later.hidden_only),
    )
