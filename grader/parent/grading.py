"""Grade one submission: rubric, one child run, scores. Used by every command that grades."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from grader import course, rubric, scoring
from grader.errors import UsageError
from grader.parent import processes, runner, stubs
from grader.sandbox.outside import copying


@dataclasses.dataclass(frozen=True)
class Pending:
    """A run that `started` began, with what was read of the submission before any of its code ran."""

    run: runner.PendingRun
    unwritten: Mapping[str, tuple[str, ...]]  # exercise id: functions that still raise NotImplementedError


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
    progress: runner.Progress = runner.no_progress,
    judges: int | None = None,
) -> scoring.Grade:
    """Grade `submission` on `exercises` (by `judges` judges in parallel; default `runner.default_judges`);
    StaffError when the harness cannot.

    `carried` outcomes (from a previous report, `grade --failed`) are not run again but scored as they are.
    """
    skip = sorted(carried or {})
    with started(exercises, submission, cassettes=cassettes, time_limit=time_limit, check_timeout=check_timeout,
                 skip=skip, judges=judges) as pending:  # fmt: skip
        rubrics = [rubric.load(e) for e in exercises]  # while the judge starts
        return finish(pending, rubrics, time_limit=time_limit, carried=carried, progress=progress)


@contextmanager
def started(
    exercises: Sequence[course.Exercise],
    submission: Path,
    *,
    cassettes: Path = course.CASSETTES_DIR,
    time_limit: float = 600.0,
    check_timeout: float = runner.DEFAULT_CHECK_TIMEOUT,
    skip: Sequence[str] = (),
    judges: int | None = None,
) -> Iterator[Pending]:
    """The judge of `submission` starting now, so that its sandbox imports the SDKs while the caller reads
    the rubrics; `finish` it in the block (leaving the block any other way stops it)."""
    _refuse_links(submission)
    if not submission.is_dir():
        raise UsageError(f"--submission {submission}: no such directory")
    unwritten = stubs.every_unwritten(submission, [e.id for e in exercises])  # before the submission runs
    pending = runner.start_child(
        [e.id for e in exercises],
        submission=submission.resolve(),
        cassettes=cassettes,
        time_limit=time_limit,
        check_timeout=check_timeout,
        skip=skip,
        judges=judges,
    )
    try:
        yield Pending(pending, unwritten)
    finally:
        pending.cancel()


def _refuse_links(submission: Path) -> None:
    """UsageError naming the link when grading `submission` would follow one (a student's repository can hold
    a link to a classmate's folder or to the reference solutions, and git keeps links)."""
    # The folders given on a relative command line (`exercises`, `sub/exercises`) are the student's;
    # an absolute path's leading folders are the machine's (/tmp may be a link) and only its last one is.
    parts = submission.parts if not submission.is_absolute() else submission.parts[-1:]
    base = Path() if not submission.is_absolute() else submission.parent
    for i in range(len(parts)):
        step = base.joinpath(*parts[: i + 1])
        if step.is_symlink():
            raise UsageError(f"--submission {submission}: {copying.describe_link(step, base)}")
    if submission.is_dir():
        try:
            link = copying.first_link(submission)
        except copying.CopyError as exc:
            raise UsageError(f"--submission {submission}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"--submission {submission}: cannot be read ({exc.strerror or exc})") from None
        if link is not None:
            raise UsageError(f"--submission {submission}: {copying.describe_link(link, submission)}")


def finish(
    pending: Pending,
    rubrics: Sequence[rubric.ExerciseRubric],
    *,
    time_limit: float,
    carried: Mapping[str, scoring.Outcome] | None = None,
    progress: runner.Progress = runner.no_progress,
) -> scoring.Grade:
    """Grade to the end what `started` began, and score it against `rubrics`."""
    run = pending.run.finish(progress)
    notes = processes.missing()
    left_out = copying.describe(copying.select(pending.run.submission))  # the same choice the sandbox's copy made
    if left_out is not None:
        notes.append(left_out)
    if run.hit_time_limit:
        notes.append(f"grading hit its time limit of {time_limit:.0f} s; unfinished checks score 0")
    if run.rejected_records:
        notes.append(f"{run.rejected_records} forged or corrupt result line(s) were ignored")
    missing = "timeout" if run.hit_time_limit else "failed"
    result = scoring.grade(rubrics, {**(carried or {}), **run.outcomes}, missing_status=missing, notes=notes)
    # The suites are staff files: read after the judge started, off the path to the first check.
    later = {}
    for exercise_id, functions in pending.unwritten.items():
        later[exercise_id] = stubs.hidden_only(functions, stubs.names_in_code(rubric.suite_files(exercise_id)))
    return dataclasses.replace(result, sandbox=run.sandbox, unwritten=dict(pending.unwritten), hidden_only=later)
