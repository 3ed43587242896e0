"""Streams judged as they stream: a gated SSE body that notices a consumer reading ahead.

vcrpy replays a recorded stream as one chunk, so replay alone cannot tell a generator that yields
each delta as it arrives from one that reads the whole reply first. A check that asks for the
`streams` fixture serves every streamed reply (`content-type: text/event-stream`) as a gated body
instead: the body is split on SSE event boundaries (the blank line) and handed to the SDK one
event per chunk, and the consumer (the suite driving the student's generator, or the writer the
suite passes to `chat_loop`) reports each value it receives. Event k is meant to be released only
after the text of every text-bearing event before it was delivered; asking for event k earlier is
recorded as buffering, and the check then fails with plain words. The gate checks rather than
waits: the body, the SDK and the student's generator share one thread, so a gate that blocked
would deadlock. It still serves, so the run finishes and the other assertions are judged too.

Only text-bearing events must be delivered before the next one: an OpenAI chunk whose
`choices[].delta.content` is a non-empty string, an Anthropic `content_block_delta` whose delta is
a non-empty `text_delta`. The role chunk, the finish and `include_usage` chunks, `[DONE]`, `ping`,
`message_start`, `content_block_start/stop`, `message_delta`, `message_stop`, thinking, signature
and tool-input deltas need no delivery. A delivery is any non-empty string; it settles the oldest
text event released and not yet delivered (so a consumer that changes a delta's text is judged by
the content checks, not reported as buffering), and a delivery with nothing owed is not banked.

What the SDKs ask for (measured with openai 3.57, anthropic 2.14, httpx2 2.16 by
tests/test_streams.py::test_what_the_sdks_ask_for; one chunk = one event):
- httpx2's `Response.iter_bytes()` (chunk_size None, no content-encoding) hands each chunk on
  unchanged and asks for the next one only when the decoder asks: no read-ahead.
- Both SDKs' SSE decoders (`_iter_chunks`) yield an event as soon as a chunk ends with a blank
  line, before asking for more; so the SDK asks for chunk k+1 only after the consumer took event k.
- openai (`chat.completions.create(stream=True)`): one ask per event up to `data: [DONE]`, then
  none (the stream breaks out of its loop and closes the response). The async client then drains
  the rest of an HTTP/1.1 body by iterating `response.stream` once more (for at most 0.1 s), so
  the gated body is one pass like a network stream: a second iteration goes on, never replays.
- anthropic (`messages.create(stream=True)`, `messages.stream()` and its `text_stream`): one ask
  per event, `ping` included, and one more after `message_stop` that finds the end.
So a correct generator never asks early, and a chunk that held several events (or half of one)
would only make the SDK ask less often, never earlier: the gate re-splits whatever the layer
below gives (vcrpy's single chunk, or a live server's chunks when recording).

`cut_after` serves the first N events of a recorded stream and then breaks the connection the
way a real peer does (`httpx2.RemoteProtocolError`, incomplete chunked read); the fault step
`drop events=N` uses it. openai wraps that error in `APIConnectionError`; anthropic lets it out.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

SSE_CONTENT_TYPE = "text/event-stream"
BROKEN_STREAM_MESSAGE = "peer closed connection without sending complete message body (incomplete chunked read)"
# Far more values than any recorded reply has deltas; a generator that goes on past it never ends.
DRIVE_LIMIT = 1000
WRITE_LIMIT = 10_000
_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")


@dataclass(frozen=True)
class Event:
    """One SSE event of a stream, as served (its blank-line terminator included)."""

    raw: bytes
    name: str | None  # the `event:` field (Anthropic), None when absent (OpenAI)
    data: str  # the `data:` lines joined
    text: str  # the reply text it carries ("" for events that carry none)


def _text_of(data: str) -> str:
    try:
        payload = json.loads(data)
    except ValueError:
        return ""  # `[DONE]`, or not JSON
    if not isinstance(payload, dict):
        return ""
    if payload.get("type") == "content_block_delta":
        delta = payload.get("delta")
        if isinstance(delta, dict) and delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
            return str(delta["text"])
        return ""
    choices = payload.get("choices")
    if not isinstance(choices, list):
        return ""
    parts = []
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


def parse_event(raw: bytes) -> Event:
    """An event from its bytes (`event:`/`data:` lines; comments and other fields ignored)."""
    name: str | None = None
    data: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        field_name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_name == "event":
            name = value
        elif field_name == "data":
            data.append(value)
    joined = "\n".join(data)
    return Event(raw, name, joined, _text_of(joined))


class _Splitter:
    """Bytes in, whole events out (a trailing part without its blank line comes out at the end)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        events = []
        while (found := _BOUNDARY.search(self._buffer)) is not None:
            events.append(self._buffer[: found.end()])
            self._buffer = self._buffer[found.end() :]
        return events

    def rest(self) -> list[bytes]:
        rest, self._buffer = self._buffer, b""
        return [rest] if rest.strip() else []


def split_events(body: bytes | str) -> list[Event]:
    """A whole SSE body split on event boundaries, for both providers' framing."""
    splitter = _Splitter()
    raw = splitter.feed(body.encode("utf-8") if isinstance(body, str) else body) + splitter.rest()
    return [parse_event(r) for r in raw]


def text_deltas(body: bytes | str, events: int | None = None) -> list[str]:
    """The non-empty text deltas of a stream's body (of its first `events` events when given), in order."""
    return [e.text for e in split_events(body)[:events] if e.text]


def is_stream(response: httpx2.Response) -> bool:
    return response.status_code == 200 and response.headers.get("content-type", "").startswith(SSE_CONTENT_TYPE)


# -- the gate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Early:
    """The consumer asked for event `asked` while the text of event `waiting` was not yet delivered."""

    asked: int
    waiting: int
    text: str


@dataclass
class Gate:
    """One streamed reply: what was released, what is owed, and every ask that came too early."""

    index: int  # which streamed reply of the check (0-based)
    released: list[Event] = field(default_factory=list)
    owed: list[int] = field(default_factory=list)  # released text events not yet delivered, oldest first
    early: list[Early] = field(default_factory=list)
    delivered: int = 0
    asks: int = 0  # times the SDK asked for another event after the first (the end included)
    delivered_at_last_release: int = 0  # deliveries made before the latest event was released

    def ask(self) -> None:
        """The consumer asks for the next event (or for the end)."""
        self.asks += 1
        if self.owed:
            first = self.owed[0]
            self.early.append(Early(len(self.released), first, self.released[first].text))

    def release(self, event: Event) -> None:
        self.released.append(event)
        self.delivered_at_last_release = self.delivered
        if event.text:
            self.owed.append(len(self.released) - 1)

    @property
    def whole_before_first(self) -> bool:
        """Every event served was read before the first text was delivered."""
        return self.delivered_at_last_release == 0 and any(e.text for e in self.released)

    def deliver(self, value: object) -> None:
        if type(value) is str and value and self.owed:
            self.owed.pop(0)
            self.delivered += 1


def _events(below: Iterable[bytes]) -> Iterator[bytes]:
    splitter = _Splitter()
    for chunk in below:
        yield from splitter.feed(chunk)
    yield from splitter.rest()


async def _aevents(below: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    splitter = _Splitter()
    async for chunk in below:
        for raw in splitter.feed(chunk):
            yield raw
    for raw in splitter.rest():
        yield raw


class _GatedSync(httpx2.SyncByteStream):
    """One event per chunk; each ask after the first is judged when the SDK makes it.

    One pass, like a network stream: iterating it again (openai's async drain after `[DONE]`
    does) goes on where the last iteration stopped instead of replaying the body.
    """

    def __init__(self, below: httpx2.SyncByteStream, gate: Gate) -> None:
        self._below, self._gate = below, gate
        self._events: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._events is None:
            self._events = _events(self._below)
        while True:
            if self._gate.released:
                self._gate.ask()
            raw = next(self._events, None)
            if raw is None:
                return
            self._gate.release(parse_event(raw))
            yield raw

    def close(self) -> None:
        self._below.close()


class _GatedAsync(httpx2.AsyncByteStream):
    def __init__(self, below: httpx2.AsyncByteStream, gate: Gate) -> None:
        self._below, self._gate = below, gate
        self._events: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._events is None:
            self._events = _aevents(aiter(self._below))
        while True:
            if self._gate.released:
                self._gate.ask()
            raw = await anext(self._events, None)
            if raw is None:
                return
            self._gate.release(parse_event(raw))
            yield raw

    async def aclose(self) -> None:
        await self._below.aclose()


class RecordingWriter(io.StringIO):
    """A text `out` that records every write and flush (and, for a gated check, delivers each write)."""

    def __init__(self, streams: Streams | None = None, *, limit: int = WRITE_LIMIT) -> None:
        super().__init__()
        self._streams = streams
        self._limit = limit
        self.log: list[tuple[str, str, int]] = []  # ("write", text, events released) | ("flush", "", ...)

    def _released(self) -> int:
        return self._streams.released if self._streams is not None else 0

    def write(self, s: str) -> int:
        written = super().write(s)  # a TypeError for anything but a str, as sys.stdout gives
        self.log.append(("write", s, self._released()))
        if len(self.log) > self._limit:
            pytest.fail(f"out was written more than {self._limit} times: does the chat loop ever end?")
        if self._streams is not None:
            self._streams.deliver(s)
        return written

    def flush(self) -> None:
        self.log.append(("flush", "", self._released()))

    def sandbox_writer(self) -> tuple[Callable[[str], int], Callable[[], None]]:
        """Handed to the sandbox as an `out` whose writes and flushes are reported here as they happen."""
        return self.write, self.flush

    @property
    def writes(self) -> list[str]:
        return [text for kind, text, _ in self.log if kind == "write" and text]

    def late(self) -> list[str]:
        """Writes not flushed before the stream went on (or never flushed at all)."""
        pending: list[tuple[str, int]] = []
        late: list[str] = []
        for kind, text, released in self.log:
            # Only reply text must be flushed as it streams; a newline alone (the end of a reply) may wait.
            if kind == "write" and text.strip("\n"):
                pending.append((text, released))
            elif kind == "flush":
                late.extend(t for t, at in pending if at < released)
                pending.clear()
        return late + [t for t, _ in pending]


@dataclass
class Streams:
    """One check's gated streams: every reply served, and what the consumer delivered."""

    show_expected: bool = True
    consumer: str = "generator"  # generator | writer: who delivers (for the feedback's words)
    gates: list[Gate] = field(default_factory=list)
    delivered_text: bool = False  # anything but newlines reached the consumer (print() never reaches `out`)

    @property
    def released(self) -> int:
        return sum(len(g.released) for g in self.gates)

    def open(self) -> Gate:
        gate = Gate(len(self.gates))
        self.gates.append(gate)
        return gate

    def deliver(self, value: object) -> None:
        """The consumer received `value` (a yielded delta, or a write to `out`)."""
        if type(value) is str and value.strip("\n"):
            self.delivered_text = True
        for gate in reversed(self.gates):
            if gate.owed:
                gate.deliver(value)
                return

    def drive(self, produced: object, *, limit: int = DRIVE_LIMIT, what: str = "your generator") -> list[Any]:
        """Every value `produced` yields, each delivered to the gate as it comes."""
        return drive(produced, deliver=self.deliver, limit=limit, what=what)

    def writer(self) -> RecordingWriter:
        """An `out` for chat_loop whose writes are the deliveries."""
        self.consumer = "writer"
        return RecordingWriter(self)

    def notes(self) -> list[str]:
        """Feedback that fails the check: a consumer that asked for more before delivering."""
        notes = []
        for gate in self.gates:
            if not gate.early:
                continue
            early = gate.early[0]
            generator = self.consumer == "generator"
            who = "Your generator" if generator else "Your chat loop"
            doing = "yielding" if generator else "writing to out"
            done = "yielded" if generator else "written to out"
            shown = f" ({early.text!r})" if self.show_expected else ""
            which = f"In reply {gate.index + 1}, it" if len(self.gates) > 1 else "It"
            if not generator and not self.delivered_text:
                notes.append(
                    "Your chat loop wrote none of the reply to `out` while it streamed: write each delta with "
                    "out.write(delta) to the `out` it is given (print() and sys.stdout do not reach it), then flush."
                )
                break
            if gate.whole_before_first:
                head = f"{who} waited for the whole reply before {doing}: it read the entire stream first."
            else:
                head = f"{who} read the stream ahead of what it had {done}."
            fix = (
                "yield each text delta inside the loop over the stream, as soon as its chunk arrives "
                "(no list(stream), no collecting first)"
                if generator
                else "write each delta to out and flush as soon as it arrives"
            )
            notes.append(
                f"{head} {which} asked for event {early.asked + 1} of the stream before the text of event "
                f"{early.waiting + 1}{shown} was {done}, so a user would see nothing until then: {fix}."
            )
        if len(notes) > 1:  # one explanation is enough; say how often it happened
            notes = [f"{notes[0]} The same happened in {len(notes) - 1} more repl{'y' if len(notes) == 2 else 'ies'}."]
        return notes


def _gated(
    response: httpx2.Response, request: httpx2.Request, streams: Streams, *, asynchronous: bool
) -> httpx2.Response:
    gate = streams.open()
    stream: httpx2.SyncByteStream | httpx2.AsyncByteStream = (
        _GatedAsync(response.stream, gate)  # type: ignore[arg-type]
        if asynchronous
        else _GatedSync(response.stream, gate)  # type: ignore[arg-type]
    )
    return httpx2.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        request=request,  # a transport's response has none yet (the client sets it)
        extensions=response.extensions,
    )


@contextmanager
def gating(streams: Streams) -> Iterator[Streams]:
    """Serve every streamed reply through a gate until the block ends, over whatever is patched now."""
    below_sync = httpx2.HTTPTransport.handle_request
    below_async = httpx2.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx2.HTTPTransport, request: httpx2.Request) -> httpx2.Response:
        response = below_sync(self, request)
        return _gated(response, request, streams, asynchronous=False) if is_stream(response) else response

    async def handle_async_request(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
        response = await below_async(self, request)
        return _gated(response, request, streams, asynchronous=True) if is_stream(response) else response

    httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    try:
        yield streams
    finally:
        httpx2.HTTPTransport.handle_request = below_sync  # type: ignore[method-assign]
        httpx2.AsyncHTTPTransport.handle_async_request = below_async  # type: ignore[method-assign]


# -- a stream that breaks after N events ---------------------------------------------------------


def _cut(events: Iterator[bytes], count: int) -> Iterator[bytes]:
    for served, raw in enumerate(events):
        if served == count:
            break
        yield raw
    raise httpx2.RemoteProtocolError(BROKEN_STREAM_MESSAGE)


async def _acut(events: AsyncIterator[bytes], count: int) -> AsyncIterator[bytes]:
    served = 0
    async for raw in events:
        if served == count:
            break
        served += 1
        yield raw
    raise httpx2.RemoteProtocolError(BROKEN_STREAM_MESSAGE)


class _CutSync(httpx2.SyncByteStream):
    """One pass, like a network stream (see _GatedSync)."""

    def __init__(self, below: httpx2.SyncByteStream, events: int) -> None:
        self._below = below
        self._events = _cut(_events(below), events)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._events

    def close(self) -> None:
        self._below.close()


class _CutAsync(httpx2.AsyncByteStream):
    def __init__(self, below: httpx2.AsyncByteStream, events: int) -> None:
        self._below = below
        self._events = _acut(_aevents(aiter(below)), events)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for raw in self._events:
            yield raw

    async def aclose(self) -> None:
        await self._below.aclose()


def cut_after(
    response: httpx2.Response, events: int, *, request: httpx2.Request, asynchronous: bool
) -> httpx2.Response:
    """`response` (a recorded reply) served up to its first `events` SSE events, then broken."""
    stream: httpx2.SyncByteStream | httpx2.AsyncByteStream = (
        _CutAsync(response.stream, events)  # type: ignore[arg-type]
        if asynchronous
        else _CutSync(response.stream, events)  # type: ignore[arg-type]
    )
    headers = [(n, v) for n, v in response.headers.multi_items() if n.lower() != "content-length"]
    return httpx2.Response(
        response.status_code, headers=headers, stream=stream, request=request, extensions=response.extensions
    )


def _kind(value: object) -> str:
    """The type of a value, or of the sandbox object a handle names."""
    return str(getattr(value, "_type", None) or type(value).__name__)


def drive(
    produced: object,
    *,
    deliver: Callable[[object], None] | None = None,
    limit: int = DRIVE_LIMIT,
    what: str = "your generator",
) -> list[Any]:
    """Every value `produced` yields, in order, bounded: one that yields more than `limit` fails the check.

    Each value is passed to `deliver` (a gate) before the next is asked for; the generator is closed
    at the end, so its stream is released whatever happened.
    """
    try:
        iterator = iter(produced)  # type: ignore[call-overload]
    except TypeError:
        raise AssertionError(
            f"{what} returned {_kind(produced)}, which cannot be iterated: write it as a generator "
            "that yields each text delta"
        ) from None
    values: list[Any] = []
    try:
        for value in itertools.islice(iterator, limit + 1):
            values.append(value)
            if deliver is not None:
                deliver(value)
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()
    if len(values) > limit:
        raise AssertionError(
            f"{what} yielded more than {limit} values and was stopped there, though the replies of this check have "
            "far fewer deltas: does it ever end? Stop when the stream ends."
        )
    return values
