"""Hidden checks of exercise 4, error_handler: the whole policy over both SDKs' exceptions.

Scripted failures on a frozen clock: which errors are retried, how many calls, each delay's range
over several seeds, hint precedence and cap, the final error's identity, no sleep before a
permanent error, and the async variant.
"""

import contextlib

import pytest

from grader.judge.remote import later
from grader.judge.sdk import anthropic, httpx2, openai

PROMPT = "Reply with one word: ready?"
RETRYABLE = ("408", "409", "429", "500", "502", "503", "529", "599", "read-timeout", "connect-error", "drop")
PERMANENT = ("400", "401", "403", "404", "413", "422", "499")  # 499 is no 5xx
SEEDS = 5


def openai_call(client):
    """The request as a callable for call_with_retry; it remembers what each call returned or raised."""
    return later(
        client.chat.completions.create,
        model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": PROMPT}],
    )  # fmt: skip


def anthropic_call(client, **extra):
    return later(
        client.messages.create,
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": PROMPT}], **extra,
    )  # fmt: skip


def anthropic_stream_call(client):
    """An Anthropic stream read to the end; a broken stream raises httpx2's own error."""
    call = anthropic_call(client, stream=True)
    call.consume = True
    return call


def seconds(value):
    """A plain number (a lying __eq__ or a str subclass never passes a comparison)."""
    return type(value) in (int, float)


@contextlib.contextmanager
def local_zone(sandbox, name):
    """The sandbox's local time zone set to `name` (where the platform can switch it)."""
    if not sandbox.setenv("TZ", name):
        pytest.skip("this platform cannot switch the local time zone")
    try:
        yield
    finally:
        sandbox.setenv("TZ", None)


def error_of(fn):
    try:
        fn()
    except Exception as error:
        return error
    raise AssertionError("the scripted request did not fail")


@pytest.mark.points(2)
@pytest.mark.hint(
    "Retryable: APIStatusError with status 408, 409, 429 or 500-599, and every APIConnectionError (timeouts "
    "included), from openai AND anthropic. Everything else, httpx2's own errors included, is permanent."
)
@pytest.mark.faults(*RETRYABLE, *PERMANENT, *RETRYABLE, *PERMANENT, "drop")
@pytest.mark.cassette(None)
def test_which_errors_are_retried(exercise, openai_client, anthropic_client):
    """is_retryable over both SDKs' status, timeout and connection errors, and other exceptions"""
    for call in (openai_call(openai_client), anthropic_call(anthropic_client)):
        for _ in RETRYABLE:
            assert exercise.is_retryable(error_of(call)) is True
        for _ in PERMANENT:
            assert exercise.is_retryable(error_of(call)) is False
    broken_stream = error_of(anthropic_stream_call(anthropic_client))
    assert isinstance(broken_stream, httpx2.HTTPError)
    assert exercise.is_retryable(broken_stream) is False
    for other in (ValueError("bad"), KeyError("k"), RuntimeError("x"), TimeoutError()):
        assert exercise.is_retryable(other) is False


@pytest.mark.points(1)
@pytest.mark.hint(
    "max_retries=4 allows 4 retries, so 5 calls in all: an error on each of the first 4 and a success on the "
    "5th must return the result."
)
@pytest.mark.faults("500", "529", "read-timeout", "503", "200")
def test_calls_until_success(exercise, anthropic_client, retries, replay):
    """call_with_retry keeps calling until success, using every one of its max_retries"""
    retries.expect(max_retries=4, base_delay=5.0, max_delay=60.0)
    call = anthropic_call(anthropic_client)
    result = exercise.call_with_retry(call, max_retries=4, base_delay=5.0, max_delay=60.0)
    returned = call.returned
    assert retries.requests == 5
    assert returned and result is returned[-1]
    assert [b.text for b in returned[-1].content] == [b["text"] for b in replay.response_json()["content"]]


@pytest.mark.points(1)
@pytest.mark.hint(
    "With max_retries=3 your code calls fn() at most 4 times; when the 4th call fails too, the error "
    "propagates to the caller."
)
@pytest.mark.faults("529", "529", "529", "529")
@pytest.mark.cassette(None)
def test_gives_up_after_max_retries(exercise, anthropic_client, retries):
    """call_with_retry makes max_retries + 1 calls, then raises"""
    retries.expect(max_retries=3, base_delay=10.0, max_delay=60.0)
    with pytest.raises(anthropic.OverloadedError):
        exercise.call_with_retry(anthropic_call(anthropic_client), max_retries=3, base_delay=10.0, max_delay=60.0)
    assert retries.requests == 4


@pytest.mark.points(1)
@pytest.mark.hint(
    "max_retries=0 is valid and means no retry: fn() is called once and its error propagates at once, with no "
    "sleep."
)
@pytest.mark.faults("529")
@pytest.mark.cassette(None)
def test_zero_retries_is_one_call(exercise, anthropic_client, retries):
    """call_with_retry with max_retries=0 calls fn once and raises its error"""
    retries.expect(max_retries=0, base_delay=10.0, max_delay=60.0)
    with pytest.raises(anthropic.OverloadedError):
        exercise.call_with_retry(anthropic_call(anthropic_client), max_retries=0, base_delay=10.0, max_delay=60.0)
    assert retries.requests == 1
    assert retries.delays == []


@pytest.mark.points(1)
@pytest.mark.hint(
    "When the retries are spent, re-raise the last error itself with a bare `raise` inside `except`: not a "
    "new exception, a copy, or a wrapper."
)
@pytest.mark.faults("500", "503", "read-timeout")
@pytest.mark.cassette(None)
def test_last_error_reraised_itself(exercise, openai_client, retries):
    """the error raised when retries are spent is the last one fn raised, itself"""
    retries.expect(max_retries=2)
    call = openai_call(openai_client)
    # Exception, not BaseException: the grader's own outcomes (a check out of time, a sandbox that crashed)
    # are BaseExceptions and must reach the report as what they are, not as a wrong re-raise.
    with pytest.raises(Exception) as caught:
        exercise.call_with_retry(call, max_retries=2)
    assert call.raised and caught.value is call.raised[-1]
    assert isinstance(caught.value, openai.APITimeoutError)


@pytest.mark.points(2)
@pytest.mark.hint(
    "Without a server hint, the delay before retry n is in [e/2, e] with e = min(max_delay, base_delay * 2**n): "
    "exponential, not linear, and the jitter never below e/2."
)
@pytest.mark.faults(*["503"] * (6 * SEEDS))
@pytest.mark.cassette(None)
def test_exponential_backoff_over_seeds(exercise, sandbox, openai_client, retries):
    """each delay without a hint lies in [e/2, e], e = base_delay * 2**n, over several random seeds"""
    retries.expect(max_retries=5, base_delay=3.0, max_delay=120.0)
    for seed in range(SEEDS):
        sandbox.seed(seed)
        retries.new_call()
        with pytest.raises(openai.InternalServerError):
            exercise.call_with_retry(openai_call(openai_client), max_retries=5, base_delay=3.0, max_delay=120.0)
    assert retries.requests == 6 * SEEDS
    assert not retries.problems()


@pytest.mark.points(1)
@pytest.mark.hint(
    "retry-after-ms wins over retry-after; an unparseable retry-after-ms falls back to retry-after; "
    "retry-after may be seconds or an HTTP date; 0 or a past date means retry at once (0 s)."
)
@pytest.mark.faults(
    "429 retry-after-ms=15000 retry-after=7",
    "429 retry-after-ms=soon retry-after=30",
    "503 retry-after=date+45",
    "429 retry-after=0",
    "503 retry-after=date-30",
    "200",
)
def test_hint_precedence(exercise, openai_client, retries, replay):
    """server hints: retry-after-ms over retry-after seconds over an HTTP date, 0 and the past mean 0 s"""
    retries.expect(max_retries=5, base_delay=1.0, max_delay=60.0)
    call = openai_call(openai_client)
    result = exercise.call_with_retry(call, max_retries=5, base_delay=1.0, max_delay=60.0)
    returned = call.returned
    assert returned and result is returned[-1]
    assert retries.requests == 6
    assert not retries.problems()


@pytest.mark.points(1)
@pytest.mark.hint(
    "An HTTP-date retry-after is measured against the current time: parse it with "
    "email.utils.parsedate_to_datetime and subtract time.time() (never below 0); a garbled value is no hint."
)
@pytest.mark.faults(
    "503 retry-after=date+12", "429 retry-after=date-30", "429 retry-after=soon", "503 retry-after=date+12"
)
@pytest.mark.cassette(None)
def test_retry_after_http_date(exercise, sandbox, anthropic_client, retries):
    """retry_after_seconds turns an HTTP date into seconds from now on the grader's clock, in any time zone"""
    call = anthropic_call(anthropic_client)
    in_twelve = exercise.retry_after_seconds(error_of(call))
    assert seconds(in_twelve) and abs(in_twelve - 12.0) <= 1e-3
    past = exercise.retry_after_seconds(error_of(call))
    assert seconds(past) and past == 0
    assert exercise.retry_after_seconds(error_of(call)) is None
    error = error_of(call)
    with local_zone(sandbox, "Asia/Kolkata"):  # +05:30: a date read as local time is 5.5 hours off
        in_zone = exercise.retry_after_seconds(error)
    assert seconds(in_zone) and abs(in_zone - 12.0) <= 1e-3, (
        "an HTTP date is in GMT: your code read it as local time (try TZ=Asia/Kolkata)"
    )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Cap every delay at max_delay: a server hint of 120 s with max_delay=60 waits 60 s, and "
    "backoff_delay never exceeds max_delay however large the retry number."
)
@pytest.mark.faults("429 retry-after=120", "503", "503", "503", "200")
def test_delays_capped_at_max_delay(exercise, openai_client, retries, replay):
    """every delay is capped at max_delay, hinted or not"""
    retries.expect(max_retries=5, base_delay=8.0, max_delay=60.0)
    exercise.call_with_retry(openai_call(openai_client), max_retries=5, base_delay=8.0, max_delay=60.0)
    assert retries.requests == 5
    assert not retries.problems()
    for retry in (6, 30, 100, 1100, 10**5):
        delay = exercise.backoff_delay(retry, base_delay=1.0, max_delay=5.0)
        assert seconds(delay) and 2.5 <= delay <= 5.0, f"backoff_delay({retry}, max_delay=5.0) gave {delay!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Decide with is_retryable before anything else: a permanent error (400, 401, 403, 404, 413, 422, httpx2 "
    "errors, ValueError) is re-raised at once, with no sleep and no log line."
)
@pytest.mark.faults("400", "403", "404", "422", "401", "413", "drop")
@pytest.mark.cassette(None)
def test_no_sleep_before_permanent_error(exercise, sandbox, openai_client, anthropic_client, retries):
    """a permanent error from either SDK, httpx2 or fn itself propagates at once with no sleep"""
    retries.expect(max_retries=3)
    makers = [(openai_call, openai_client)] * 4 + [(anthropic_call, anthropic_client)] * 2
    makers.append((anthropic_stream_call, anthropic_client))
    for make, client in makers:
        call = make(client)
        retries.new_call()
        with pytest.raises(Exception) as caught:
            exercise.call_with_retry(call, max_retries=3)
        assert len(call.raised) == 1 and caught.value is call.raised[0]

    not_an_api_error = later(sandbox.raiser(ValueError("bad input")))
    not_an_api_error.on_call = lambda: retries.attempt("fn raised ValueError", "permanent")
    retries.new_call()
    with pytest.raises(ValueError):
        exercise.call_with_retry(not_an_api_error, max_retries=3)
    assert retries.requests == 7
    assert retries.delays == []


@pytest.mark.points(1)
@pytest.mark.hint(
    "acall_with_retry is call_with_retry with `await fn()` and `await asyncio.sleep(delay)`; time.sleep inside "
    "async code blocks the whole event loop."
)
@pytest.mark.faults("429 retry-after=1", "503", "connect-error", "200")
def test_async_variant_retries_with_asyncio_sleep(exercise, sandbox, retries, replay):
    """acall_with_retry retries with asyncio.sleep and returns the reply"""
    retries.expect(max_retries=5, base_delay=2.0, max_delay=30.0, asynchronous=True)
    call = openai_call(sandbox.client("openai", asynchronous=True))
    result = sandbox.run(exercise.acall_with_retry(call, max_retries=5, base_delay=2.0, max_delay=30.0))
    returned = call.returned
    assert returned and result is returned[-1]
    assert returned[-1].choices[0].message.content == replay.response_json()["choices"][0]["message"]["content"]
    assert retries.requests == 4
    assert not retries.problems()


@pytest.mark.points(1)
@pytest.mark.hint(
    "acall_with_retry follows the same policy: at most max_retries retries, the last error re-raised itself, "
    "and a permanent error at once with no sleep."
)
@pytest.mark.faults("529", "529", "529", "401")
@pytest.mark.cassette(None)
def test_async_variant_gives_up_and_raises(exercise, sandbox, retries):
    """acall_with_retry re-raises the last error when retries are spent, and a 401 at once"""
    retries.expect(max_retries=2, base_delay=4.0, max_delay=30.0, asynchronous=True)
    client = sandbox.client("anthropic", asynchronous=True)
    raised = []
    outcomes = []
    for _ in range(2):
        call = anthropic_call(client)
        retries.new_call()
        try:
            sandbox.run(exercise.acall_with_retry(call, max_retries=2, base_delay=4.0, max_delay=30.0))
        except Exception as error:
            outcomes.append(error)
        raised += call.raised
    assert len(outcomes) == 2
    overloaded, unauthorized = outcomes
    assert isinstance(overloaded, anthropic.OverloadedError) and overloaded is raised[2]
    assert isinstance(unauthorized, anthropic.AuthenticationError) and unauthorized is raised[3]
    assert retries.requests == 4
    assert not retries.problems()


@pytest.mark.points(1)
@pytest.mark.hint(
    "retry-after in seconds need not be whole: '1.5' means 1.5 s (parse it with float, not int), and a "
    "negative value means no wait (0 s), never a negative sleep."
)
@pytest.mark.faults(
    "429 retry-after=1.5", "503 retry-after=-2", "200", "429 retry-after=2.75", "503 retry-after=-0.5"
)
@pytest.mark.cassette("test_delays_capped_at_max_delay")
def test_retry_after_fractional_and_negative_seconds(exercise, openai_client, retries, replay):
    """a retry-after of 1.5 s waits 1.5 s, a negative one waits 0 s, and retry_after_seconds says so"""
    retries.expect(max_retries=5, base_delay=8.0, max_delay=60.0)
    call = openai_call(openai_client)
    exercise.call_with_retry(call, max_retries=5, base_delay=8.0, max_delay=60.0)
    assert retries.requests == 3
    assert not retries.problems()
    fractional = exercise.retry_after_seconds(error_of(call))
    assert seconds(fractional) and abs(fractional - 2.75) <= 1e-9, (
        f"retry_after_seconds gave {fractional!r} for retry-after: 2.75"
    )
    negative = exercise.retry_after_seconds(error_of(call))
    assert seconds(negative) and negative == 0, f"retry_after_seconds gave {negative!r} for retry-after: -0.5"
