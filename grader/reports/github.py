"""GitHub Actions output: job summary, step outputs, GitHub Classroom's points, a command fence.

Under Actions, any stdout line that looks like `::command::` is obeyed by the runner. The grading
child's output never reaches stdout (it goes to a log file), but a student process could still
write to the parent's stdout (for example through /proc), and feedback quotes student text. So
everything printed while grading runs sits inside `::stop-commands::<token>` ... `::<token>::`,
with a random token the child never sees; only the lines written after the fence closes, made
from the parent's own numbers, are workflow commands.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# The exact titles GitHub Classroom's autograding reporter uses (classroom-resources/
# autograding-grading-reporter, src/notify-classroom.js): core.notice(`Points ${total}/${max}`,
# {title: "Autograding complete"}) and core.notice(JSON.stringify({totalPoints, maxPoints}),
# {title: "Autograding report"}).
COMPLETE_TITLE = "Autograding complete"
REPORT_TITLE = "Autograding report"


def active(flag: bool | None, environ: Mapping[str, str] = os.environ) -> bool:
    """`--github`/`--no-github` when given, else whether this runs under GitHub Actions."""
    return flag if flag is not None else environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    """@actions/core's escaping of a command's message (escapeData in its command.ts)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 4))


def classroom_notices(score: float, max_score: float) -> list[str]:
    """The two notice lines the Classroom reporter prints; none when there is nothing to score."""
    if not max_score:
        return []
    # JSON.stringify writes 7.0 as 7; so must we.
    total, maximum = (int(v) if float(v).is_integer() else v for v in (score, max_score))
    summary = json.dumps({"totalPoints": total, "maxPoints": maximum}, separators=(",", ":"))
    return [
        f"::notice title={COMPLETE_TITLE}::{_escape_data(f'Points {_points(score)}/{_points(max_score)}')}",
        f"::notice title={REPORT_TITLE}::{_escape_data(summary)}",
    ]


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
