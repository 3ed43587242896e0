"""Failed checks as a student should read them: one entry per cause, the cause first (pure; no rendering).

The terminal and the per-student feedback files show the same entries, built here from the grade or
from the JSON report. Checks that fail for one cause (the same request mismatch, the same exception at
the same line, a module that does not import, a function that hung) are one entry naming them; an
exercise not started is one line naming the functions to write, those only hidden checks call included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grader.scoring import ExerciseResult, Grade
from grader.submission import NOT_FOUND, NOT_IMPORTED

_NOT_IMPLEMENTED = re.compile(r"^Not implemented yet: ([\w.]+)")
_NOT_RUN_AGAIN = re.compile(r" ([\w.]+)\(\) ran out of time in an earlier check, so it was not run again\.$")
AFTER_SUBMIT = "graded after you submit"


@dataclass(frozen=True)
class Failed:
    """One check that did not pass, as every report needs it."""

    name: str
    status: str
    points: int
    hint: str
    feedback: str
    cause: str
    output: str
    hidden: bool


@dataclass(frozen=True)
class Exercise:
    id: str
    checks: int  # checks graded in this run
    failed: tuple[Failed, ...]
    unwritten: tuple[str, ...]  # functions that still raise NotImplementedError (read from the source)
    later: tuple[str, ...]  # of those, the ones that no suite in this copy of the grader calls
    hidden_not_run: int  # points of hidden checks absent from this copy of the grader


@dataclass(frozen=True)
class Entry:
    exercise: str
    title: str  # the cause (or the check's name, for a check failing alone)
    tag: str  # status and points, or how many checks it costs
    status: str
    hint: str = ""
    checks: tuple[str, ...] = ()  # the checks it names, when several
    feedback: str = ""
    output: str = ""  # what the code printed; never that of a hidden check
    not_run_again: tuple[str, ...] = ()  # functions that hung once and were not called again


def _points(failed: Sequence[Failed]) -> str:
    return f"{sum(f.points for f in failed)} pt"


def _unstarted(failed: Failed) -> str | None:
    found = _NOT_IMPLEMENTED.match(failed.feedback)
    return found.group(1) if found else None


def _names(functions: Sequence[str]) -> str:
    """`a, b, Tracker (record, total)`: a class's methods under its name, in the order given."""
    grouped: dict[str, list[str]] = {}
    for name in functions:
        owner, dot, method = name.rpartition(".")
        grouped.setdefault(owner if dot else name, []).append(method if dot else "")
    return ", ".join(
        owner if methods == [""] else f"{owner} ({', '.join(m for m in methods if m)})"
        for owner, methods in grouped.items()
    )


def _write_list(functions: Sequence[str], hidden_only: Sequence[str]) -> str:
    if not functions:
        return f"{_names(hidden_only)} ({AFTER_SUBMIT})"
    return _names(functions) + (f"; {AFTER_SUBMIT}: {_names(hidden_only)}" if hidden_only else "")


def _key(failed: Failed) -> tuple[str, str]:
    # A report without causes (written before they existed) groups by feedback, as it always did.
    if failed.cause:
        return failed.status, failed.cause
    feedback = _NOT_RUN_AGAIN.sub("", failed.feedback)
    return (failed.status, feedback) if feedback else (failed.status, f"\0{failed.name}")


def _not_imported(feedback: str) -> str | None:
    first = feedback.split("\n", 1)[0]
    return first if NOT_IMPORTED in first or NOT_FOUND in first else None


def entries(exercise: Exercise) -> list[Entry]:
    """The exercise's failures, one entry per cause, in the order the checks ran."""
    failed = list(exercise.failed)
    unstarted = [f for f in failed if _unstarted(f)]
    reached = list(dict.fromkeys(name for f in unstarted if (name := _unstarted(f))))
    # Every stub is named, in the source's order, also those no failing check reached (a check stopped
    # at an earlier one); those that only hidden checks absent from this copy call are said to be graded later.
    hidden_only = [n for n in exercise.later if n not in reached] if exercise.hidden_not_run else []
    functions = [n for n in exercise.unwritten if n not in hidden_only]
    functions += [n for n in reached if n not in functions]
    if unstarted and len(failed) == exercise.checks:  # nothing passes yet: one line, whatever else failed
        title = f"not started; write {_write_list(functions, hidden_only)}"
        return [Entry(exercise.id, title, f"{len(failed)} checks, {_points(failed)}", "failed")]
    found: list[Entry] = []
    if unstarted:
        title = f"not written yet: {_write_list(functions, hidden_only)}"
        found.append(Entry(exercise.id, title, f"{len(unstarted)} checks, {_points(unstarted)}", "failed"))
    elif hidden_only:
        title = f"still to write: {_write_list([], hidden_only)}"
        found.append(Entry(exercise.id, title, f"{exercise.hidden_not_run} pt in hidden checks", "failed"))
    groups: dict[tuple[str, str], list[Failed]] = {}
    for f in failed:
        if f not in unstarted:
            groups.setdefault(_key(f), []).append(f)
    for (status, _), members in groups.items():
        first = members[0]
        hung = tuple(dict.fromkeys(m.group(1) for f in members if (m := _NOT_RUN_AGAIN.search(f.feedback))))
        output = next((f.output for f in members if f.output and not f.hidden), "")
        if (unloaded := _not_imported(first.feedback)) is not None:
            # The file, line and error first, then what it costs; the checks' names add nothing.
            count = f"{len(members)} check{'s' if len(members) != 1 else ''}, {_points(members)}"
            found.append(Entry(exercise.id, unloaded, count, status, feedback=first.feedback.partition("\n")[2]))
        elif len(members) == 1:
            found.append(
                Entry(
                    exercise.id,
                    first.name,
                    f"{status}, {_points(members)}",
                    status,
                    hint=first.hint,
                    feedback=first.feedback,
                    output=output,
                )
            )
        else:
            feedback = _NOT_RUN_AGAIN.sub("", first.feedback)
            title = first.cause or f"{len(members)} checks, one cause"
            found.append(
                Entry(
                    exercise.id,
                    title,
                    f"{len(members)} checks, {status}, {_points(members)}",
                    status,
                    checks=tuple(f.name for f in members),
                    feedback=feedback,
                    output=output,
                    not_run_again=hung,
                )
            )
    return found


def from_grade(exercise: ExerciseResult, grade: Grade) -> Exercise:
    failed = tuple(
        Failed(
            r.check.name,
            r.status,
            r.check.points,
            r.check.hint,
            r.feedback,
            r.cause,
            r.output,
            r.check.visibility != "visible",
        )
        for r in exercise.results
        if r.status != "passed"
    )
    return Exercise(
        exercise.id,
        len(exercise.results),
        failed,
        tuple(grade.unwritten.get(exercise.id, ())),
        tuple(grade.hidden_only.get(exercise.id, ())),
        exercise.hidden_not_run,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def from_report(exercise: Mapping[str, Any]) -> Exercise:
    """An exercise of the JSON report (schema 1; fields added later may be absent)."""
    tests = [t for t in exercise.get("tests", []) if isinstance(t, Mapping)]
    failed = tuple(
        Failed(
            _text(t.get("name")),
            _text(t.get("status")),
            int(t.get("max_score") or 0),
            _text(t.get("hint")),
            _text(t.get("feedback")),
            _text(t.get("cause")),
            _text(t.get("output")),
            t.get("visibility") != "visible",
        )
        for t in tests
        if t.get("status") != "passed"
    )
    unwritten = tuple(str(n) for n in exercise.get("unwritten", []) or [])
    later = tuple(str(n) for n in exercise.get("unwritten_hidden_only", []) or [])
    hidden = exercise.get("hidden_points_not_run") or 0
    return Exercise(_text(exercise.get("id")), len(tests), failed, unwritten, later, int(hidden))
