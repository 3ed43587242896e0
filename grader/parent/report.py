"""The JSON report of a grade (a public contract); the terminal view is grader/reports/terminal.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.parent import safe_write
from grader.scoring import Grade

SCHEMA = 1


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def as_json(grade: Grade) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        # False when the harness could not grade some checks: the score is not a grade to post.
        "complete": not grade.staff_errors,
        "score": _number(grade.score),
        "max_score": _number(grade.max_score),
        "exercises": [
            {
                "id": e.id,
                "score": e.score,
                "max_score": e.max_score,
                "hidden_points_not_run": e.hidden_not_run,
                "unwritten": list(grade.unwritten.get(e.id, ())),
                "unwritten_hidden_only": list(grade.hidden_only.get(e.id, ())),
                "tests": [
                    {
                        "id": r.check.id,
                        "name": r.check.name,
                        "score": r.score,
                        "max_score": r.check.points,
                        "status": r.status,
                        "visibility": r.check.visibility,
                        "hint": r.check.hint,
                        "feedback": r.feedback,
                        "cause": r.cause,
                        "output": r.output,
                    }
                    for r in e.results
                ],
            }
            for e in grade.exercises
        ],
        "notes": list(grade.notes),
        "sandbox": dict(grade.sandbox),
    }


def json_text(body: dict[str, Any]) -> str:
    """A report as it is written to a file: one format for `grade --json` and `batch --json-dir`."""
    return json.dumps(body, indent=2) + "\n"


def write_json(grade: Grade, path: Path) -> None:
    safe_write.write_text(path, json_text(as_json(grade)))
