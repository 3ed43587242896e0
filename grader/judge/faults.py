"""Scripted API failures, request by request, served in front of the check's cassette.

A check declares what the API does to each request it receives, readable in the test itself:

    @pytest.mark.faults("429 retry-after=2", "503", "read-timeout", "200")

Steps: a status code (`429`, `500`, `529`, ...) answered with the provider's real error JSON and
headers, plus any `name=value` headers (`retry-after=2`, `retry-after-ms=1500`, and
`retry-after=date+5`: an HTTP date 5 s after the frozen clock's now); `read-timeout`
(httpx2.ReadTimeout); `connect-error` (httpx2.ConnectError); `drop` (a 200 whose body breaks
midway with httpx2.RemoteProtocolError); `drop events=N` (the cassette's recorded stream, broken
after its first N SSE events: see grader/judge/streams.py); `200`: passed on to the cassette (vcrpy),
which answers.

Served by patching `httpx2.HTTPTransport.handle_request` and its async twin (both SDKs use
httpx2; respx cannot see them), stacked over vcrpy's patch, so clients the grader hands in and
clients a student builds are both covered. Every request is counted: a step never reached, or a
request beyond the script, becomes feedback that fails the check.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

from grader import matching
from grader.clock import next_event
from grader.errors import StaffError
from grader.judge import streams

CASSETTE = "cassette"
STATUS = "status"
READ_TIMEOUT = "read-timeout"
CONNECT_ERROR = "connect-error"
DROP = "drop"
_KEYWORDS = (READ_TIMEOUT, CONNECT_ERROR, DROP)

RETRYABLE_STATUSES = frozenset({408, 409, 429})
PERMANENT_HTTPX_STATUSES = frozenset({400, 401, 403, 404, 413, 422})

# What each provider's API answers (error type, code, message); taken from real error replies.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: (
        "invalid_request_error",
        None,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    ),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-test-****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: ("request_forbidden", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    408: ("invalid_request_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Another request with the same idempotency key is in progress."),
    413: ("invalid_request_error", None, "Request too large. Reduce the size of your request."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-grader on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "messages.0: Input does not match the expected shape."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: {model}"),
    408: ("timeout_error", "Request timed out."),
    409: ("conflict_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    422: ("invalid_request_error", "Unprocessable entity."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute. "
        "For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_HEX = "0123456789abcdef"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Step:
    """One scripted answer."""

    text: str
    kind: str  # cassette | status | read-timeout | connect-error | drop
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    events: int | None = None  # drop events=N: the recorded stream, broken after N events


def parse_step(text: str, *, where: str = "") -> Step:
    """A step from its text; StaffError naming the step and the check when it does not parse."""
    origin = f" in {where}" if where else ""
    if not isinstance(text, str) or not text.split():
        raise StaffError(f"fault step {text!r}{origin} is empty or not a string")
    head, *rest = text.split()
    headers: list[tuple[str, str]] = []
    for token in rest:
        name, sep, value = token.partition("=")
        if not sep or not name or not value:
            raise StaffError(f"fault step {text!r}{origin}: {token!r} is not a header written name=value")
        if value.startswith("date"):
            try:
                float(value[4:])
            except ValueError:
                raise StaffError(f"fault step {text!r}{origin}: {value!r} must be date+N or date-N (seconds)") from None
        headers.append((name.lower(), value))
    if head == DROP and len(headers) == 1 and headers[0][0] == "events":
        count = headers[0][1]
        if not count.isdigit():
            raise StaffError(f"fault step {text!r}{origin}: events={count} must be a whole number of SSE events")
        return Step(text, DROP, events=int(count))
    if head in _KEYWORDS:
        if headers:
            raise StaffError(f"fault step {text!r}{origin}: {head} takes no headers")
        return Step(text, head)
    if not (head.isdigit() and len(head) == 3 and 200 <= int(head) <= 599):
        raise StaffError(
            f"fault step {text!r}{origin}: {head!r} is not a status code (200-599) or one of {', '.join(_KEYWORDS)}"
        )
    if head == "200":
        if headers:
            raise StaffError(f"fault step {text!r}{origin}: a 200 comes from the cassette and takes no headers")
        return Step(text, CASSETTE, 200)
    return Step(text, STATUS, int(head), tuple(headers))


def parse_script(steps: Sequence[object], *, where: str = "") -> tuple[Step, ...]:
    return tuple(parse_step(s, where=where) for s in steps)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Served:
    """One request the code under test made, and what it was answered."""

    attempt: int  # 1-based
    step: Step | None  # None: beyond the script (or an attempt that made no request)
    provider: str | None
    stream: bool
    at: float  # the clock's time.time() when it was answered
    seq: int
    headers: tuple[tuple[str, str], ...] = ()  # the hint headers actually sent (dates resolved)
    label: str = ""  # for attempts the check reports itself (no HTTP request)
    outcome_override: str | None = None
    hint: float | None = None  # the wait the script's headers ask for, in seconds (see script_hint)

    def answer(self) -> str:
        """What the server did, in the student's words."""
        if self.label:
            return self.label
        if self.step is None:
            return "400 (request beyond this check's script)"
        hints = ", ".join(f"{n}: {v}" for n, v in self.headers if n.startswith("retry-after"))
        return {
            CASSETTE: "200 OK (the recorded reply)",
            READ_TIMEOUT: "read timeout (no reply in time)",
            CONNECT_ERROR: "connection refused",
            DROP: (
                f"connection dropped after {self.step.events} event(s) of the recorded stream"
                if self.step.events is not None
                else "connection dropped mid-reply" + (" (a stream)" if self.stream else "")
            ),
        }.get(self.step.kind, f"{self.step.status}" + (f" with {hints}" if hints else " (no retry hint)"))

    def outcome(self) -> str:
        """success | retryable | permanent, under the course's policy."""
        if self.outcome_override is not None:
            return self.outcome_override
        if self.step is None:
            return "permanent"
        kind, status = self.step.kind, self.step.status
        if kind == CASSETTE:
            return "success"
        if kind == DROP and self.provider == "anthropic" and self.stream:
            return "permanent"  # anthropic raises the raw httpx2 error from a broken stream
        if kind in _KEYWORDS:
            return "retryable"
        assert status is not None
        return "retryable" if status in RETRYABLE_STATUSES or 500 <= status <= 599 else "permanent"


class _BrokenSync(httpx2.SyncByteStream):
    def __init__(self, head: bytes, error: str) -> None:
        self._head, self._error = head, error

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        raise httpx2.RemoteProtocolError(self._error)


class _BrokenAsync(httpx2.AsyncByteStream):
    def __init__(self, head: bytes, error: str) -> None:
        self._head, self._error = head, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._head
        raise httpx2.RemoteProtocolError(self._error)


@dataclass
class FaultInjector:
    """One check's script and what its requests were answered."""

    script: tuple[Step, ...]
    seed: str = ""
    now: Callable[[], float] = time.time
    served: list[Served] = field(default_factory=list)
    policy: Any = None  # a timeline.Policy once the check declares it (for the allowed ranges)
    call_starts: set[int] = field(default_factory=set)  # indexes into `served` where the check called anew

    # -- what the check reads --------------------------------------------------

    @property
    def requests(self) -> int:
        """HTTP requests made (attempts the check reported itself are not counted)."""
        return sum(1 for s in self.served if not s.label)

    def beyond(self) -> list[Served]:
        return [s for s in self.served if s.step is None and not s.label]

    def notes(self, *, judging_retries: bool = True, ran_to_end: bool = True) -> list[str]:
        """Feedback that fails the check: requests beyond the script, steps never reached.

        The advice about retrying is given only where the check judges a retry loop (`judging_retries`).
        Steps never reached count only when the check ran to its end (`ran_to_end`): one its own assertion
        stopped never made the calls that would have reached them.
        """
        notes: list[str] = []
        made = self.requests
        if self.beyond():
            notes.append(
                f"Your code made {made} request(s); this check expected exactly {len(self.script)}. "
                "The extra request(s) were refused: do not retry after the last allowed attempt, or after an error "
                "that will not go away."
            )
        elif ran_to_end and made == 0 and self.script:
            notes.append(f"Your code made no request; this check expected {len(self.script)}.")
        elif ran_to_end and made < len(self.script):
            advice = (
                " It stopped retrying too early (count the retries against max_retries, and retry every "
                "retryable error)."
                if judging_retries
                else ""
            )
            notes.append(f"Your code made {made} request(s); this check expected {len(self.script)}.{advice}")
        return notes

    def new_call(self) -> None:
        """The check calls the code under test again: what follows is a new call, not a retry."""
        self.call_starts.add(len(self.served))

    def attempt(self, label: str, outcome: str) -> None:
        """Record an attempt that made no HTTP request (the check's own fn raised), for the timeline."""
        self.served.append(
            Served(len(self.served) + 1, None, None, False, self.now(), next_event(), (), label, outcome)
        )

    # -- serving -----------------------------------------------------------------

    def _take(self, request: httpx2.Request) -> Served:
        index = self.requests
        step = self.script[index] if index < len(self.script) else None
        path = urlsplit(str(request.url)).path
        body = _request_json(request)
        stream = isinstance(body, dict) and body.get("stream") is True
        at = self.now()
        headers = tuple((n, _resolve(v, at)) for n, v in step.headers) if step is not None else ()
        hint = script_hint(step.headers, at) if step is not None else None
        served = Served(
            len(self.served) + 1, step, matching.provider_of(path), stream, at, next_event(), headers, hint=hint
        )
        self.served.append(served)
        return served

    def _answer(self, served: Served, request: httpx2.Request, *, asynchronous: bool) -> httpx2.Response | None:
        """The scripted response; None means: pass the request on to the cassette."""
        step = served.step
        provider = served.provider or "openai"
        model = _model_of(request)
        rng = random.Random(f"{self.seed}:{served.attempt}")
        if step is None:
            body, headers = _error(provider, 400, model, rng, served.at, len(self.script))
            return httpx2.Response(400, headers=headers, content=body, request=request)
        if step.kind == CASSETTE or (step.kind == DROP and step.events is not None):
            return None  # the cassette answers (a recorded stream to cut: see `_after`)
        if step.kind == READ_TIMEOUT:
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        if step.kind == CONNECT_ERROR:
            raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)
        if step.kind == DROP:
            head, headers, error = _partial(provider, served.stream, model, rng, served.at)
            stream: httpx2.SyncByteStream | httpx2.AsyncByteStream = (
                _BrokenAsync(head, error) if asynchronous else _BrokenSync(head, error)
            )
            return httpx2.Response(200, headers=headers, stream=stream, request=request)
        assert step.status is not None
        body, headers = _error(provider, step.status, model, rng, served.at, None)
        for name, value in served.headers:
            headers = [(n, v) for n, v in headers if n.lower() != name] + [(name, value)]
        return httpx2.Response(step.status, headers=headers, content=body, request=request)

    def _after(
        self, served: Served, request: httpx2.Request, response: httpx2.Response, *, asynchronous: bool
    ) -> httpx2.Response:
        """The cassette's answer as this step serves it: whole, or (drop events=N) broken after N events."""
        step = served.step
        if step is not None and step.kind == DROP and step.events is not None:
            return streams.cut_after(response, step.events, request=request, asynchronous=asynchronous)
        return response


def _literal_seconds(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def script_hint(headers: Sequence[tuple[str, str]], at: float) -> float | None:
    """The wait a step's own headers ask for, from the script's grammar (never from parsing a response).

    retry-after-ms wins when its value is a number; else retry-after: a number, or `date+N`, which is
    sent as an HTTP date with whole seconds (so it means the next whole second at or before now + N).
    """
    written = dict(headers)
    milliseconds = _literal_seconds(written.get("retry-after-ms", ""))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = written.get("retry-after")
    if value is None:
        return None
    if value.startswith("date"):
        return max(0.0, math.floor(at + float(value[4:])) - at)
    seconds = _literal_seconds(value)
    return None if seconds is None else max(0.0, seconds)


def _request_json(request: httpx2.Request) -> Any:
    try:
        return matching.parse_body(request.content)
    except httpx2.RequestNotRead:
        return None


def _model_of(request: httpx2.Request) -> str:
    body = _request_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else "gpt-4o-mini"


def _resolve(value: str, now: float) -> str:
    """`date+N` becomes the HTTP date N seconds after now; any other value is sent as written."""
    if value.startswith("date"):
        return email.utils.formatdate(now + float(value[4:]), usegmt=True)
    return value


def _ids(provider: str, rng: random.Random) -> list[tuple[str, str]]:
    if provider == "anthropic":
        return [("request-id", "req_011C" + "".join(rng.choice(_BASE58) for _ in range(22)))]
    return [("x-request-id", "req_" + "".join(rng.choice(_HEX) for _ in range(32)))]


def _common(provider: str, rng: random.Random, now: float, content_type: str) -> list[tuple[str, str]]:
    cf_ray = "".join(rng.choice(_HEX) for _ in range(16)) + "-SJC"
    return [
        ("date", email.utils.formatdate(now, usegmt=True)),
        ("content-type", content_type),
        ("connection", "keep-alive"),
        *_ids(provider, rng),
        ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
        ("cf-cache-status", "DYNAMIC"),
        ("server", "cloudflare"),
        ("cf-ray", cf_ray),
    ]


def _error(
    provider: str, status: int, model: str, rng: random.Random, now: float, script_length: int | None
) -> tuple[bytes, list[tuple[str, str]]]:
    """The provider's error JSON and headers for `status` (script_length: a request beyond the script)."""
    if provider == "anthropic":
        kind, message = _ANTHROPIC_ERRORS.get(status, ("api_error", "Internal server error"))
        if script_length is not None:
            kind, message = "invalid_request_error", _beyond_message(script_length)
        headers = _common(provider, rng, now, "application/json")
        request_id = dict(headers)["request-id"]
        payload: dict[str, Any] = {
            "type": "error",
            "error": {"type": kind, "message": message.format(model=model)},
            "request_id": request_id,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        if status in PERMANENT_HTTPX_STATUSES or script_length is not None:
            headers.append(("x-should-retry", "false"))
        if status == 429:
            headers += [
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))),
            ]
    else:
        kind, code, message = _OPENAI_ERRORS.get(status, _OPENAI_ERRORS[500])
        if script_length is not None:
            kind, code, message = "invalid_request_error", None, _beyond_message(script_length)
        error = {"message": message.format(model=model), "type": kind, "param": None, "code": code}
        body = (json.dumps({"error": error}, indent=4) + "\n").encode()
        headers = [*_common(provider, rng, now, "application/json; charset=utf-8"), ("vary", "Origin")]
        if status == 429:
            headers += [
                ("x-ratelimit-limit-requests", "3"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "20s"),
            ]
    headers.append(("content-length", str(len(body))))
    return body, headers


def _beyond_message(script_length: int) -> str:
    return f"grader: this check answers {script_length} request(s); this one is beyond them"


def _partial(
    provider: str, stream: bool, model: str, rng: random.Random, now: float
) -> tuple[bytes, list[tuple[str, str]], str]:
    """The first bytes of a reply, its headers, and the error the connection breaks with."""
    created = int(now)
    if provider == "anthropic":
        message_id = "msg_01" + "".join(rng.choice(_BASE58) for _ in range(22))
        if stream:
            start = {
                "type": "message_start",
                "message": {
                    "model": model,
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 12, "output_tokens": 1},
                },
            }
            head = f"event: message_start\ndata: {json.dumps(start, separators=(',', ':'))}\n\n".encode()
        else:
            fields = f'"model":"{model}","id":"{message_id}","type":"message","role":"assistant"'
            head = f'{{{fields},"content":[{{"type":'.encode()
    else:
        completion_id = "chatcmpl-" + "".join(rng.choice(_BASE58) for _ in range(29))
        if stream:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
            head = f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        else:
            head = f'{{\n  "id": "{completion_id}",\n  "object": "chat.completion",\n  "created": {created},\n'.encode()
    content_type = "text/event-stream; charset=utf-8" if stream else "application/json"
    headers = _common(provider, rng, now, content_type)
    if stream:
        headers.append(("transfer-encoding", "chunked"))
        error = "peer closed connection without sending complete message body (incomplete chunked read)"
    else:
        expected = len(head) * 6
        headers.append(("content-length", str(expected)))
        error = (
            "peer closed connection without sending complete message body: "
            f"received {len(head)} bytes, expected {expected}"
        )
    return head, headers, error


@contextmanager
def injecting(
    script: tuple[Step, ...], *, seed: str = "", now: Callable[[], float] = time.time
) -> Iterator[FaultInjector]:
    """Serve `script` to every httpx2 request until the block ends, over whatever is patched now (vcrpy)."""
    injector = FaultInjector(script, seed, now)
    below_sync = httpx2.HTTPTransport.handle_request
    below_async = httpx2.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx2.HTTPTransport, request: httpx2.Request) -> httpx2.Response:
        served = injector._take(request)
        response = injector._answer(served, request, asynchronous=False)
        if response is None:
            response = injector._after(served, request, below_sync(self, request), asynchronous=False)
        return response

    async def handle_async_request(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
        served = injector._take(request)
        response = injector._answer(served, request, asynchronous=True)
        if response is None:
            response = injector._after(served, request, await below_async(self, request), asynchronous=True)
        return response

    httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    try:
        yield injector
    finally:
        httpx2.HTTPTransport.handle_request = below_sync  # type: ignore[method-assign]
        httpx2.AsyncHTTPTransport.handle_async_request = below_async  # type: ignore[method-assign]
