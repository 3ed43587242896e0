"""GitHub Actions output: job summary, step outputs, GitHub Classroom's points, a command fence.

Under Actions, any stdout line that looks like `::command::` is obeyed by the runner. The grading
child's output never reaches stdout (it goes to a log file), but a student process could still
write to the parent's stdout (for example through /proc), and feedback quotes student text. So
everything printed while grading runs sits inside `::stop-commands::<token>` ... `::<token>::`,
with a random token the child never sees; only the lines written after the fence closes, made
from the parent's own numbers, are workflow commands.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# GitHub Classroom's current autograding (classroom-resources/autograding-grading-reporter, read at its
# src/main.js and src/notify-classroom.js): each test-runner step sets an output `result`, the base64 of a
# JSON object {version, status, max_score, tests: [{name, status, score, message, ...}]}; the reporter step
# reads it from the variable `<RUNNER ID>_RESULTS`, adds up `max_score` and every test's `score`, and writes
# "Points X/Y" on the check run named "Autograding Tests" (the grading job's name).
CLASSROOM_RUNNER = "grader"  # the grading step's id, which the reporter step names in `runners`
INCOMPLETE = (
    "Grading did not complete (a problem with the grader, not with the submission): no points are posted. "
    "Course staff: see this job's log."
)


def active(flag: bool | None, environ: Mapping[str, str] = os.environ) -> bool:
    """`--github`/`--no-github` when given, else whether this runs under GitHub Actions."""
    return flag if flag is not None else environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    """@actions/core's escaping of a command's message (escapeData in its command.ts)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 4))


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def classroom_result(report: Mapping[str, Any]) -> dict[str, Any]:
    """The test-runner result Classroom's reporter reads: one test per exercise, scored from the report."""
    tests = []
    for exercise in report["exercises"]:
        failed = [t["name"] for t in exercise["tests"] if t["status"] != "passed"]
        tests.append({
            "name": exercise["id"],
            "status": "fail" if failed else "pass",
            "score": _number(exercise["score"]),
            "max_score": _number(exercise["max_score"]),
            # Check names only: feedback quotes submission text, and this reaches the reporter's log.
            "message": f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "",
            "line_no": 0,
        })  # fmt: skip
    return {
        "version": 1,
        "status": "fail" if any(t["status"] == "fail" for t in tests) else "pass",
        "max_score": _number(report["max_score"]),
        "tests": tests,
    }


def write_classroom_result(report: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Path | None:
    """`result` (base64 JSON, as the Classroom test-runner actions write it) in $GITHUB_OUTPUT."""
    encoded = base64.b64encode(json.dumps(classroom_result(report), separators=(",", ":")).encode()).decode()
    return _append("GITHUB_OUTPUT", f"result={encoded}\n", environ)


def incomplete_line() -> str:
    """The one line a grade that did not complete posts instead of points (a workflow error annotation)."""
    return f"::error title=Grading did not complete::{_escape_data(INCOMPLETE)}"


@contextmanager
def command_fence(stream: IO[str] | None = None) -> Iterator[str]:
    """Stop the runner obeying workflow commands until the block ends; yields the token."""
    out = stream if stream is not None else sys.stdout
    token = secrets.token_hex(16)
    out.write(f"::stop-commands::{token}\n")
    out.flush()  # on the pipe before the child starts, so nothing it writes can come first
    try:
        yield token
    finally:
        out.flush()
        out.write(f"::{token}::\n")
        out.flush()


def _append(variable: str, text: str, environ: Mapping[str, str]) -> Path | None:
    target = environ.get(variable)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
    return path


def write_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Append to $GITHUB_STEP_SUMMARY (None when it is not set)."""
    return _append("GITHUB_STEP_SUMMARY", markdown if markdown.endswith("\n") else markdown + "\n", environ)


def write_outputs(score: float, max_score: float, environ: Mapping[str, str] = os.environ) -> Path | None:
    """`score` and `max_score` as step outputs in $GITHUB_OUTPUT (None when it is not set)."""
    return _append("GITHUB_OUTPUT", f"score={_points(score)}\nmax_score={_points(max_score)}\n", environ)
