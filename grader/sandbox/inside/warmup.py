"""What the SDKs build on their first request, built once in the fork server from canned replies.

A client's first call builds pydantic validators, response types and SSE decoders that later calls
reuse (about 0.13 CPU s the first time, 0.015 after, measured here). Done in the fork server, before
any submission exists, every sandbox forked from it starts with them built. Nothing here reaches a
network: every client is given an httpx2 MockTransport that answers from the constants below, and
nothing of a submission is involved. It is best-effort: a reply another SDK version cannot parse
costs that sandbox the first-use time, never the server.
"""

from __future__ import annotations

import json
from typing import Any

_KEY = "sk-test-warmup"
_CHAT: dict[str, Any] = {
    "id": "chatcmpl-warmup",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
_MESSAGE: dict[str, Any] = {
    "id": "msg_warmup",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-latest",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def _sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> str:
    out = []
    for event, data in events:
        body = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {event}\n" if event else "") + f"data: {body}\n\n")
    return "".join(out)


_CHUNK = {"id": "chatcmpl-warmup", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
_CHAT_STREAM = _sse(
    [
        (None, {**_CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "o"}}]}),
        (None, {**_CHUNK, "choices": [{"index": 0, "delta": {"content": "k"}, "finish_reason": "stop"}]}),
        (None, "[DONE]"),
    ]
)
_MESSAGE_STREAM = _sse(
    [
        ("message_start", {"type": "message_start", "message": {**_MESSAGE, "content": []}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)
_ERRORS = (401, 429, 500, 529)


def _reply(request: Any) -> Any:
    import httpx2

    body = json.loads(request.content or b"{}")
    status = int(body.get("metadata", {}).get("status", 200)) if isinstance(body.get("metadata"), dict) else 200
    anthropic = request.url.path.endswith("/messages")
    if status != 200:
        error = {"type": "error", "error": {"type": "rate_limit_error", "message": "warm-up"}}
        return httpx2.Response(status, json=error if anthropic else {"error": {"message": "warm-up"}})
    if body.get("stream"):
        text = _MESSAGE_STREAM if anthropic else _CHAT_STREAM
        return httpx2.Response(200, text=text, headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, json=_MESSAGE if anthropic else _CHAT)


def _openai(client: Any) -> None:
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm-up"}]}
    client.chat.completions.create(**ask, temperature=0.2, max_tokens=5)
    for _ in client.chat.completions.create(**ask, stream=True):
        pass
    for status in _ERRORS:
        try:
            client.chat.completions.create(**ask, metadata={"status": str(status)})
        except Exception:  # the point is the error type each status builds
            pass


def _anthropic(client: Any) -> None:
    ask = {"model": "claude-3-5-haiku-latest", "max_tokens": 5, "messages": [{"role": "user", "content": "warm-up"}]}
    client.messages.create(**ask, system="warm-up")
    with client.messages.stream(**ask) as stream:
        for _ in stream.text_stream:
            pass
    for status in _ERRORS:
        try:
            client.messages.create(**ask, metadata={"status": str(status)})
        except Exception:  # as above
            pass


def warm() -> list[str]:
    """Make one request of each kind the checks make, with each SDK, against canned replies; the paths
    of the requests answered (what was warmed)."""
    import anthropic
    import httpx2
    import openai

    answered: list[str] = []

    def reply(request: Any) -> Any:
        answered.append(request.url.path)
        return _reply(request)

    for make, use in (
        (lambda http: openai.OpenAI(api_key=_KEY, http_client=http, max_retries=0), _openai),
        (lambda http: anthropic.Anthropic(api_key=_KEY, http_client=http, max_retries=0), _anthropic),
    ):
        try:
            with httpx2.Client(transport=httpx2.MockTransport(reply)) as http:
                use(make(http))
        except Exception:  # best-effort: a sandbox then builds these on first use
            pass
    return answered
