"""Failure injection with the real SDKs: scripted answers, stacking over vcrpy and a live server, counting."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from grader import clock
from grader.course import CASSETTES_DIR
from grader.errors import StaffError
from grader.judge import faults, replay, timeline
from tests.support.fake_api import FakeAPI
from tests.wrong.error_handler import MUTANTS

USER: Any = [{"role": "user", "content": "Reply with one word: ready?"}]


def oai(**kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-x", max_retries=0, **kwargs)


def claude(**kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test-x", max_retries=0, **kwargs)


def ask_openai(client: openai.OpenAI) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=USER)


def ask_anthropic(client: anthropic.Anthropic, **extra: Any) -> Any:
    return client.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER, **extra)


def failure(fn: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as caught:
        fn()
    return caught.value


def script(*steps: str) -> tuple[faults.Step, ...]:
    return faults.parse_script(steps, where="test")


def test_steps_parse_and_bad_steps_name_the_step_and_the_check():
    step = faults.parse_step("429 retry-after=2 Retry-After-Ms=1500")
    assert (step.kind, step.status, step.headers) == ("status", 429, (("retry-after", "2"), ("retry-after-ms", "1500")))
    assert faults.parse_step("200").kind == faults.CASSETTE
    assert faults.parse_step("drop").kind == faults.DROP
    for bad, says in [
        ("42", "'42' is not a status code"),
        ("timeout", "read-timeout"),
        ("429 retry-after", "name=value"),
        ("503 retry-after=date+soon", "date+N"),
        ("200 retry-after=1", "cassette"),
        ("", "empty"),
    ]:
        with pytest.raises(StaffError) as caught:
            faults.parse_step(bad, where="suite.py::test_x")
        assert says in str(caught.value) and "suite.py::test_x" in str(caught.value)


def test_status_steps_are_each_providers_real_error_with_its_headers():
    with faults.injecting(script("429 retry-after=2 retry-after-ms=1500", "401", "529", "404")) as injector:
        limited = failure(lambda: ask_openai(oai()))
        unauthorized = failure(lambda: ask_anthropic(claude()))
        overloaded = failure(lambda: ask_anthropic(claude()))
        missing = failure(lambda: ask_openai(oai()))
    assert isinstance(limited, openai.RateLimitError)
    assert limited.response.headers["retry-after"] == "2" and limited.response.headers["retry-after-ms"] == "1500"
    assert limited.response.headers["x-request-id"].startswith("req_")
    body = limited.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"} and body["error"]["code"] == "rate_limit_exceeded"
    assert isinstance(unauthorized, anthropic.AuthenticationError)
    assert unauthorized.response.headers["x-should-retry"] == "false"
    payload = unauthorized.response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "authentication_error"
    assert payload["request_id"] == unauthorized.response.headers["request-id"]
    assert isinstance(overloaded, anthropic.OverloadedError) and overloaded.status_code == 529
    assert isinstance(missing, openai.NotFoundError) and "gpt-4o-mini" in missing.message
    assert injector.requests == 4 and injector.notes() == []


def test_transport_failures_become_the_sdks_connection_errors():
    with faults.injecting(script("read-timeout", "connect-error", "drop", "drop", "drop")):
        timed_out = failure(lambda: ask_openai(oai()))
        refused = failure(lambda: ask_anthropic(claude()))
        dropped = failure(lambda: ask_openai(oai()))
        dropped_anthropic = failure(lambda: ask_anthropic(claude()))
        broken_stream = failure(lambda: list(ask_anthropic(claude(), stream=True)))
    assert isinstance(timed_out, openai.APITimeoutError)
    assert isinstance(refused, anthropic.APIConnectionError) and not isinstance(refused, anthropic.APITimeoutError)
    assert isinstance(dropped, openai.APIConnectionError)
    assert isinstance(dropped_anthropic, anthropic.APIConnectionError)
    # anthropic does not wrap an error raised while a stream is read: the exercise calls it permanent
    assert isinstance(broken_stream, httpx2.RemoteProtocolError)


def test_async_clients_are_served_too():
    async def scenario() -> list[BaseException]:
        async with openai.AsyncOpenAI(api_key="sk-test-x", max_retries=0) as client:
            errors = []
            for _ in range(2):
                try:
                    await client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=USER)
                except Exception as error:
                    errors.append(error)
            return errors

    with faults.injecting(script("503", "drop")) as injector:
        errors = asyncio.run(scenario())
    assert isinstance(errors[0], openai.InternalServerError) and isinstance(errors[1], openai.APIConnectionError)
    assert injector.requests == 2


def test_a_200_passes_through_to_the_layer_below_a_live_local_server():
    with FakeAPI(seed=3) as fake, faults.injecting(script("500", "200")) as injector:
        client = oai(base_url=fake.openai_base_url)
        assert isinstance(failure(lambda: ask_openai(client)), openai.InternalServerError)
        reply = ask_openai(client)
        assert reply.choices[0].message.content
        assert len(fake.requests) == 1  # the 500 never reached the server
    assert injector.requests == 2 and injector.notes() == []


def test_a_200_is_served_from_the_cassette_when_stacked_over_vcrpy(tmp_path: Path):
    path = CASSETTES_DIR / "error_handler" / "test_rate_limit_retried_then_returns.yaml"
    with (
        replay.replaying(path, empty_path=tmp_path / "none.yaml") as active,
        faults.injecting(script("429", "200")),
    ):
        assert isinstance(failure(lambda: ask_openai(oai())), openai.RateLimitError)
        reply = ask_openai(oai())
    assert reply.choices[0].message.content == active.response_json()["choices"][0]["message"]["content"]
    assert len(active.sent) == 1 and active.misses == []


def test_patches_are_undone_even_when_the_block_raises():
    before = (httpx2.HTTPTransport.handle_request, httpx2.AsyncHTTPTransport.handle_async_request)
    with pytest.raises(RuntimeError), faults.injecting(script("500")):
        raise RuntimeError("boom")
    assert (httpx2.HTTPTransport.handle_request, httpx2.AsyncHTTPTransport.handle_async_request) == before


def test_requests_beyond_the_script_and_steps_never_reached_fail_the_check():
    with faults.injecting(script("503")) as injector:
        failure(lambda: ask_openai(oai()))
        extra = failure(lambda: ask_openai(oai()))
    assert isinstance(extra, openai.BadRequestError)  # permanent, so a retry loop stops at once
    assert injector.requests == 2 and "expected exactly 1" in injector.notes()[0]
    with faults.injecting(script("503", "503", "200")) as injector:
        failure(lambda: ask_openai(oai()))
    assert "made 1 request(s); this check expected 3" in injector.notes()[0]
    with faults.injecting(script("503")) as injector:
        pass
    assert injector.notes() == ["Your code made no request; this check expected 1."]


def test_http_dates_are_written_against_the_frozen_clock():
    with clock.frozen() as frozen, faults.injecting(script("503 retry-after=date+12"), now=frozen.now):
        frozen.advance(3.0)
        error = failure(lambda: ask_anthropic(claude()))
    assert isinstance(error, anthropic.APIStatusError)
    sent = email.utils.parsedate_to_datetime(error.response.headers["retry-after"])
    assert sent.timestamp() == clock.DEFAULT_START.timestamp() + 15
    assert email.utils.parsedate_to_datetime(error.response.headers["date"]).timestamp() == sent.timestamp() - 12


def test_timeline_judges_each_delay_against_the_policy():
    steps = script("429 retry-after=2", "503", "200")
    with FakeAPI(seed=5) as fake, clock.frozen() as frozen, faults.injecting(steps, now=frozen.now) as inj:
        client = oai(base_url=fake.openai_base_url)
        for delay in (0.5, 0.7):
            failure(lambda: ask_openai(client))
            time.sleep(delay)
        ask_openai(client)
    table = timeline.rows(inj.served, frozen.sleeps, timeline.Policy(max_retries=5, base_delay=1.0, max_delay=30.0))
    assert [r.allowed for r in table] == [timeline.Allowed(2.0, 2.0), timeline.Allowed(1.0, 2.0), None]
    assert timeline.problems(table) == [
        "attempt 1: delay outside the allowed range",
        "attempt 2: delay outside the allowed range",
    ]
    text = timeline.render(table)
    assert "attempt 1: 429 with retry-after: 2 -> you slept 0.50 s (allowed exactly 2.00 s)" in text
    assert "attempt 2: 503 (no retry hint) -> you slept 0.70 s (allowed 1.00-2.00 s)" in text


def test_the_script_hint_follows_the_policys_precedence():
    at = clock.DEFAULT_START.timestamp() + 0.25
    assert faults.script_hint((("retry-after-ms", "1500"), ("retry-after", "7")), at) == 1.5
    assert faults.script_hint((("retry-after-ms", "soon"), ("retry-after", "7")), at) == 7.0
    assert faults.script_hint((("retry-after", "date+5"),), at) == 4.75  # the date is sent in whole seconds
    assert faults.script_hint((("retry-after", "date-9"),), at) == 0.0
    assert faults.script_hint((("retry-after", "soon"),), at) is None
    assert faults.script_hint((), at) is None


def test_the_hint_served_is_what_the_sdk_error_carries():
    with clock.frozen() as frozen, faults.injecting(script("503 retry-after=date+5"), now=frozen.now) as injector:
        frozen.advance(0.25)
        error = failure(lambda: ask_openai(oai()))
    assert isinstance(error, openai.APIStatusError)
    sent = email.utils.parsedate_to_datetime(error.response.headers["retry-after"]).timestamp()
    assert injector.served[0].hint == sent - injector.served[0].at == 4.75


def test_failed_retry_checks_show_the_timeline_in_the_terminal_table(grade, tmp_path: Path):
    # A mutant that fails this check whatever its draws: the server's hint of 120 s (capped to 60) is ignored,
    # so the first delay lies in [4, 8]. (linear_backoff fails it only on some seeds.)
    mutant = next(m for m in MUTANTS if m.name == "ignores_retry_after")
    run = grade(mutant.write(tmp_path / "submission"), "error_handler")
    assert run.returncode == 0, run.output
    hidden = run.check("error_handler/test_hidden.py::test_delays_capped_at_max_delay")
    assert hidden["visibility"] == "hidden" and hidden["status"] == "failed"
    assert "What your code did" in hidden["feedback"]
    assert "attempt 1: 429 with retry-after: 120 -> you slept" in hidden["feedback"]
    assert "(allowed exactly 60.00 s)  <- delay outside the allowed range" in hidden["feedback"]
    assert "attempt 4: 503 (no retry hint) -> you slept" in hidden["feedback"]
    assert "What your code did" in run.output and "<- delay outside the allowed range" in run.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["score"] < report["max_score"]
