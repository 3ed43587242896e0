"""A local stand-in for the OpenAI Chat Completions and Anthropic Messages APIs.

``FakeAPI`` runs a tiny HTTP/1.1 server on 127.0.0.1 that the real ``openai`` and
``anthropic`` SDKs can talk to through ``base_url``.  Replies mirror the shape of
real recorded API traffic (status lines, header sets, JSON layout, id formats,
SSE framing including Anthropic's ``ping`` event and whitespace padding, and
OpenAI's ``stream_options.include_usage`` usage chunk).  All identifiers and
organisation values are freshly generated; nothing is copied from recordings.

Usage::

    with FakeAPI(seed=1) as fake:
        client = openai.OpenAI(api_key="sk-test", base_url=fake.openai_base_url)
        fake.queue(openai_chat(["Hello!"]))          # optional scripted reply
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        fake.requests[-1].json()

When the queue is empty, every valid request gets a deterministic auto reply
derived from the last user message, the choice index and the temperature; when
the request's ``response_format`` asks for JSON (``json_object``, or a
``json_schema``), the reply is JSON (fitting the schema) built from that text.
"""

from __future__ import annotations

import email.utils
import http
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeAPI",
    "RecordedRequest",
    "Reply",
    "anthropic_error",
    "anthropic_message",
    "anthropic_stream",
    "openai_chat",
    "openai_error",
    "openai_stream",
]

OPENAI_CHAT_PATH = "/v1/chat/completions"
ANTHROPIC_MESSAGES_PATH = "/v1/messages"

MODEL_SNAPSHOTS: dict[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-6": "claude-sonnet-4-6",
}

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_B64ISH = _ALNUM + "_."

_REASONS = {529: "Site is overloaded"}

_OPENAI_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an "
    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
    "or as the password field (with blank username) if you're accessing the API "
    "from your browser and are prompted for a username and password. You can "
    "obtain an API key from https://platform.openai.com/account/api-keys."
)
_OPENAI_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means "
    "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
    "payload, but what was sent was not valid JSON. If you have trouble figuring "
    "out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


# ---------------------------------------------------------------------------
# Recorded requests and replies
# ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One HTTP request as received by the fake server."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined by ", "
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class _Response:
    provider: str  # "openai" | "anthropic"
    status: int = 200
    body: bytes = b""
    events: list[bytes] | None = None  # SSE events, one write per element
    extra_headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def streaming(self) -> bool:
        return self.events is not None


@dataclass
class _Ctx:
    api: FakeAPI
    body: Any  # parsed request JSON (dict) or None

    @property
    def request(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def model(self, override: str | None, default: str) -> str:
        if override is not None:
            return override
        sent = self.request.get("model")
        if not isinstance(sent, str) or not sent:
            return default
        return MODEL_SNAPSHOTS.get(sent, sent)


@dataclass
class Reply:
    """A scripted reply. Build it with the module-level builder functions."""

    provider: str
    kind: str
    render: Callable[[_Ctx], _Response] = field(repr=False)


# ---------------------------------------------------------------------------
# Helpers: text, tokens, ids
# ---------------------------------------------------------------------------

_PIECE_RE = re.compile(r"\s*[A-Za-z0-9']+|\s*[^\sA-Za-z0-9']+|\s+")
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")

_OPENERS = [
    "Sure",
    "Certainly",
    "Of course",
    "Absolutely",
    "Okay",
    "Got it",
    "Happy to help",
    "Alright",
]
_TEMPLATES = [
    '{o}! Here is my answer to "{t}": it works as expected.',
    '{o}. Regarding "{t}", the short answer is yes.',
    '{o}, I read "{t}" and the key point is to keep it simple.',
    '{o}! "{t}" is a good prompt, and this is a brief reply.',
    '{o}. My reply to "{t}" is short and to the point.',
    '{o}, about "{t}": everything looks fine from here.',
    '{o}. Thinking about "{t}", I would start with the basics.',
    '{o}, for "{t}" the simplest approach usually works best.',
    '{o}! Considering "{t}", there are a few good options.',
    '{o}. As for "{t}", the answer depends on the details.',
]


def _split_pieces(text: str) -> list[str]:
    """Split text into word-ish pieces (like tokens) that concatenate back to it."""
    pieces = _PIECE_RE.findall(text)
    assert "".join(pieces) == text
    return pieces


def _count_tokens(text: str) -> int:
    return len(_PIECE_RE.findall(text))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return " ".join(parts)
    return ""


def _last_user_text(req: dict[str, Any]) -> str:
    messages = req.get("messages")
    if not isinstance(messages, list):
        return ""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _content_text(msg.get("content"))
    return ""


def _prompt_tokens(req: dict[str, Any]) -> int:
    total = 3
    messages = req.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                total += 3 + _count_tokens(_content_text(msg.get("content")))
    system = req.get("system")
    if system:
        total += 3 + _count_tokens(_content_text(system))
    return total


def _temperature_key(req: dict[str, Any]) -> str:
    temp = req.get("temperature")
    if isinstance(temp, bool) or not isinstance(temp, (int, float)):
        temp = 1.0
    return repr(float(temp))


def _auto_texts(seed: int, req: dict[str, Any], n: int) -> list[str]:
    """Deterministic, plausible assistant sentences; distinct per choice."""
    user = _last_user_text(req)
    words = _WORD_RE.findall(user)
    topic = " ".join(words[:6]).lower() if words else "your message"
    combos = [(o, t) for t in _TEMPLATES for o in _OPENERS]

    def order(temp_key: str) -> list[tuple[str, str]]:
        rng = random.Random(f"{seed}|{temp_key}|{user}")
        shuffled = list(combos)
        rng.shuffle(shuffled)
        return shuffled

    temp_key = _temperature_key(req)
    chosen = order(temp_key)
    if temp_key != "1.0" and chosen[0] == order("1.0")[0]:
        chosen = chosen[1:] + chosen[:1]  # guarantee a change vs. the default temp
    texts = []
    for i in range(n):
        opener, template = chosen[i % len(chosen)]
        text = template.format(o=opener, t=topic)
        if i >= len(chosen):
            text += f" (Variant {i + 1}.)"
        texts.append(text)
    return texts


def _max_tokens(req: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = req.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _duration(seconds: float) -> str:
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _dumps_compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _openai_json(obj: Any) -> bytes:
    # api.openai.com pretty-prints non-streaming bodies with a 2-space indent.
    return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")


def _openai_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _anthropic_usage(input_tokens: int, output_tokens: int, override: dict | None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "inference_geo": "not_available",
    }
    if override:
        usage.update(override)
    return usage


# ---------------------------------------------------------------------------
# OpenAI rendering
# ---------------------------------------------------------------------------


def _openai_choice(index: int, text: str | None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "index": index,
        "message": {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "annotations": [],
        },
        "logprobs": None,
        "finish_reason": finish_reason,
    }


def _openai_completion(
    ctx: _Ctx,
    choices: list[dict[str, Any]],
    model: str | None,
    usage: tuple[int, int],
) -> _Response:
    resolved = ctx.model(model, "gpt-4o-mini-2024-07-18")
    obj = {
        "id": ctx.api._chatcmpl_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": resolved,
        "choices": choices,
        "usage": _openai_usage(*usage),
        "service_tier": "default",
        "system_fingerprint": ctx.api._fingerprint(resolved),
    }
    return _Response("openai", 200, _openai_json(obj), input_tokens=usage[0], output_tokens=usage[1])


def _openai_chunks(
    ctx: _Ctx,
    per_choice: list[list[str]],
    finish_reasons: list[str],
    model: str | None,
    include_usage: bool,
    usage: tuple[int, int],
) -> _Response:
    resolved = ctx.model(model, "gpt-4o-mini-2024-07-18")
    base = {
        "id": ctx.api._chatcmpl_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": resolved,
        "service_tier": "default",
        "system_fingerprint": ctx.api._fingerprint(resolved),
    }

    def chunk(choices: list[dict[str, Any]], usage_obj: Any = None) -> bytes:
        obj = dict(base, choices=choices)
        if include_usage:
            obj["usage"] = usage_obj
        return f"data: {_dumps_compact(obj)}\n\n".encode()

    def choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    events = [chunk([choice(i, {"role": "assistant", "content": "", "refusal": None})]) for i in range(len(per_choice))]
    longest = max((len(p) for p in per_choice), default=0)
    for step in range(longest):
        for i, pieces in enumerate(per_choice):
            if step < len(pieces):
                events.append(chunk([choice(i, {"content": pieces[step]})]))
    for i in range(len(per_choice)):
        events.append(chunk([choice(i, {}, finish_reasons[i])]))
    if include_usage:
        events.append(chunk([], _openai_usage(*usage)))
    events.append(b"data: [DONE]\n\n")
    return _Response("openai", 200, events=events, input_tokens=usage[0], output_tokens=usage[1])


def _json_for_schema(schema: Any, text: str, depth: int = 0) -> Any:
    """A value that fits a JSON schema (the subset structured outputs use), filled from the auto reply."""
    if not isinstance(schema, dict) or depth > 8:
        return text
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _json_for_schema(schema[key][0], text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        return {name: _json_for_schema(sub, text, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [_json_for_schema(schema.get("items"), text, depth + 1)]
    if kind == "integer":
        return len(text.split())
    if kind == "number":
        return round(len(text) / 10, 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text


def _json_reply(req: dict[str, Any], text: str) -> str | None:
    """The reply as JSON when `response_format` asks for JSON (json_object or json_schema), else None."""
    fmt = req.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": text})
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return json.dumps(_json_for_schema(schema if schema is not None else {"type": "object"}, text))
    return None


def _openai_auto(ctx: _Ctx) -> _Response:
    req = ctx.request
    n = req.get("n")
    n = n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1
    limit = _max_tokens(req, "max_completion_tokens", "max_tokens")
    per_choice: list[list[str]] = []
    finish: list[str] = []
    texts = _auto_texts(ctx.api.seed, req, n)
    texts = [_json_reply(req, text) or text for text in texts]
    for text in texts:
        pieces = _split_pieces(text)
        if limit is not None and len(pieces) > limit:
            pieces, reason = pieces[:limit], "length"
        else:
            reason = "stop"
        per_choice.append(pieces)
        finish.append(reason)
    usage = (_prompt_tokens(req), sum(len(p) for p in per_choice))
    if req.get("stream") is True:
        opts = req.get("stream_options")
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        return _openai_chunks(ctx, per_choice, finish, None, include_usage, usage)
    choices = [_openai_choice(i, "".join(p), finish[i]) for i, p in enumerate(per_choice)]
    return _openai_completion(ctx, choices, None, usage)


def _openai_error_response(
    status: int,
    message: str,
    type: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    authenticated: bool = True,
) -> _Response:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return _Response(
        "openai",
        status,
        _openai_json(body),
        extra_headers=dict(headers or {}),
        authenticated=authenticated,
    )


def _openai_validate(ctx: _Ctx) -> _Response | None:
    if not isinstance(ctx.body, dict):
        return _openai_error_response(400, _OPENAI_BAD_JSON, "invalid_request_error")
    if not ctx.body.get("model"):
        return _openai_error_response(400, "you must provide a model parameter", "invalid_request_error")
    if not isinstance(ctx.body.get("messages"), list):
        return _openai_error_response(
            400,
            "Missing required parameter: 'messages'.",
            "invalid_request_error",
            code="missing_required_parameter",
            param="messages",
        )
    return None


# ---------------------------------------------------------------------------
# Anthropic rendering
# ---------------------------------------------------------------------------


def _sse_pad(rng: random.Random) -> str:
    # The real API pads each data line with a random run of spaces before the final brace.
    return " " * rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15])


def _anthropic_event(name: str, obj: dict[str, Any], rng: random.Random) -> bytes:
    data = _dumps_compact(obj)
    data = data[:-1] + _sse_pad(rng) + "}"
    return f"event: {name}\ndata: {data}\n\n".encode()


def _anthropic_message_obj(
    ctx: _Ctx,
    model: str | None,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    usage: dict[str, Any],
) -> dict[str, Any]:
    return {
        "model": ctx.model(model, "claude-haiku-4-5-20251001"),
        "id": ctx.api._msg_id(),
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": None,
        "usage": usage,
    }


def _anthropic_json(
    ctx: _Ctx, blocks: list[dict[str, Any]], model: str | None, usage: dict[str, Any], stop_reason: str
) -> _Response:
    obj = _anthropic_message_obj(ctx, model, blocks, stop_reason, usage)
    return _Response(
        "anthropic",
        200,
        _dumps_compact(obj).encode(),
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
    )


def _anthropic_sse(
    ctx: _Ctx, pieces: list[str], model: str | None, usage: dict[str, Any], stop_reason: str
) -> _Response:
    rng = ctx.api._rng_fork()
    output_tokens = int(usage.get("output_tokens") or 0)
    start_usage = dict(usage, output_tokens=min(max(output_tokens, 1), rng.choice([1, 2, 3])))
    delta_usage = {
        key: usage[key]
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
        if key in usage
    }
    message = _anthropic_message_obj(ctx, model, [], None, start_usage)
    events = [
        _anthropic_event("message_start", {"type": "message_start", "message": message}, rng),
        _anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            rng,
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    for piece in pieces:
        events.append(
            _anthropic_event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                rng,
            )
        )
    events.append(_anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}, rng))
    events.append(
        _anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None, "stop_details": None},
                "usage": delta_usage,
            },
            rng,
        )
    )
    events.append(_anthropic_event("message_stop", {"type": "message_stop"}, rng))
    return _Response(
        "anthropic",
        200,
        events=events,
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=output_tokens,
    )


def _anthropic_auto(ctx: _Ctx) -> _Response:
    req = ctx.request
    pieces = _split_pieces(_auto_texts(ctx.api.seed, req, 1)[0])
    limit = _max_tokens(req, "max_tokens")
    stop_reason = "end_turn"
    if limit is not None and len(pieces) > limit:
        pieces, stop_reason = pieces[:limit], "max_tokens"
    usage = _anthropic_usage(_prompt_tokens(req), len(pieces), None)
    if req.get("stream") is True:
        return _anthropic_sse(ctx, pieces, None, usage, stop_reason)
    return _anthropic_json(ctx, [{"type": "text", "text": "".join(pieces)}], None, usage, stop_reason)


def _anthropic_error_response(
    api: FakeAPI,
    status: int,
    type: str,
    message: str,
    headers: dict[str, str] | None = None,
    authenticated: bool = True,
    request_id: str | None = None,
) -> _Response:
    rid = request_id or api._anthropic_request_id()
    body = {"type": "error", "error": {"type": type, "message": message}, "request_id": rid}
    extra = {"request-id": rid}
    if status in (400, 401, 403, 404, 413):
        extra["x-should-retry"] = "false"
    extra.update(headers or {})
    return _Response(
        "anthropic",
        status,
        _dumps_compact(body).encode(),
        extra_headers=extra,
        authenticated=authenticated,
    )


def _anthropic_validate(ctx: _Ctx) -> _Response | None:
    if not isinstance(ctx.body, dict):
        return _anthropic_error_response(
            ctx.api, 400, "invalid_request_error", "There was an error parsing the body of your request."
        )
    for key in ("max_tokens", "messages", "model"):
        if key not in ctx.body:
            return _anthropic_error_response(ctx.api, 400, "invalid_request_error", f"{key}: Field required")
    if not isinstance(ctx.body.get("messages"), list):
        return _anthropic_error_response(
            ctx.api, 400, "invalid_request_error", "messages: Input should be a valid list"
        )
    return None


# ---------------------------------------------------------------------------
# Public reply builders
# ---------------------------------------------------------------------------


def openai_chat(
    texts: list[str | None],
    *,
    model: str | None = None,
    usage: tuple[int, int] | None = None,
    order: list[int] | None = None,
) -> Reply:
    """A non-streaming ``chat.completion`` with one choice per text (None -> content null).

    ``order`` lists the choice indexes in the order they appear in ``choices``.
    """
    texts = list(texts)
    indexes = list(order) if order is not None else list(range(len(texts)))
    for i in indexes:
        if not 0 <= i < len(texts):
            raise ValueError(f"order index {i} out of range for {len(texts)} texts")

    def render(ctx: _Ctx) -> _Response:
        choices = [_openai_choice(i, texts[i]) for i in indexes]
        tokens = usage or (_prompt_tokens(ctx.request), sum(_count_tokens(t or "") for t in texts))
        return _openai_completion(ctx, choices, model, tokens)

    return Reply("openai", "chat", render)


def openai_stream(
    deltas: list[str],
    *,
    model: str | None = None,
    include_usage: bool = False,
    usage: tuple[int, int] | None = None,
) -> Reply:
    """A streamed single-choice completion whose content deltas are ``deltas``."""
    deltas = list(deltas)

    def render(ctx: _Ctx) -> _Response:
        tokens = usage or (_prompt_tokens(ctx.request), len(deltas))
        return _openai_chunks(ctx, [deltas], ["stop"], model, include_usage, tokens)

    return Reply("openai", "stream", render)


def openai_error(
    status: int,
    *,
    message: str,
    type: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An OpenAI error reply: ``{"error": {"message", "type", "param", "code"}}``."""

    def render(ctx: _Ctx) -> _Response:
        return _openai_error_response(status, message, type, code, param, headers)

    return Reply("openai", "error", render)


def anthropic_message(
    blocks: list[dict],
    *,
    model: str | None = None,
    usage: dict | None = None,
    stop_reason: str = "end_turn",
) -> Reply:
    """A non-streaming Anthropic message with the given content blocks.

    Blocks are served as given; a ``tool_use`` block without ``id`` gets a fresh
    ``toolu_01...`` id and a ``thinking`` block without ``signature`` gets one.
    ``usage`` entries override the computed usage fields.
    """
    blocks = [dict(b) for b in blocks]

    def render(ctx: _Ctx) -> _Response:
        content = []
        for block in blocks:
            block = dict(block)
            if block.get("type") == "tool_use":
                block.setdefault("id", "toolu_01" + ctx.api._rand(_BASE58, 22))
                block.setdefault("input", {})
            elif block.get("type") == "thinking":
                block.setdefault("signature", ctx.api._rand(_ALNUM + "+/", 344))
            content.append(block)
        out = sum(
            _count_tokens(str(b.get("text") or b.get("thinking") or json.dumps(b.get("input", "")))) for b in content
        )
        tokens = _anthropic_usage(_prompt_tokens(ctx.request), out, usage)
        return _anthropic_json(ctx, content, model, tokens, stop_reason)

    return Reply("anthropic", "message", render)


def anthropic_stream(
    deltas: list[str],
    *,
    model: str | None = None,
    usage: dict | None = None,
) -> Reply:
    """A streamed Anthropic message with one text block built from ``deltas``."""
    deltas = list(deltas)

    def render(ctx: _Ctx) -> _Response:
        tokens = _anthropic_usage(_prompt_tokens(ctx.request), len(deltas), usage)
        return _anthropic_sse(ctx, deltas, model, tokens, "end_turn")

    return Reply("anthropic", "stream", render)


def anthropic_error(
    status: int,
    *,
    type: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An Anthropic error: ``{"type":"error","error":{...},"request_id":"req_011C..."}``."""

    def render(ctx: _Ctx) -> _Response:
        return _anthropic_error_response(ctx.api, status, type, message, headers)

    return Reply("anthropic", "error", render)


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive client connections must not block shutdown
    allow_reuse_address = True

    api: FakeAPI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.api._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.api._track(self.connection, add=False)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        recorded = RecordedRequest(self.command, self.path, headers, body)
        api = self.server.api
        api._record(recorded)
        try:
            response = api._dispatch(recorded)
        except Exception as exc:  # surfaces as a 500, and is kept for the test to inspect
            api.errors.append(exc)
            response = _openai_error_response(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            )
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _send(self, response: _Response) -> None:
        api = self.server.api
        reason = _REASONS.get(response.status)
        if reason is None:
            try:
                reason = http.HTTPStatus(response.status).phrase
            except ValueError:
                reason = ""
        self.send_response_only(response.status, reason)
        for name, value in api._headers_for(response):
            self.send_header(name, value)
        self.end_headers()
        if response.events is None:
            self.wfile.write(response.body)
            self.wfile.flush()
            return
        for event in response.events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeAPI:
    """Local impersonation of the OpenAI Chat Completions and Anthropic Messages APIs."""

    def __init__(self, *, seed: int = 0, by_provider: bool = False) -> None:
        self.seed = seed
        # by_provider: a scripted reply goes to the next request of its own provider (the OpenAI and
        # Anthropic replies of one check are then two queues); otherwise to the next request at all.
        self.by_provider = by_provider
        self.base_url = ""
        self.openai_base_url = ""
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised while building replies
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._rng = random.Random()  # ids and header values: random is fine
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._served = 0
        # Account-level values stay constant for the lifetime of one fake "account".
        self.openai_organization = "user-" + self._rand(_LOWER_ALNUM, 24)
        self.openai_project = "proj_" + self._rand(_ALNUM, 24)
        self.anthropic_organization_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._fingerprints: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> FakeAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", 0), _Handler)
        server.api = self
        self._server = server
        port = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.openai_base_url = self.base_url + "/v1"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeAPI", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- scripting ---------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"expected a Reply, got {type(reply).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Drop the scripted replies not yet served."""
        with self._lock:
            self._queue.clear()

    def _next_reply(self, provider: str) -> Reply | None:
        if not self.by_provider:
            return self._queue.popleft() if self._queue else None
        for reply in self._queue:
            if reply.provider == provider:
                self._queue.remove(reply)
                return reply
        return None

    @property
    def pending(self) -> int:
        """Number of scripted replies not yet served."""
        with self._lock:
            return len(self._queue)

    # -- internals ---------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _rand(self, alphabet: str, length: int) -> str:
        with self._lock:
            return "".join(self._rng.choices(alphabet, k=length))

    def _rng_fork(self) -> random.Random:
        with self._lock:
            return random.Random(self._rng.getrandbits(64))

    def _randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    def _chatcmpl_id(self) -> str:
        return "chatcmpl-" + self._rand(_ALNUM, 29)

    def _msg_id(self) -> str:
        return "msg_01" + self._rand(_BASE58, 22)

    def _anthropic_request_id(self) -> str:
        return "req_011C" + self._rand(_BASE58, 20)

    def _fingerprint(self, model: str) -> str:
        with self._lock:
            if model not in self._fingerprints:
                rng = random.Random(f"fp|{self.seed}|{model}")
                self._fingerprints[model] = "fp_" + "".join(rng.choices(_HEX, k=10))
            return self._fingerprints[model]

    def _dispatch(self, req: RecordedRequest) -> _Response:
        path = req.path.split("?", 1)[0].rstrip("/")
        if path == OPENAI_CHAT_PATH:
            provider = "openai"
        elif path == ANTHROPIC_MESSAGES_PATH:
            provider = "anthropic"
        elif "x-api-key" in req.headers or "anthropic-version" in req.headers:
            provider = "anthropic"
        else:
            provider = "openai"

        auth = req.headers.get("authorization", "")
        has_auth = bool(req.headers.get("x-api-key", "").strip()) or (
            auth[:7].lower() == "bearer " and bool(auth[7:].strip())
        )
        if not has_auth:
            if provider == "openai":
                return _openai_error_response(401, _OPENAI_NO_KEY, "invalid_request_error", authenticated=False)
            return _anthropic_error_response(
                self, 401, "authentication_error", "x-api-key header is required", authenticated=False
            )

        known = req.method == "POST" and path in (OPENAI_CHAT_PATH, ANTHROPIC_MESSAGES_PATH)
        if not known:
            if provider == "openai":
                return _openai_error_response(404, f"Invalid URL ({req.method} {req.path})", "invalid_request_error")
            return _anthropic_error_response(self, 404, "not_found_error", "Not Found")

        try:
            body = json.loads(req.body.decode("utf-8")) if req.body else None
        except (UnicodeDecodeError, ValueError):
            body = None
        ctx = _Ctx(self, body)

        with self._lock:
            reply = self._next_reply(provider)
            self._served += 1
        if reply is not None:
            return reply.render(ctx)

        if provider == "openai":
            return _openai_validate(ctx) or _openai_auto(ctx)
        return _anthropic_validate(ctx) or _anthropic_auto(ctx)

    # -- headers -----------------------------------------------------------

    def _cf_ray(self) -> str:
        return self._rand(_HEX, 16) + "-SJC"

    def _headers_for(self, resp: _Response) -> list[tuple[str, str]]:
        if resp.provider == "anthropic":
            headers = self._anthropic_headers(resp)
        else:
            headers = self._openai_headers(resp)
        # Caller-provided headers replace same-named defaults (case-insensitively) or are appended.
        for name, value in resp.extra_headers.items():
            idx = [i for i, (n, _) in enumerate(headers) if n.lower() == name.lower()]
            if idx:
                headers[idx[0]] = (headers[idx[0]][0], value)
                for i in reversed(idx[1:]):
                    del headers[i]
            else:
                headers.append((name, value))
        return headers

    def _framing(self, resp: _Response, content_type: str) -> list[tuple[str, str]]:
        headers = [("Date", email.utils.formatdate(usegmt=True)), ("Content-Type", content_type)]
        if resp.streaming:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(resp.body))))
        headers.append(("Connection", "keep-alive"))
        return headers

    def _openai_headers(self, resp: _Response) -> list[tuple[str, str]]:
        now = time.time()
        if resp.streaming:
            content_type = "text/event-stream; charset=utf-8"
        elif resp.status >= 400:
            content_type = "application/json; charset=utf-8"
        else:
            content_type = "application/json"
        headers = self._framing(resp, content_type)
        if resp.authenticated:
            processing = self._randint(150, 900) if resp.status < 400 else self._randint(5, 60)
            with self._lock:
                served = self._served
            req_limit, tok_limit = 10000, 200000
            req_remaining = max(req_limit - 1 - (served - 1) % 7, 0)
            tok_remaining = max(tok_limit - resp.input_tokens - resp.output_tokens - 16, 0)
            headers += [
                ("access-control-expose-headers", "X-Request-ID"),
                ("openai-organization", self.openai_organization),
                ("openai-processing-ms", str(processing)),
                ("openai-project", self.openai_project),
                ("openai-version", "2020-10-01"),
                ("x-envoy-upstream-service-time", str(processing + self._randint(2, 20))),
                ("x-ratelimit-limit-requests", str(req_limit)),
                ("x-ratelimit-limit-tokens", str(tok_limit)),
                ("x-ratelimit-remaining-requests", str(req_remaining)),
                ("x-ratelimit-remaining-tokens", str(tok_remaining)),
                ("x-ratelimit-reset-requests", _duration((req_limit - req_remaining) * 8.64)),
                ("x-ratelimit-reset-tokens", f"{max((tok_limit - tok_remaining) * 3 // 100, 1)}ms"),
            ]
        if resp.status >= 400:
            headers.append(("vary", "Origin"))
        expires = email.utils.formatdate(now + 1800, usegmt=True)
        # Cookie dates use the "Tue, 30-Jan-24 22:29:57 GMT" form.
        day, rest = expires.split(", ", 1)
        d, mon, year, clock, _ = rest.split(" ")
        cookie_expires = f"{day}, {d}-{mon}-{year[2:]} {clock} GMT"
        cf_bm = f"{self._rand(_ALNUM + '_', 43)}-{int(now)}-1.0.1.1-{self._rand(_ALNUM + '._', 86)}"
        cfuvid = f"{self._rand(_ALNUM + '._', 43)}-{int(now * 1000)}-0.0.1.1-604800000"
        headers += [
            ("x-request-id", "req_" + self._rand(_HEX, 32)),
            ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
            ("CF-Cache-Status", "DYNAMIC"),
            (
                "Set-Cookie",
                f"__cf_bm={cf_bm}; path=/; expires={cookie_expires}; domain=.api.openai.com; "
                "HttpOnly; Secure; SameSite=None",
            ),
            (
                "Set-Cookie",
                f"_cfuvid={cfuvid}; path=/; domain=.api.openai.com; HttpOnly; Secure; SameSite=None",
            ),
            ("X-Content-Type-Options", "nosniff"),
            ("Server", "cloudflare"),
            ("CF-RAY", self._cf_ray()),
            ("alt-svc", 'h3=":443"; ma=86400'),
        ]
        return headers

    def _anthropic_headers(self, resp: _Response) -> list[tuple[str, str]]:
        now = time.time()
        if resp.streaming:
            content_type = "text/event-stream; charset=utf-8"
        else:
            content_type = "application/json"
        headers = self._framing(resp, content_type)
        if resp.streaming:
            headers.append(("Cache-Control", "no-cache"))
        request_id = resp.extra_headers.get("request-id") or self._anthropic_request_id()
        if resp.authenticated:
            reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            limits = {"input-tokens": 2000000, "output-tokens": 400000, "requests": 4000}
            limits["tokens"] = limits["input-tokens"] + limits["output-tokens"]
            remaining = {
                "input-tokens": limits["input-tokens"],
                "output-tokens": limits["output-tokens"],
                "requests": limits["requests"] - 1,
                "tokens": limits["tokens"],
            }
            headers.append(("anthropic-organization-id", self.anthropic_organization_id))
            for kind in ("input-tokens", "output-tokens", "requests", "tokens"):
                headers += [
                    (f"anthropic-ratelimit-{kind}-limit", str(limits[kind])),
                    (f"anthropic-ratelimit-{kind}-remaining", str(remaining[kind])),
                    (f"anthropic-ratelimit-{kind}-reset", reset),
                ]
        upstream = self._randint(300, 1200) if resp.status < 400 else self._randint(8, 40)
        cfuvid = f"{self._rand(_ALNUM + '_', 43)}-{now:.7f}-1.0.1.1-{self._rand(_ALNUM + '._', 43)}"
        headers += [
            ("request-id", request_id),
            ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
            ("x-envoy-upstream-service-time", str(upstream)),
            ("server-timing", f"x-originResponse;dur={upstream + self._randint(1, 4)}"),
            ("cf-cache-status", "DYNAMIC"),
            (
                "set-cookie",
                f"_cfuvid={cfuvid}; HttpOnly; SameSite=None; Secure; Path=/; Domain=api.anthropic.com",
            ),
            ("X-Robots-Tag", "none"),
            ("Server", "cloudflare"),
            ("CF-RAY", self._cf_ray()),
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        ]
        return headers
