"""Reports of a grade: the JSON report (a public contract) and the terminal table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import safe_write, terminal
from grader.scoring import CheckResult, Grade

SCHEMA = 1


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def as_json(grade: Grade) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "score": _number(grade.score),
        "max_score": _number(grade.max_score),
        "exercises": [
            {
                "id": e.id,
                "score": e.score,
                "max_score": e.max_score,
                "hidden_points_not_run": e.hidden_not_run,
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
                    }
                    for r in e.results
                ],
            }
            for e in grade.exercises
        ],
        "notes": list(grade.notes),
        "sandbox": dict(grade.sandbox),
    }


def write_json(grade: Grade, path: Path) -> None:
    safe_write.write_text(path, json.dumps(as_json(grade), indent=2) + "\n")


_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}


def sandbox_line(sandbox: Mapping[str, Any]) -> Text:
    """The header line naming the confinement the submission ran under."""
    if not sandbox:
        return Text("Sandbox: not used", style="dim")
    level = str(sandbox.get("level", "none"))
    line = Text(f"Sandbox: {level}", style={"full": "green", "partial": "yellow"}.get(level, "red"))
    line.append(f" ({', '.join(sandbox.get('layers', [])) or 'no layer'})", style="dim")
    if missing := sandbox.get("missing"):
        line.append(f"; missing: {', '.join(missing)}", style="dim")
    return line
def _common_failure(results: Sequence[CheckResult]) -> str | None:
    """The one feedback every check of an exercise failed with, when there are several checks and it is shared."""
    feedback = {r.feedback for r in results}
    if len(results) > 1 and all(r.status != "passed" for r in results) and len(feedback) == 1:
        (only,) = feedback
        return only or None
    return None


def print_table(grade: Grade, console: Console) -> None:
    console.print(sandbox_line(grade.sandbox))
    table = Table(title="Grade", show_lines=False)
    table.add_column("Exercise")
    table.add_column("Score", justify="right")
    table.add_column("Checks passed", justify="right")
    for e in grade.exercises:
        passed = sum(1 for r in e.results if r.status == "passed")
        style = "green" if e.score == e.max_score else ("red" if e.score == 0 else "yellow")
        table.add_row(e.id, Text(f"{e.score}/{e.max_score}", style=style), f"{passed}/{len(e.results)}")
    table.add_section()
    table.add_row(Text("total", style="bold"), Text(f"{grade.score}/{grade.max_score}", style="bold"), "")
    console.print(table)
    failed = [(e, r) for e in grade.exercises for r in e.results if r.status != "passed"]
    if failed:
        console.print(Text("Checks to fix", style="bold"))
    for e in grade.exercises:
        common = _common_failure(e.results)
        if common is not None:  # one cause (a module that cannot be imported): said once, without check hints
            console.print(Text(f"✗ {e.id}: every check failed for the same reason", style="red"))
            for line in common.splitlines():
                console.print(Text(f"    {line}"))
    failed = [(e, r) for e, r in failed if _common_failure(e.results) is None]
    for e, r in failed:
        label = Text(f"✗ {e.id}: {r.check.name}", style=_STATUS_STYLE.get(r.status, "red"))
        label.append(f"  [{r.status}, {r.check.points} pt]", style="dim")
        console.print(label)
        console.print(Text(f"    hint: {r.check.hint}", style="cyan"))
        for line in r.feedback.splitlines():
            console.print(terminal.plain(f"    {line}"))
    for e in grade.exercises:
        if e.hidden_not_run:
            console.print(
                Text(
                    f"Note: {e.id} has {e.hidden_not_run} more point(s) in hidden checks that are not in "
                    "this copy of the grader; they run at official grading.",
                    style="yellow",
                )
            )
    for note in grade.notes:
        console.print(terminal.plain(f"Note: {note}", style="yellow"))
    console.print(Text(f"Total: {grade.score}/{grade.max_score} ({grade.percent:.1f}%)", style="bold"))
