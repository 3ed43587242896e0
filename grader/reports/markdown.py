"""A Markdown score report, for the GitHub job summary and the pull-request comment.

It is rendered from the JSON report (schema 1), so the comment command can post a report
written by an earlier step. Check names and hints come from the suites (staff text); feedback
may quote what student code did, so it only ever appears inside a code block, where Markdown
and HTML are not rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grader.reports import grouping

MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "timeout": "⏱️"}


def _fence(text: str) -> str:
    """A fenced code block that `text` cannot close, however many backticks it contains."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _code(text: str) -> str:
    """Untrusted text inline, as code: a run of backticks longer than any inside it, so it cannot close early."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _cell(text: object) -> str:
    """Text inside a table cell or a heading: no pipes or line breaks that would break the row, no HTML tags."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def render(report: Mapping[str, Any], *, title: str = "Grade", feedback: bool = True) -> str:
    exercises = report.get("exercises", [])
    score, max_score = report["score"], report["max_score"]
    percent = 100.0 * score / max_score if max_score else 0.0
    lines = [
        f"## {title}: {score}/{max_score} ({percent:.1f}%)",
        "",
        "| Exercise | Score | Checks passed |",
        "|---|---:|---:|",
    ]
    for e in exercises:
        passed = sum(1 for t in e["tests"] if t["status"] == "passed")
        lines.append(f"| {_cell(e['id'])} | {e['score']}/{e['max_score']} | {passed}/{len(e['tests'])} |")
    lines.append(f"| **Total** | **{score}/{max_score}** | |")
    # The terminal's entries: one per cause, the cause first (grader/reports/grouping.py).
    entries = [entry for e in exercises for entry in grouping.entries(grouping.from_report(e))]
    if entries:
        lines += ["", "### Checks to fix", ""]
    for entry in entries:
        icon = _ICON.get(entry.status, "❌")
        # The title may quote the submission (an import error's file and message): in code, where nothing renders.
        lines.append(f"{icon} **{_cell(entry.exercise)}**: {_code(entry.title)} ({_cell(entry.tag)})  ")
        if entry.checks:
            lines.append(f"Checks: {_cell('; '.join(entry.checks))}  ")
        if entry.hint:
            lines.append(f"Hint: {_cell(entry.hint)}")
        if feedback and entry.feedback:
            lines += ["", _fence(entry.feedback)]
        if feedback and entry.output:
            lines += ["", "What your code printed:", "", _fence(entry.output)]
        lines.append("")
    notes = [
        f"{e['id']} has {e['hidden_points_not_run']} more point(s) in hidden checks that run at official grading."
        for e in exercises
        if e.get("hidden_points_not_run")
    ] + [str(n) for n in report.get("notes", [])]
    if notes:
        lines += ["", "**Notes**", ""] + [_fence(n) for n in notes]
    text = "\n".join(lines).rstrip() + "\n"
    if feedback and len(text) > MAX_CHARS:
        text = render(report, title=title, feedback=False)
        text += "\n_Feedback left out: too long for one comment; see the report artifact._\n"
    if len(text) > MAX_CHARS:  # names and hints alone (a report with thousands of checks): cut at a line
        text = _cut(text, MAX_CHARS - 200)
        text += "\n_The rest was cut: too long for one comment; see the report artifact._\n"
    return text


def _cut(text: str, limit: int) -> str:
    """`text` up to the last whole line within `limit` characters, with a code block left open closed again."""
    kept = text[: text.rfind("\n", 0, limit) + 1]
    fence = ""
    for line in kept.splitlines():
        if line.startswith("```") and not fence:
            fence = line.removesuffix("text")  # the opening fence, without its language tag
        elif fence and line == fence:
            fence = ""
    return kept + (f"{fence}\n" if fence else "")
