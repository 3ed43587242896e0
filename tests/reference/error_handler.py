"""Exercise 4: Error Handler (reference solution).

Practises retries with exponential backoff and server hints (course module, Key Concepts
"4. Error Handling", and Key Takeaway 1 "Always handle errors"). Grade it with
`nox -s grade -- error_handler`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timezone
from typing import TypeVar

import anthropic
import openai

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

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS_CODES = frozenset({408, 409, 429})
"""Retryable 4xx statuses: request timeout, conflict, rate limit. Every 5xx is retryable too."""

_STATUS_ERRORS = (openai.APIStatusError, anthropic.APIStatusError)
_CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError)


def is_retryable(error: BaseException) -> bool:
    """True when `error` is worth retrying under the course's policy."""
    if isinstance(error, _CONNECTION_ERRORS):  # timeouts are APIConnectionError subclasses
        return True
    if isinstance(error, _STATUS_ERRORS):
        status = error.status_code
        return status in _RETRYABLE_STATUS_CODES or 500 <= status <= 599
    return False


def _parse_seconds(value: str) -> float | None:
    """A finite number of seconds, or None when `value` is not one."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def retry_after_seconds(error: BaseException) -> float | None:
    """The server's retry hint in seconds (never negative, not capped), or None."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None

    retry_after_ms = headers.get("retry-after-ms")
    if retry_after_ms is not None:
        milliseconds = _parse_seconds(retry_after_ms)
        if milliseconds is not None:
            return max(0.0, milliseconds / 1000.0)

    retry_after = headers.get("retry-after")
    if retry_after is None:
        return None
    seconds = _parse_seconds(retry_after)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; they mean UTC
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(retry: int, *, base_delay: float = 1.0, max_delay: float = 30.0) -> float:
    """A jittered delay in `[e/2, e]` with `e = min(max_delay, base_delay * 2**retry)`."""
    if retry < 0:
        raise ValueError(f"retry must be 0 or more, got {retry!r}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError(f"delays must not be negative, got base_delay={base_delay!r}, max_delay={max_delay!r}")
    try:
        grown = base_delay * 2.0**retry
    except OverflowError:
        grown = math.inf if base_delay > 0 else 0.0
    ceiling = min(max_delay, grown)
    return random.uniform(ceiling / 2, ceiling)


def _delay_before_retry(error: BaseException, retry: int, base_delay: float, max_delay: float) -> float:
    hint = retry_after_seconds(error)
    if hint is not None:
        return min(hint, max_delay)
    return backoff_delay(retry, base_delay=base_delay, max_delay=max_delay)


def _check_max_retries(max_retries: int) -> None:
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, got {max_retries!r}")


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_retries: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> T:
    """Call `fn()`, retrying retryable errors at most `max_retries` times; return its result."""
    _check_max_retries(max_retries)
    retry = 0
    while True:
        try:
            return fn()
        except Exception as error:
            if retry >= max_retries or not is_retryable(error):
                raise
            delay = _delay_before_retry(error, retry, base_delay, max_delay)
            logger.warning("%s: retrying in %.2f s", type(error).__name__, delay)
            time.sleep(delay)
            retry += 1


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]],
    *,
    max_retries: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> T:
    """The async twin of `call_with_retry`: awaits `fn()` and sleeps with `asyncio.sleep`."""
    _check_max_retries(max_retries)
    retry = 0
    while True:
        try:
            return await fn()
        except Exception as error:
            if retry >= max_retries or not is_retryable(error):
                raise
            delay = _delay_before_retry(error, retry, base_delay, max_delay)
            logger.warning("%s: retrying in %.2f s", type(error).__name__, delay)
            await asyncio.sleep(delay)
            retry += 1
