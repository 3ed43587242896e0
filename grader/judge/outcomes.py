"""Turn what happened in one check (its phases, replay misses, blocked connections) into the
outcome and the feedback the student reads."""

from __future__ import annotations

import errno
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from grader.errors import StaffError
from grader.judge.link import SandboxFailure, SandboxStartError
from grader.judge.remote import RemoteError
from grader.scoring import Outcome
from grader.submission import StudentImportError

TIMEOUT_PREFIX = "Timeout (>"
_GRADER = Path(__file__).resolve().parent  # the suites and the grader's helpers
MAX_FEEDBACK = 2000


@dataclass
class PhaseResult:
    when: str
    status: str  # passed | failed | error | timeout
    message: str = ""
    staff_error: bool = False
    by_check: bool = False  # the check's own assertion ended it (not the student's code, nor a time limit)


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
        feedback = scrub("\n".join(dict.fromkeys(messages)))
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
    """The innermost line of the submission in the traceback of `exc` (of its cause, for an abort),
    with the function it is in: a property read long after the call is named as itself."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        try:
            relative = Path(frame.filename).resolve().relative_to(submission)
        except ValueError:
            continue
        inside = f" (in {frame.name})" if frame.name != "<module>" else ""
        return f"exercises/{relative.as_posix()}, line {frame.lineno}{inside}"
    return None


def _student_error(when: str, exc: RemoteError) -> PhaseResult:
    """An exception the submission raised (in the sandbox), in the student's terms."""
    line = exc.student_line
    place = f" at {line}" if line else ""
    names = set(exc.names)
    if "builtins.NotImplementedError" in names and line:
        message = f"Not implemented yet: {exc.text or 'NotImplementedError'} ({line})."
    elif "builtins.SystemExit" in names:
        message = f"Your code called sys.exit({exc.text}){place}; a library function must return or raise."
    elif "builtins.Exception" not in names:
        message = f"Your code raised {exc.type_name}{place}, which would stop the whole program."
    elif "builtins.MemoryError" in names:
        message = f"Your code ran out of memory ({line or 'in your code'}): the grader allows 1 GB."
    elif "builtins.OSError" in names and exc.text.startswith(f"[Errno {errno.EFBIG}]"):
        message = f"Your code wrote too much ({line or 'in your code'}): the grader caps a file at 64 MB."
    elif "builtins.OSError" in names and exc.text.startswith(f"[Errno {errno.ENOSPC}]"):
        message = (
            f"Your code filled its scratch space ({line or 'in your code'}): the grader gives it 128 MB and "
            "4096 files for its copy of the submission and its home folder."
        )
    else:
        message = f"Your code raised {exc.type_name}{place}: {exc.text}"
    return PhaseResult(when, "failed", message)


def error_name(exc: BaseException) -> str:
    """The exception's name as a student would import it: `anthropic.InternalServerError`, `ValueError`."""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    root = module.split(".")[0]
    if root == "exercises":
        return cls.__qualname__
    if getattr(sys.modules.get(root), cls.__name__, None) is cls:
        return f"{root}.{cls.__name__}"
    return f"{module}.{cls.__qualname__}"


# vcrpy's refusal of a request: the replay layer explains the request itself, in the student's words.
_VCR_REFUSAL = re.compile(
    r"(vcr\.errors\.)?CannotOverwriteExistingCassetteException(: )?|Can't overwrite existing cassette[^\n]*"
    r"(\n(No match for the request|Found \d+ similar|The cassette|Matchers|\d+ - |- |\s)[^\n]*)*"
)


def scrub(feedback: str) -> str:
    """Feedback without vcrpy's own words, which name the grader's machinery and not the student's request."""
    return _VCR_REFUSAL.sub(lambda m: "a request with no recorded reply" if "Cannot" in m.group() else "", feedback)


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
    if isinstance(exc, StaffError | SandboxStartError):
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: {exc} (course staff have to fix this; tell them).",
            staff_error=True,
        )
    if isinstance(exc, StudentImportError):
        return PhaseResult(when, "failed", str(exc))
    if isinstance(exc, SandboxFailure):
        return PhaseResult(when, exc.status, str(exc))
    if isinstance(exc, RemoteError):
        return _student_error(when, exc)
    if isinstance(exc, pytest.fail.Exception) and str(exc).startswith(TIMEOUT_PREFIX):
        # pytest-timeout backs up the judge's own deadline; reaching it means the judge itself hung.
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: the check's {when} outlived the judge's backstop timeout "
            "(course staff have to fix this; tell them).",
            staff_error=True,
        )
    if isinstance(exc, pytest.skip.Exception):
        return PhaseResult(when, "error", "This check was skipped, so it earns no points.")
    where = _student_frame(exc, submission)
    if isinstance(exc, NotImplementedError) and where:
        return PhaseResult(when, "failed", f"Not implemented yet: {exc or 'NotImplementedError'} ({where}).")
    if isinstance(exc, AssertionError | pytest.fail.Exception) and where is None:
        # The suite's own verdict; a hidden check never shows its expected values.
        if hidden:
            return PhaseResult(when, "failed", "", by_check=True)
        text = str(exc).split("\nassert ")[0].strip()
        return PhaseResult(when, "failed", text or "The check's assertion failed.", by_check=True)
    if when != "call" and where is None:
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: the check's {when} raised {type(exc).__name__}: {exc}",
            staff_error=True,
        )
    if _is_cassette_miss(exc):
        return PhaseResult(when, "failed", "")
    if where is None:
        # Raised in the judge, so in the check's own code, while it examined what the student's code returned or
        # did (whatever the submission raises arrives as a RemoteError, handled above).
        return PhaseResult(
            when,
            "failed",
            f"The check stopped with {error_name(exc)}: {exc}, raised in the grader's own code while it examined "
            "what your code returned or did; your code did not raise it. Usually the value your code returned has "
            "another type or shape than the contract asks for, or your code made fewer requests than asked.",
        )
    place = f" at {where}" if where else ""
    return PhaseResult(when, "failed", f"Your code raised {error_name(exc)}{place}: {exc}")
