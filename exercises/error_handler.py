"""Exercise 4: Error Handler.

What you practise: retries with exponential backoff. Networks fail and rate limits hit; a
production client retries what may succeed next time, gives up at once on what never will, waits
longer after each failure, and honours the server's own hint. Course module: Key Concepts
"4. Error Handling" (401: check the key; 429: back off and retry; 500: retry with backoff;
timeout: retry) and Key Takeaway 1 "Always handle errors".

Grade this exercise with `nox -s grade -- error_handler`. The grader scripts failures on a frozen
clock: no test sleeps for real, and it records every delay you ask `time.sleep` for.

The policy, for both SDKs' exceptions (`openai.X` and `anthropic.X` alike):
- Retryable: an `APIStatusError` whose `status_code` is 408, 409, 429 or 5xx (500-599, 529
  "overloaded" included), and any `APIConnectionError` (`APITimeoutError` is a subclass).
- Permanent, raised at once with no sleep: everything else (400, 401, 403, 404, 413, 422, and
  errors that are not the SDKs', such as `httpx2` errors or `ValueError`).
- Delay before retry number `n` (0 for the first retry): the server hint when there is one,
  capped at `max_delay`; otherwise `backoff_delay(n, ...)`.
- Sleep with `time.sleep` (`asyncio.sleep` in the async variant); `from time import sleep` is
  fine, the grader's clock sees it.
- At most `max_retries` retries, so at most `max_retries + 1` calls of `fn`; when they are
  spent, re-raise the last error itself (a bare `raise` inside `except` does that).
- One WARNING per retry on `logging.getLogger(__name__)` (the logger `exercises.error_handler`),
  containing the error's class name and the delay in seconds written with at least two
  decimals, for example `RateLimitError: retrying in 1.50 s`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "acall_with_retry",
    "backoff_delay",
    "call_with_retry",
    "is_retryable",
    "retry_after_seconds",
]

T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    """True when `error` is worth retrying under the policy in the module docstring.

    Check with `isinstance` against both SDKs' classes: `openai.APIConnectionError`,
    `anthropic.APIConnectionError` (always retryable), and `openai.APIStatusError`,
    `anthropic.APIStatusError` (retryable when `error.status_code` is 408, 409, 429 or 5xx).
    Returns False for everything else.
    """
    raise NotImplementedError("is_retryable: your code here")


def retry_after_seconds(error: BaseException) -> float | None:
    """The server's retry hint carried by `error`, in seconds.

    Read the headers of `error.response` (an `httpx2.Response`; connection errors and non-SDK
    errors have none: return `None`). The `retry-after-ms` header (milliseconds) wins; when it is
    missing or does not parse as a number, use `retry-after`: a number of seconds (`"2"`,
    `"1.5"`) or an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, parse it with
    `email.utils.parsedate_to_datetime`) measured against the current `time.time()`.

    Returns the hint, not capped and never negative (0 or a date in the past gives 0.0), or
    `None` when neither header parses.
    """
    raise NotImplementedError("retry_after_seconds: your code here")


def backoff_delay(retry: int, *, base_delay: float = 1.0, max_delay: float = 30.0) -> float:
    """The delay before retry number `retry` (0 for the first) when the server gave no hint.

    Let `e = min(max_delay, base_delay * 2**retry)`. Returns a value in `[e/2, e]`; jitter is
    optional, `random.uniform(e / 2, e)` is one way (it keeps many clients from retrying in lockstep).
    Mind that `2**retry` can be huge: the result must still be at most `max_delay`.
    """
    raise NotImplementedError("backoff_delay: your code here")


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_retries: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> T:
    """Call `fn()` and return its result, retrying retryable errors with backoff.

    On an exception from `fn()`: when it is permanent (`is_retryable` is False) or the
    `max_retries` retries are spent, re-raise that same exception. Otherwise the delay is
    `min(retry_after_seconds(error), max_delay)` when there is a hint, else
    `backoff_delay(n, base_delay=base_delay, max_delay=max_delay)` for retry number `n`; log
    the WARNING described in the module docstring, `time.sleep(delay)`, and call `fn()` again.
    """
    raise NotImplementedError("call_with_retry: your code here")


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]],
    *,
    max_retries: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> T:
    """The async twin of `call_with_retry`: `await fn()`, and `await asyncio.sleep(delay)`.

    Same policy, delays, log lines and limits as `call_with_retry`.
    """
    raise NotImplementedError("acall_with_retry: your code here")
