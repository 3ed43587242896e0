"""Gradescope's `results.json` for a grade.

Field by field after Gradescope's autograder specification ("Autograder Specifications", the
`results.json` output format): top level `score`, `execution_time` (seconds), `output`,
`output_format`, `tests[]`; each test `score`, `max_score`, `status` ("passed" | "failed"),
`name`, `number`, `output`, `output_format`, `tags`, `visibility`, `extra_data`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader import course
from grader.parent import safe_write
from grader.scoring import CheckResult, ExerciseResult, Grade

# Gradescope's visibility values; "visible" is its default.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
HIDDEN_CHOICES = ("hidden", "after_due_date", "after_published")
# Gradescope's output formats; "text" shows the string as it is, so student text is never rendered.
OUTPUT_FORMAT = "text"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def _position(exercise_id: str) -> int:
    """1-based position in the course, so a check's number is stable whatever was graded."""
    return next(i for i, e in enumerate(course.COURSE, start=1) if e.id == exercise_id)


def _test(exercise: ExerciseResult, index: int, result: CheckResult, hidden_visibility: str) -> dict[str, Any]:
    check = result.check
    lines = [f"Status: {result.status}"]
    if result.status != "passed":
        lines.append(f"Hint: {check.hint}")
    if result.feedback:
        lines += ["", result.feedback]
    if result.output:  # in this test's own output, so it shows when (and only when) the test does
        lines += ["", result.output]
    return {
        "name": f"{exercise.id}: {check.name}",
        "number": f"{_position(exercise.id)}.{index}",
        "score": _number(result.score),
        "max_score": _number(check.points),
        # Gradescope knows only passed and failed; error and timeout are failures with a reason in output.
        "status": "passed" if result.status == "passed" else "failed",
        "output": "\n".join(lines),
        "output_format": OUTPUT_FORMAT,
        "tags": [exercise.id],
        "visibility": "visible" if check.visibility == "visible" else hidden_visibility,
        "extra_data": {"check_id": check.id, "grader_status": result.status, "cause": result.cause},
    }


_WHEN = {
    "after_due_date": "results shown after the due date",
    "after_published": "results shown once grades are published",
    "hidden": "results not shown",
}


def _summary(grade: Grade, hidden_visibility: str) -> str:
    """The top-level output, shown to the student at once: visible checks only, so no hidden result leaks early."""

    def visible(results: tuple[CheckResult, ...]) -> tuple[int, int]:
        shown = [r for r in results if r.check.visibility == "visible"]
        return sum(r.score for r in shown), sum(r.check.points for r in shown)

    score, out_of = visible(tuple(r for e in grade.exercises for r in e.results))
    lines = [f"Visible checks: {score}/{out_of}"]
    for exercise in grade.exercises:
        score, out_of = visible(exercise.results)
        hidden = sum(r.check.points for r in exercise.results if r.check.visibility != "visible")
        extra = f" (+{hidden} pt in hidden checks: {_WHEN[hidden_visibility]})" if hidden else ""
        lines.append(f"  {exercise.id}: {score}/{out_of}{extra}")
        if exercise.hidden_not_run:
            lines.append(f"    ({exercise.hidden_not_run} point(s) of hidden checks were not in this grader)")
    lines += [f"Note: {note}" for note in grade.notes]
    return "\n".join(lines)


def results(
    grade: Grade, *, execution_time: float, hidden_visibility: str = course.HIDDEN_VISIBILITY
) -> dict[str, Any]:
    """The `results.json` document; `hidden_visibility` is what hidden checks get (see course.py)."""
    if hidden_visibility not in HIDDEN_CHOICES:
        raise ValueError(f"hidden checks' visibility must be one of {HIDDEN_CHOICES}, got {hidden_visibility!r}")
    return {
        "score": _number(grade.score),
        "execution_time": max(0, round(execution_time)),
        "output": _summary(grade, hidden_visibility),
        "output_format": OUTPUT_FORMAT,
        "tests": [
            _test(exercise, index, result, hidden_visibility)
            for exercise in grade.exercises
            for index, result in enumerate(exercise.results, start=1)
        ],
    }


def write(
    grade: Grade, path: Path, *, execution_time: float, hidden_visibility: str = course.HIDDEN_VISIBILITY
) -> None:
    document = results(grade, execution_time=execution_time, hidden_visibility=hidden_visibility)
    safe_write.write_text(path, json.dumps(document, indent=2) + "\n")


# Shown to the student at once when grading could not happen: no score, nothing to fix on their side.
NOT_GRADED = (
    "This submission could not be graded because of a problem on the course's side, not in your code. "
    "Course staff can see why; your score will appear when it is graded again."
)


def not_graded(reason: str, *, execution_time: float) -> dict[str, Any]:
    """`results.json` when grading could not complete: the reason for staff, no zero for the student.

    Gradescope hides a student's total while any test is hidden from them, so the one test, which holds
    the reason, is hidden; the top-level output says what happened in words for the student.
    """
    return {
        "score": 0,
        "execution_time": max(0, round(execution_time)),
        "output": NOT_GRADED,
        "output_format": OUTPUT_FORMAT,
        "visibility": "hidden",
        "stdout_visibility": "hidden",
        "tests": [{
            "name": "Grading could not complete (for course staff)",
            "score": 0,
            "max_score": 0,
            "status": "failed",
            "output": reason,
            "output_format": OUTPUT_FORMAT,
            "visibility": "hidden",
            "extra_data": {"grader_status": "not-graded"},
        }],
    }  # fmt: skip


def write_not_graded(path: Path, reason: str, *, execution_time: float) -> None:
    safe_write.write_text(path, json.dumps(not_graded(reason, execution_time=execution_time), indent=2) + "\n")
