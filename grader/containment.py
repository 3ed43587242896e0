"""Keep a submission's drastic moves (sys.exit, KeyboardInterrupt, stray threads) inside one check."""

from __future__ import annotations

import os
import sys

from _pytest.outcomes import OutcomeException


class SubmissionAbort(Exception):
    """A BaseException from student code, turned into a plain failure of the one check it happened in."""


def as_failure(exc: BaseException) -> BaseException:
    """What to raise instead of `exc` so pytest fails the check and goes on with the next one."""
    if isinstance(exc, Exception | OutcomeException):
        return exc  # ordinary failures, and pytest's own outcomes (including pytest-timeout's)
    if isinstance(exc, SystemExit):
        return SubmissionAbort(f"your code called sys.exit({exc.code!r}); a library function must return or raise")
    return SubmissionAbort(f"your code raised {type(exc).__name__}, which would stop the whole program")


MAX_TRACEBACK_FRAMES = 60


def shorten_traceback(exc: BaseException) -> None:
    """Cut very deep tracebacks (a recursion bomb has millions of frames) before pytest formats them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb = current.__traceback__
        for _ in range(MAX_TRACEBACK_FRAMES):
            if tb is None:
                break
            if _ == MAX_TRACEBACK_FRAMES - 1:
                tb.tb_next = None
            tb = tb.tb_next
        current = current.__cause__ or current.__context__


def exit_now(status: int) -> None:
    """End the process at once, without waiting for non-daemon threads a submission started."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
