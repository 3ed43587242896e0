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
from grader.submission import NOT_IMPORTED, StudentImportError

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
    cause: str = ""  # one line, alike for every submission with the same mistake (no values, no timings)
    sdk_error: str = ""  # an SDK's exception the submission let through: named as the consequence of a bad request


@dataclass
class CheckRecord:
    """Collected during one check; turned into an Outcome when it finishes."""

    check_id: str
    hidden: bool
    phases: list[PhaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # blocked connections, leaks, streams, retries
    misses: list[tuple[str, str]] = field(default_factory=list)  # requests that matched nothing: (why, cause)
    output: str = ""  # what the submission printed and logged in this check

    def outcome(self) -> Outcome:
        failing = [p for p in self.phases if p.status != "passed"]
        staff = any(p.staff_error for p in failing)
        if failing:
            status = failing[0].status
        elif self.notes or self.misses:
            status = "failed"
        elif not any(p.when == "call" for p in self.phases):
            status = "error"
        else:
            status = "passed"
        if staff:
            messages, cause = [p.message for p in failing if p.message], "grader problem"
        elif self.misses:
            # The request is the cause; the SDK's error that followed it is its consequence, said after it.
            messages = [why for why, _ in self.misses]
            messages += [f"So the SDK raised {p.sdk_error}." if p.sdk_error else p.message for p in failing]
            messages += self.notes
            cause = self.misses[0][1]
        else:
            messages = [p.message for p in failing] + self.notes
            cause = next((p.cause for p in failing if p.cause), "") or _first_line(self.notes)
        feedback = scrub("\n".join(dict.fromkeys(m for m in messages if m)))
        if len(feedback) > MAX_FEEDBACK:
            feedback = feedback[: MAX_FEEDBACK - 20] + "\n... (truncated)"
        if status == "passed":
            return Outcome(self.check_id, status, feedback, staff)
        return Outcome(self.check_id, status, feedback, staff, cause=cause or status, output=self.output)


_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|0x[0-9a-fA-F]+")
MAX_CAUSE = 160


def normalized_cause(text: str) -> str:
    """The first line of `text` without the values in it (quoted text, addresses): one mistake, one cause."""
    line = " ".join(scrub(text).strip().split("\n", 1)[0].split())
    line = _QUOTED.sub("…", line)
    return line if len(line) <= MAX_CAUSE else line[: MAX_CAUSE - 1] + "…"


def _first_line(notes: list[str]) -> str:
    return normalized_cause(notes[0]) if notes else ""


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


_SDK_ROOTS = ("openai.", "anthropic.", "httpx", "httpcore")


def _student_error(when: str, exc: RemoteError) -> PhaseResult:
    """An exception the submission raised (in the sandbox), in the student's terms."""
    line = exc.student_line
    place = f" at {line}" if line else ""
    names = set(exc.names)
    cause = f"raised {exc.type_name}{place}"
    if "builtins.NotImplementedError" in names and line:
        message = f"Not implemented yet: {exc.text or 'NotImplementedError'} ({line})."
        cause = f"not implemented yet: {normalized_cause(exc.text or 'NotImplementedError')}"
    elif "builtins.SystemExit" in names:
        message = f"Your code called sys.exit({exc.text}){place}; a library function must return or raise."
        cause = f"called sys.exit(){place}"
    elif "builtins.Exception" not in names:
        message = f"Your code raised {exc.type_name}{place}, which would stop the whole program."
    elif "builtins.MemoryError" in names:
        message = f"Your code ran out of memory ({line or 'in your code'}): the grader allows 1 GB."
        cause = f"ran out of memory{place}"
    elif "builtins.OSError" in names and exc.text.startswith(f"[Errno {errno.EFBIG}]"):
        message = f"Your code wrote too much ({line or 'in your code'}): the grader caps a file at 64 MB."
        cause = f"wrote a file over 64 MB{place}"
    elif "builtins.OSError" in names and exc.text.startswith(f"[Errno {errno.ENOSPC}]"):
        message = (
            f"Your code filled its scratch space ({line or 'in your code'}): the grader gives it 128 MB and "
            "4096 files for its copy of the submission and its home folder."
        )
        cause = f"filled its scratch space{place}"
    else:
        message = f"Your code raised {exc.type_name}{place}: {exc.text}"
    sdk_error = f"{exc.type_name}{place}" if exc.type_name.startswith(_SDK_ROOTS) else ""
    return PhaseResult(when, "failed", message, cause=cause, sdk_error=sdk_error)


_IMPORT_PLACE = re.compile(r"^(exercises/[^\s:]+(?:, line \d+)?): ([A-Za-z_][\w.]*):")


def _import_cause(message: str) -> str:
    """`exercises/basic_call.py, line 17: SyntaxError`: where the module failed to load, and what failed."""
    found = _IMPORT_PLACE.match(message)
    if found:
        return f"{found.group(1)}: {found.group(2)}"
    return normalized_cause(message.split(f". {NOT_IMPORTED}")[0])


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
        return PhaseResult(when, "failed", str(exc), cause=_import_cause(str(exc)))
    if isinstance(exc, SandboxFailure):
        function = getattr(exc, "function", None)
        if exc.status == "timeout":
            cause = f"{function}() ran out of time" if function else "ran out of time"
        else:
            cause = normalized_cause(str(exc))
        return PhaseResult(when, exc.status, str(exc), cause=cause)
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
        return PhaseResult(when, "error", "This check was skipped, so it earns no points.", cause="skipped")
    where = _student_frame(exc, submission)
    if isinstance(exc, NotImplementedError) and where:
        text = str(exc) or "NotImplementedError"
        return PhaseResult(
            when, "failed", f"Not implemented yet: {text} ({where}).", cause=f"not implemented yet: {text}"
        )
    if isinstance(exc, AssertionError | pytest.fail.Exception) and where is None:
        # The suite's own verdict; a hidden check never shows its expected values.
        if hidden:
            return PhaseResult(when, "failed", "", by_check=True, cause="the hidden check's assertion failed")
        text = str(exc).split("\nassert ")[0].strip() or "The check's assertion failed."
        return PhaseResult(when, "failed", text, by_check=True, cause=normalized_cause(text))
    if when != "call" and where is None:
        return PhaseResult(
            when,
            "error",
            f"Grader problem, not your fault: the check's {when} raised {type(exc).__name__}: {exc}",
            staff_error=True,
        )
    if _is_cassette_miss(exc):
        return PhaseResult(when, "failed", "", cause="a request with no recorded reply")
    if where is None:
        # Raised in the judge, so in the check's own code, while it examined what the student's code returned or
        # did (whatever the submission raises arrives as a RemoteError, handled above).
        return PhaseResult(
            when,
            "failed",
            f"The check stopped with {error_name(exc)}: {exc}, raised in the grader's own code while it examined "
            "what your code returned or did; your code did not raise it. Usually the value your code returned has "
            "another type or shape than the contract asks for, or your code made fewer requests than asked.",
            cause=f"the check stopped with {error_name(exc)} while it examined what the code returned",
        )
    place = f" at {where}" if where else ""
    return PhaseResult(
        when, "failed", f"Your code raised {error_name(exc)}{place}: {exc}", cause=f"raised {error_name(exc)}{place}"
    )
