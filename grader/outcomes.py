"""Turn what happened in one check (its phases, replay misses, blocked connections) into the
outcome and the feedback the student reads."""

from __future__ import annotations

import errno
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from grader.containment import SubmissionAbort
from grader.errors import StaffError
from grader.hangs import HungBefore
from grader.scoring import Outcome
from grader.submission import StudentImportError

TIMEOUT_PREFIX = "Timeout (>"
MAX_FEEDBACK = 2000


@dataclass
class PhaseResult:
    when: str
    status: str  # passed | failed | error | timeout
    message: str = ""
    staff_error: bool = False


@dataclass
class CheckRecord:
    """Collected during one check; turned into an Outcome when it finishes."""

    check_id: str
    hidden: bool
    phases: list[PhaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # replay misses, blocked connections

    def outcome(self) -> Outcome:
        failing = [p for p in self.phases if p.status != "passed"]
        staff = any(p.staff_error for p in failing)
        if failing:
            status = failing[0].status
        elif self.notes:
            status = "failed"
        elif not any(p.when == "call" for p in self.phases):
            status = "error"
        else:
            status = "passed"
        messages = [p.message for p in failing if p.message]
        if not staff:
            messages += self.notes
        feedback = "\n".join(dict.fromkeys(messages))
        if len(feedback) > MAX_FEEDBACK:
            feedback = feedback[: MAX_FEEDBACK - 20] + "\n... (truncated)"
        return Outcome(self.check_id, status, feedback, staff)


def _is_cassette_miss(exc: BaseException) -> bool:
    """vcrpy refused a request; the replay layer's own explanation replaces vcrpy's message."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, CannotOverwriteExistingCassetteException):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _student_frame(exc: BaseException, submission: Path) -> str | None:
    """The innermost line of the submission in the traceback of `exc` (of its cause, for an abort)."""
    if isinstance(exc, SubmissionAbort) and exc.__cause__ is not None:
        exc = exc.__cause__
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        try:
            relative = Path(frame.filename).resolve().relative_to(submission)
        except ValueError:
            continue
        return f"exercises/{relative.as_posix()}, line {frame.lineno}"
    return None


def phase_result(
    when: str,
    excinfo: pytest.ExceptionInfo[BaseException] | None,
    *,
    hidden: bool,
    submission: Path,
) -> PhaseResult:
    """Classify one phase of a check and explain a failure in the student's terms."""
    if excinfo is None:
        return PhaseResult(when, "passed")
    exc = excinfo.value
    if isinstance(exc, StaffError):
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: {exc} (course staff have to fix this; tell them).",
            staff_error=True,
        )
    if isinstance(exc, StudentImportError):
        return PhaseResult(when, "failed", str(exc))
    if isinstance(exc, pytest.fail.Exception) and str(exc).startswith(TIMEOUT_PREFIX):
        again = (
            f" {exc.function}() ran out of time in an earlier check, so it was not run again."
            if isinstance(exc, HungBefore)
            else ""
        )
        return PhaseResult(
            when,
            "timeout",
            "This check ran out of time and was stopped: look for an endless loop or a real wait "
            "(time.sleep, Event.wait, select) that the grader's clock cannot skip." + again,
        )
    if isinstance(exc, pytest.skip.Exception):
        return PhaseResult(when, "error", "This check was skipped, so it earns no points.")
    where = _student_frame(exc, submission)
    if isinstance(exc, NotImplementedError) and where:
        return PhaseResult(when, "failed", f"Not implemented yet: {exc or 'NotImplementedError'} ({where}).")
    if isinstance(exc, AssertionError | pytest.fail.Exception) and where is None:
        # The suite's own verdict; a hidden check never shows its expected values.
        if hidden:
            return PhaseResult(when, "failed", "")
        text = str(exc).split("\nassert ")[0].strip()
        return PhaseResult(when, "failed", text or "The check's assertion failed.")
    if when != "call" and where is None:
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: the check's {when} raised {type(exc).__name__}: {exc}",
            staff_error=True,
        )
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return PhaseResult(
            when, "failed", f"Your code wrote too much output ({where or 'in your code'}): the grader caps it at 64 MB."
        )
    if isinstance(exc, MemoryError):
        return PhaseResult(
            when, "failed", f"Your code ran out of memory ({where or 'in your code'}): the grader allows 1 GB."
        )
    if isinstance(exc, SubmissionAbort):
        return PhaseResult(when, "failed", f"{str(exc)[0].upper()}{str(exc)[1:]} ({where or 'in your code'}).")
    if _is_cassette_miss(exc):
        return PhaseResult(when, "failed", "")
    place = f" at {where}" if where else ""
    return PhaseResult(when, "failed", f"Your code raised {type(exc).__name__}{place}: {exc}")
