"""Grade one submission: rubric, one child run, scores. Used by every command that grades."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from grader import course, rubric, scoring
from grader.errors import UsageError
from grader.parent import processes, runner


def select(names: Sequence[str]) -> tuple[course.Exercise, ...]:
    """The exercises named (all gradable ones when none); UsageError listing the valid ids."""
    available = course.gradable()
    if not names:
        return available
    valid = {e.id for e in available}
    unknown = [n for n in names if n not in valid]
    if unknown:
        guesses = [difflib.get_close_matches(n, sorted(valid), n=1, cutoff=0.6) for n in unknown]
        hint = "".join(f" Did you mean {g[0]!r}?" for g in guesses if g)
        raise UsageError(
            f"unknown exercise {', '.join(map(repr, unknown))}.{hint} Valid: {', '.join(e.id for e in available)}"
        )
    return tuple(e for e in available if e.id in names)


def grade_submission(
    exercises: Sequence[course.Exercise],
    submission: Path,
    *,
    cassettes: Path = course.CASSETTES_DIR,
    time_limit: float = 600.0,
    check_timeout: float = runner.DEFAULT_CHECK_TIMEOUT,
    carried: Mapping[str, scoring.Outcome] | None = None,
    progress: Callable[[int], None] = lambda done: None,
    rubrics: Sequence[rubric.ExerciseRubric] | None = None,
) -> scoring.Grade:
    """Grade `submission` on `exercises` in one child process; StaffError when the harness cannot.

    `carried` outcomes (from a previous report, `grade --failed`) are not run again but scored as they are.
    `rubrics`: the exercises' rubrics when the caller has read them already.
    """
    if not submission.is_dir():
        raise UsageError(f"--submission {submission}: no such directory")
    if rubrics is None:
        rubrics = [rubric.load(e) for e in exercises]
    run = runner.run_child(
        rubrics,
        submission=submission.resolve(),
        cassettes=cassettes,
        time_limit=time_limit,
        check_timeout=check_timeout,
        skip=sorted(carried or {}),
        progress=progress,
    )
    notes = processes.missing()
    if run.hit_time_limit:
        notes.append(f"grading hit its time limit of {time_limit:.0f} s; unfinished checks score 0")
    if run.rejected_records:
        notes.append(f"{run.rejected_records} forged or corrupt result line(s) were ignored")
    missing = "timeout" if run.hit_time_limit else "failed"
    result = scoring.grade(rubrics, {**(carried or {}), **run.outcomes}, missing_status=missing, notes=notes)
    return dataclasses.replace(result, sandbox=run.sandbox)
