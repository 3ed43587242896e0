"""A grade report read back by a staff command, checked against schema 1 and capped before anything uses it.

`grader comment` posts a `grade-report.json` that the job which ran student code wrote: whatever is in
it may be forged. It is read up to MAX_BYTES, decoded strictly (msgspec: types, finite numbers, the
statuses and visibilities the grader writes), and every text in it is cut to a size that a comment can
hold, with control characters shown and lone surrogates replaced (`grader.gate.text`). What fails is
a ReportError naming the file and the first field that is wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from grader import gate

MAX_BYTES = 16 * 1024 * 1024  # an honest report of the whole course is well under 1 MiB
MAX_ID = 200
MAX_NAME = 300
MAX_HINT = 1_000
MAX_FEEDBACK = 4_000
MAX_NOTE = 1_000
MAX_NOTES = 20
MAX_EXERCISES = 100
MAX_TESTS = 500  # per exercise

Number = Annotated[int, msgspec.Meta(ge=0, le=10**9)] | Annotated[float, msgspec.Meta(ge=0, le=1e9)]


class Check(msgspec.Struct):
    id: str
    name: str
    score: Number
    max_score: Number
    status: Literal["passed", "failed", "error", "timeout"]
    visibility: Literal["visible", "hidden"] = "visible"
    hint: str = ""
    feedback: str = ""
    cause: str = ""
    output: str = ""


class Exercise(msgspec.Struct):
    id: str
    score: Number
    max_score: Number
    tests: Annotated[list[Check], msgspec.Meta(max_length=MAX_TESTS)]
    hidden_points_not_run: Number = 0
    unwritten: Annotated[list[str], msgspec.Meta(max_length=MAX_TESTS)] = []
    unwritten_hidden_only: Annotated[list[str], msgspec.Meta(max_length=MAX_TESTS)] = []


class Report(msgspec.Struct):
    schema: Literal[1]
    score: Number
    max_score: Number
    exercises: Annotated[list[Exercise], msgspec.Meta(max_length=MAX_EXERCISES)]
    notes: list[str] = []
    # False when the grade did not complete: a comment then says so and posts no points.
    complete: bool = True


class ReportError(Exception):
    """The report cannot be used: the message names the file and what is wrong with it."""


def load(path: Path) -> dict[str, Any]:
    """The report at `path` as plain data, checked and capped; a ReportError says why it is refused."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file; run `python -m grader grade --json {path}` first") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ReportError(f"{path}: over {MAX_BYTES // (1024 * 1024)} MiB, far more than any grade report holds")
    try:
        report = msgspec.json.decode(data, type=Report, strict=True)
    except RecursionError:
        raise ReportError(f"{path}: not a grade report (nested too deep)") from None
    except msgspec.ValidationError as exc:
        raise ReportError(f"{path}: not a valid grade report (schema 1): {gate.text(str(exc), 300)}") from None
    except msgspec.DecodeError as exc:
        raise ReportError(f"{path}: not JSON ({gate.text(str(exc), 300)})") from None
    if not all(math.isfinite(n) for n in (report.score, report.max_score)):
        raise ReportError(f"{path}: not a valid grade report (a score is not a number)")
    return _capped(report)


def _capped(report: Report) -> dict[str, Any]:
    return {
        "schema": 1,
        "complete": report.complete,
        "score": report.score,
        "max_score": report.max_score,
        "notes": [gate.text(n, MAX_NOTE) for n in report.notes[:MAX_NOTES]],
        "exercises": [
            {
                "id": gate.text(e.id, MAX_ID),
                "score": e.score,
                "max_score": e.max_score,
                "hidden_points_not_run": e.hidden_points_not_run,
                "unwritten": [gate.text(u, MAX_NAME) for u in e.unwritten],
                "unwritten_hidden_only": [gate.text(u, MAX_NAME) for u in e.unwritten_hidden_only],
                "tests": [
                    {
                        "id": gate.text(t.id, MAX_ID),
                        "name": gate.text(t.name, MAX_NAME),
                        "score": t.score,
                        "max_score": t.max_score,
                        "status": t.status,
                        "visibility": t.visibility,
                        "hint": gate.text(t.hint, MAX_HINT),
                        "feedback": gate.text(t.feedback, MAX_FEEDBACK),
                        "cause": gate.text(t.cause, MAX_NAME),
                        # Hidden checks' output never reaches a comment (it follows their visibility).
                        "output": gate.text(t.output, MAX_FEEDBACK) if t.visibility == "visible" else "",
                    }
                    for t in e.tests
                ],
            }
            for e in report.exercises
        ],
    }
