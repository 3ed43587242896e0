"""Public checks of exercise 4, error_handler: retry, give up at once, backoff range, the hint, the log.

Each check scripts what the API answers, request by request (`@pytest.mark.faults`); a `200` is the
recorded reply from the check's cassette. The clock is frozen: every delay your code asks
`time.sleep` for is recorded and skipped, so nothing waits for real.
"""

import logging
import re

import pytest

from grader.judge.remote import later
from grader.judge.sdk import anthropic

PROMPT = "Reply with one word: ready?"
LOGGER = "exercises.error_handler"


def openai_call(client):
    """The request as a callable for call_with_retry; it remembers what each call returned or raised."""
    return later(
        client.chat.completions.create,
        model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": PROMPT}],
    )  # fmt: skip


def anthropic_call(client):
    return later(
        client.messages.create,
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": PROMPT}],
    )  # fmt: skip


def seconds(value):
    """A plain number (a lying __eq__ or a str subclass never passes a comparison)."""
    return type(value) in (int, float)


def error_of(fn):
    try:
        fn()
    except Exception as error:
        return error
    raise AssertionError("the scripted request did not fail")  # the grader's own script is wrong


@pytest.mark.points(2)
@pytest.mark.hint(
    "Catch the exception of fn(); when is_retryable(error) is true, sleep with time.sleep and call fn() again; "
    "return fn()'s result once it succeeds."
)
@pytest.mark.faults("429", "200")
def test_rate_limit_retried_then_returns(exercise, openai_client, retries, replay):
    """call_with_retry retries a 429 after a backoff delay and returns the reply"""
    retries.expect()
    call = openai_call(openai_client)
    result = exercise.call_with_retry(call)
    returned = call.returned
    expected = replay.response_json()["choices"][0]["message"]["content"]
    assert returned and result is returned[-1], f"call_with_retry returned {result!r}, not what fn() returned"
    assert returned[-1].choices[0].message.content == expected
    assert retries.requests == 2, f"expected 2 requests (a 429, then success); your code made {retries.requests}"
    problems = retries.problems()
    assert not problems, "; ".join(problems)


@pytest.mark.points(2)
@pytest.mark.hint(
    "A 401 never goes away by waiting: when is_retryable(error) is false, re-raise the same exception at once "
    "(a bare `raise`), without sleeping."
)
@pytest.mark.faults("401")
@pytest.mark.cassette(None)
def test_permanent_error_raised_at_once(exercise, anthropic_client, retries):
    """call_with_retry re-raises a 401 at once: one request, no sleep, the same exception"""
    retries.expect()
    call = anthropic_call(anthropic_client)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        exercise.call_with_retry(call)
    assert call.raised and caught.value is call.raised[0], (
        "call_with_retry must re-raise the AuthenticationError itself"
    )
    assert retries.requests == 1, f"a 401 must not be retried; your code made {retries.requests} requests"
    assert retries.delays == [], f"no sleep before a permanent error; your code slept {retries.delays}"


@pytest.mark.points(2)
@pytest.mark.hint(
    "Let e = min(max_delay, base_delay * 2**retry) and return random.uniform(e / 2, e): retry 0 gives "
    "[0.5, 1] s with the defaults, retry 3 gives [4, 8] s; a base_delay or max_delay of 0 is valid and gives 0."
)
@pytest.mark.cassette(None)
def test_backoff_delay_range(exercise, sandbox):
    """backoff_delay(n) lies in [e/2, e] for e = base_delay * 2**n, over several random seeds"""
    for seed in range(6):
        sandbox.seed(seed)
        first = exercise.backoff_delay(0)
        assert seconds(first) and 0.5 <= first <= 1.0, (
            f"backoff_delay(0) gave {first!r} (seed {seed}); allowed 0.50-1.00 s"
        )
        for retry in range(6):
            ceiling = 0.5 * 2**retry
            delay = exercise.backoff_delay(retry, base_delay=0.5, max_delay=100.0)
            assert seconds(delay) and ceiling / 2 <= delay <= ceiling, (
                f"backoff_delay({retry}, base_delay=0.5, max_delay=100.0) gave {delay!r} (seed {seed}); "
                f"allowed {ceiling / 2:.2f}-{ceiling:.2f} s"
            )
    # A base_delay or max_delay of 0 is valid: e = 0, so no wait at all (and no OverflowError).
    for retry, base_delay, max_delay in [(0, 0.0, 5.0), (3, 0.0, 5.0), (2000, 0.0, 5.0), (0, 2.0, 0.0), (4, 2.0, 0.0)]:
        delay = exercise.backoff_delay(retry, base_delay=base_delay, max_delay=max_delay)
        assert seconds(delay) and delay == 0, (
            f"backoff_delay({retry}, base_delay={base_delay}, max_delay={max_delay}) gave {delay!r}; "
            "with a base_delay or max_delay of 0 every delay is 0"
        )


@pytest.mark.points(2)
@pytest.mark.hint(
    "Read error.response.headers: 'retry-after-ms' is milliseconds (1500 -> 1.5), 'retry-after' is seconds; "
    "return None when the error has no response (a timeout) or no hint; never a negative number."
)
@pytest.mark.faults(
    "429 retry-after=2", "429 retry-after-ms=1500", "503", "read-timeout",
    "429 retry-after-ms=-500", "503 retry-after=-3",
)
@pytest.mark.cassette(None)
def test_retry_after_seconds_reads_the_hint(exercise, openai_client, retries):
    """retry_after_seconds reads retry-after and retry-after-ms, gives None without a hint, and is never negative"""
    call = openai_call(openai_client)
    cases = [("retry-after: 2", 2.0), ("retry-after-ms: 1500", 1.5), ("a 503 with no hint", None)]
    cases.append(("a read timeout (no response)", None))
    for what, expected in cases:
        got = exercise.retry_after_seconds(error_of(call))
        if expected is None:
            assert got is None, f"retry_after_seconds gave {got!r} for {what}; expected None"
        else:
            assert seconds(got) and abs(got - expected) <= 1e-6, (
                f"retry_after_seconds gave {got!r} for {what}; expected {expected}"
            )
    for what in ("retry-after-ms: -500", "retry-after: -3"):
        got = exercise.retry_after_seconds(error_of(call))
        assert got is None or (seconds(got) and got == 0), (
            f"retry_after_seconds gave {got!r} for {what}; a hint is never negative (0, or None for no hint)"
        )
    got = exercise.retry_after_seconds(ValueError("not an API error"))
    assert got is None, f"retry_after_seconds gave {got!r} for a ValueError; expected None"


@pytest.mark.points(2)
@pytest.mark.hint(
    "Before each sleep, call logging.getLogger(__name__).warning(...) once with the error's class name and the "
    "delay, e.g. 'InternalServerError: retrying in 1.50 s' (f'{delay:.2f}')."
)
@pytest.mark.faults("503", "500", "200")
def test_one_warning_per_retry(exercise, openai_client, retries, logs):
    """call_with_retry logs one WARNING per retry with the error's class name and the delay"""
    retries.expect()
    exercise.call_with_retry(openai_call(openai_client))
    records = [r for r in logs if r["name"] == LOGGER and r["levelno"] == logging.WARNING]
    delays = retries.delays
    assert len(records) == len(delays) == 2, (
        f"expected 2 retries, each with one WARNING on the logger {LOGGER!r}; "
        f"got {len(records)} warning(s) and {len(delays)} sleep(s)"
    )
    for record, delay in zip(records, delays, strict=True):
        message = record["message"]
        assert "InternalServerError" in message, f"the warning {message!r} does not name the error's class"
        numbers = [(float(m.group()), len(m.group(1))) for m in re.finditer(r"\d+\.(\d{2,})", message)]
        assert any(abs(n - delay) <= 0.5 * 10**-places + 1e-9 for n, places in numbers), (
            f"the warning {message!r} does not show the delay you slept ({delay:.4f} s) with at least 2 decimals"
        )
