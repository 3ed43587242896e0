"""Checks that the real OpenAI and Anthropic SDKs work against tests.support.fake_api."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest

from tests.support.fake_api import (
    FakeAPI,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    openai_chat,
    openai_error,
    openai_stream,
)

USER = [{"role": "user", "content": "Say this is a test"}]


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI(seed=7) as api:
        yield api


@pytest.fixture
def oai(fake: FakeAPI) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-x", base_url=fake.openai_base_url, max_retries=0)


@pytest.fixture
def claude(fake: FakeAPI) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test-x", base_url=fake.base_url, max_retries=0)


def test_base_urls(fake: FakeAPI) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.base_url)
    assert fake.openai_base_url == fake.base_url + "/v1"


# --------------------------------------------------------------------------- OpenAI


def test_openai_plain(fake: FakeAPI, oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    completion = raw.parse()
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", completion.id)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.service_tier == "default"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", completion.system_fingerprint or "")
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.endswith(".")
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert usage.prompt_tokens_details is not None and usage.completion_tokens_details is not None

    headers = raw.headers
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) > 0
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert re.fullmatch(r"user-[a-z0-9]{24}", headers["openai-organization"])
    assert re.fullmatch(r"proj_[A-Za-z0-9]{24}", headers["openai-project"])
    assert headers["openai-version"] == "2020-10-01"
    assert re.fullmatch(r"[0-9a-f]{16}-SJC", headers["cf-ray"])
    assert headers["server"] == "cloudflare"
    cookies = headers.get_list("set-cookie")
    assert any(c.startswith("__cf_bm=") and "domain=.api.openai.com" in c for c in cookies)
    assert any(c.startswith("_cfuvid=") for c in cookies)

    # The request was recorded with lower-cased header names.
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["authorization"] == "Bearer sk-test-x"
    assert recorded.json()["model"] == "gpt-4o-mini"


def test_openai_text_is_deterministic_and_depends_on_temperature(oai: openai.OpenAI) -> None:
    def text(**kwargs: object) -> str | None:
        return oai.chat.completions.create(model="gpt-4o", messages=USER, **kwargs).choices[0].message.content

    assert text() == text()
    assert text(temperature=0.0) != text(temperature=1.5)
    assert oai.chat.completions.create(model="gpt-4o", messages=USER).model == "gpt-4o-2024-08-06"


def test_openai_n_choices(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=USER, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    texts = [c.message.content for c in completion.choices]
    assert len(set(texts)) == 3 and all(texts)


def test_openai_stream_with_usage(fake: FakeAPI, oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == "gpt-4o-mini-2024-07-18" for c in chunks)
    content_chunks = [c for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(content_chunks)
    assert all(c.usage is None for c in chunks[:-1])
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    plain = oai.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content
    assert streamed == plain

    # Wire format: SSE `data:` lines, `"usage":null` on every chunk before the usage chunk, then [DONE].
    raw = httpx2.post(
        fake.openai_base_url + "/chat/completions",
        headers={"authorization": "Bearer sk-test-x"},
        json={
            "model": "gpt-4o-mini",
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert raw.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert raw.headers["transfer-encoding"] == "chunked"
    assert raw.text.endswith("data: [DONE]\n\n")
    events = raw.text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events)
    bodies = [json.loads(e[6:]) for e in events[:-1]]
    assert all(b["usage"] is None for b in bodies[:-1])
    assert bodies[-1]["choices"] == [] and bodies[-1]["usage"]["total_tokens"] > 0


def test_openai_stream_without_usage_has_no_usage_key(fake: FakeAPI) -> None:
    raw = httpx2.post(
        fake.openai_base_url + "/chat/completions",
        headers={"authorization": "Bearer sk-test-x"},
        json={"model": "gpt-4o-mini", "messages": USER, "stream": True},
    )
    bodies = [json.loads(e[6:]) for e in raw.text.split("\n\n")[:-2]]
    assert bodies and all("usage" not in b for b in bodies)
    assert bodies[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_openai_queued_replies(fake: FakeAPI, oai: openai.OpenAI) -> None:
    fake.queue(
        openai_chat(["first", None, "third"], model="gpt-4o-2024-11-20", usage=(11, 7), order=[2, 0, 1]),
        openai_stream(["Hel", "lo", "!"], include_usage=True, usage=(5, 3)),
    )
    completion = oai.chat.completions.create(model="gpt-4o", messages=USER, n=3)
    assert [c.index for c in completion.choices] == [2, 0, 1]
    assert [c.message.content for c in completion.choices] == ["third", "first", None]
    assert completion.model == "gpt-4o-2024-11-20"
    assert completion.usage is not None and completion.usage.total_tokens == 18
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5
    assert chunks[0].model == "gpt-4o-mini-2024-07-18"


def test_openai_rate_limit_error(fake: FakeAPI, oai: openai.OpenAI) -> None:
    fake.queue(
        openai_error(
            429,
            message="Rate limit reached for gpt-4o-mini.",
            type="requests",
            code="rate_limit_exceeded",
            headers={"retry-after": "7"},
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "7"
    assert err.code == "rate_limit_exceeded" and err.type == "requests"
    assert err.response.json()["error"]["param"] is None
    # the queue is consumed: the next call gets an auto reply
    assert oai.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content


def test_openai_missing_auth_is_401(fake: FakeAPI) -> None:
    raw = httpx2.post(fake.openai_base_url + "/chat/completions", json={"model": "gpt-4o", "messages": USER})
    assert raw.status_code == 401
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and "didn't provide an API key" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


# ------------------------------------------------------------------------ Anthropic


def test_anthropic_plain(fake: FakeAPI, claude: anthropic.Anthropic) -> None:
    raw = claude.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=200, messages=USER)
    message = raw.parse()
    assert re.fullmatch(r"msg_01[1-9A-HJ-NP-Za-km-z]{22}", message.id)
    assert message.model == "claude-haiku-4-5-20251001"
    assert message.role == "assistant" and message.type == "message"
    assert message.stop_reason == "end_turn"
    assert len(message.content) == 1 and message.content[0].type == "text"
    assert message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    headers = raw.headers
    assert re.fullmatch(r"req_011C[1-9A-HJ-NP-Za-km-z]{20}", headers["request-id"])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        headers["anthropic-organization-id"],
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", headers["anthropic-ratelimit-requests-reset"])
    assert headers["x-robots-tag"] == "none"
    recorded = fake.requests[-1]
    assert recorded.path == "/v1/messages"
    # this SDK version authenticates with a Bearer header; older ones send x-api-key
    assert "sk-ant-test-x" in recorded.headers.get("x-api-key", recorded.headers.get("authorization", ""))
    again = claude.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=USER)
    assert again.model == "claude-sonnet-4-6"
    assert again.content[0].text == message.content[0].text  # type: ignore[union-attr]


def test_anthropic_stream(fake: FakeAPI, claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=USER) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 3
    assert "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.model == "claude-haiku-4-5-20251001"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(pieces)
    plain = claude.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=USER)
    assert plain.content[0].text == "".join(pieces)  # type: ignore[union-attr]

    # Wire format: `event: X\ndata: {...}\n\n` with a ping after content_block_start.
    raw = httpx2.post(
        fake.base_url + "/v1/messages",
        headers={"x-api-key": "sk-ant-test-x", "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 200, "messages": USER, "stream": True},
    )
    assert raw.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert raw.headers["cache-control"] == "no-cache"
    blocks = raw.text.split("\n\n")
    assert blocks[-1] == ""
    names = []
    for block in blocks[:-1]:
        event_line, data_line = block.split("\n")
        name = event_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name
        names.append(name)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert 'event: ping\ndata: {"type": "ping"}\n\n' in raw.text


def test_anthropic_queued_replies(fake: FakeAPI, claude: anthropic.Anthropic) -> None:
    fake.queue(
        anthropic_message(
            [
                {"type": "thinking", "thinking": "Let me think."},
                {"type": "text", "text": "Calling a tool."},
                {"type": "tool_use", "name": "lookup", "input": {"q": "x"}},
            ],
            usage={"input_tokens": 42, "output_tokens": 9},
            stop_reason="tool_use",
        ),
        anthropic_stream(["Hel", "lo"], model="claude-opus-4-1-20250805", usage={"input_tokens": 3}),
    )
    message = claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].id.startswith("toolu_01")  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (42, 9)
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=USER) as stream:
        assert "".join(stream.text_stream) == "Hello"
        final = stream.get_final_message()
    assert final.model == "claude-opus-4-1-20250805"
    assert final.usage.input_tokens == 3


def test_anthropic_rate_limit_error(fake: FakeAPI, claude: anthropic.Anthropic) -> None:
    fake.queue(
        anthropic_error(
            429,
            type="rate_limit_error",
            message="Number of request tokens has exceeded your per-minute rate limit.",
            headers={"retry-after": "12"},
        )
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "12"
    body = err.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert re.fullmatch(r"req_011C[1-9A-HJ-NP-Za-km-z]{20}", body["request_id"])
    assert err.response.headers["request-id"] == body["request_id"]


def test_anthropic_missing_auth_is_401(fake: FakeAPI) -> None:
    raw = httpx2.post(
        fake.base_url + "/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER},
    )
    assert raw.status_code == 401
    assert raw.json()["error"] == {"type": "authentication_error", "message": "x-api-key header is required"}
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- JSON replies, per-provider queues


def test_auto_reply_is_json_when_response_format_asks_for_a_json_object(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="gpt-4o-mini", messages=USER, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
    plain = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(ValueError):
        json.loads(plain.choices[0].message.content or "")


def test_auto_reply_fits_the_json_schema_asked_for(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mood": {"enum": ["calm", "busy"]},
            "capital": {"type": "boolean"},
        },
        "required": ["city", "population", "tags", "mood", "capital"],
        "additionalProperties": False,
    }
    reply = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}},
    )
    data = json.loads(reply.choices[0].message.content or "")
    assert set(data) == set(schema["properties"])
    assert isinstance(data["city"], str) and isinstance(data["population"], int)
    assert isinstance(data["tags"], list) and all(isinstance(t, str) for t in data["tags"])
    assert data["mood"] == "calm" and data["capital"] is True


def test_by_provider_queues_serve_each_provider_its_own_replies() -> None:
    with FakeAPI(seed=3, by_provider=True) as fake:
        oai = openai.OpenAI(api_key="sk-test-x", base_url=fake.openai_base_url, max_retries=0)
        claude = anthropic.Anthropic(api_key="sk-ant-test-x", base_url=fake.base_url, max_retries=0)
        fake.queue(openai_chat(["first openai"]), anthropic_message([{"type": "text", "text": "first claude"}]))
        fake.queue(openai_chat(["second openai"]))
        # Anthropic asks first: it gets its own reply, not the OpenAI one queued ahead of it.
        first = claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER)
        assert first.content[0].text == "first claude"  # type: ignore[union-attr]
        texts = [oai.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content]
        texts.append(oai.chat.completions.create(model="gpt-4o-mini", messages=USER).choices[0].message.content)
        assert texts == ["first openai", "second openai"]
        assert fake.pending == 0
        fake.queue(openai_chat(["left over"]))
        fake.clear()
        assert fake.pending == 0
