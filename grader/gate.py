"""The gate: every frame that crosses between judge and sandbox is decoded here, and only here.

Both sides import it (the sandbox through `wire`), so it imports nothing else of the grader. A frame
becomes plain JSON values (dict, list, str, int, float, bool, None) no deeper than MAX_DEPTH, with
no lone surrogate in any string; a message from the sandbox is then checked against the schema of
its `op` (types and sizes) before any of the judge's code reads it. What fails is a GateError, which
the judge turns into a failed check of the student's (their process broke the protocol), never a
RecursionError, a UnicodeEncodeError in a writer, or a grader problem.

msgspec decodes (it is strict JSON, refuses NaN, and bounds its own recursion with Python's limit,
raising RecursionError, caught here). It refuses lone surrogate escapes, which are legal JSON and
which Python's `json` writes for a str holding one: such a frame is decoded again by the standard
library and every lone surrogate becomes U+FFFD, so text a submission raised still reaches its
feedback, and no writer (terminal, --github, batch CSV) ever sees a str it cannot encode.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

MAX_DEPTH = 100  # JSON nesting; an honest value (20 levels of containers, 3 JSON levels each) stays under it
MAX_NAME = 1_000  # characters of an op, an event kind, a logger's name, an HTTP method or a header name
MAX_URL = 16_384
MAX_HEADERS = 500

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_DECODER = msgspec.json.Decoder()


class GateError(Exception):
    """A frame or message that the schema refuses (what was wrong, in a sentence)."""


def decode(data: bytes) -> dict[str, Any]:
    """One frame as plain JSON values; a GateError when it is not a JSON object within the limits."""
    try:
        message = _DECODER.decode(data)
        clean = True
    except RecursionError:
        raise GateError(f"a message was nested more than {MAX_DEPTH} deep") from None
    except (msgspec.DecodeError, msgspec.ValidationError):
        try:  # lone surrogate escapes: legal JSON that msgspec refuses (see the module's note)
            message = json.loads(data)
        except RecursionError:
            raise GateError(f"a message was nested more than {MAX_DEPTH} deep") from None
        except ValueError as exc:
            raise GateError(f"a message was not JSON ({exc})") from None
        clean = False
    if not isinstance(message, dict):
        raise GateError(f"a message was a JSON {type(message).__name__}, not an object")
    checked = _walk(message, clean)
    assert isinstance(checked, dict)
    return checked


def _walk(value: Any, clean: bool) -> Any:
    """Bound the depth without recursion; with `clean` False, also replace lone surrogates in every str."""
    if clean:  # the common case: only containers are visited, one level at a time
        level = [value]
        for _ in range(MAX_DEPTH + 1):
            below: list[Any] = []
            for container in level:
                inside = container.values() if type(container) is dict else container
                below += [c for c in inside if type(c) is dict or type(c) is list]
            if not below:
                return value
            level = below
        raise GateError(f"a message was nested more than {MAX_DEPTH} deep")
    root: list[Any] = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise GateError(f"a message was nested more than {MAX_DEPTH} deep")
        if isinstance(container, dict):
            if not clean:
                for key in [k for k in container if _SURROGATE.search(k)]:
                    container[_SURROGATE.sub("\ufffd", key)] = container.pop(key)
            items: Any = container.items()
        else:
            items = enumerate(container)
        for key, item in list(items):
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))
            elif not clean and isinstance(item, str) and _SURROGATE.search(item):
                container[key] = _SURROGATE.sub("\ufffd", item)
    return root[0]


def text(value: object, limit: int | None = None) -> str:
    """Submission text made safe to show: a str, lone surrogates replaced, control characters but newline
    and tab written as escapes (`\\x1b`), cut to `limit` characters. Every message a person reads that the
    sandbox wrote (an exception's text, an import error, a log record) passes here once."""
    shown = value if isinstance(value, str) else str(value)
    shown = _CONTROL.sub(lambda m: repr(m.group())[1:-1], _SURROGATE.sub("\ufffd", shown))
    if limit is not None and len(shown) > limit:
        shown = shown[:limit] + f"... ({len(shown) - limit} more characters cut)"
    return shown


# -- what the sandbox may send the judge, by `op` -----------------------------------------------------

class Ready(msgspec.Struct, tag_field="op", tag="ready"):
    pid: int | None = None


class Reply(msgspec.Struct, tag_field="op", tag="reply"):
    value: Any = msgspec.UNSET
    raised: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    import_error: str | msgspec.UnsetType = msgspec.UNSET
    stop: bool = False
    error: str | msgspec.UnsetType = msgspec.UNSET


class Http(msgspec.Struct, tag_field="op", tag="http"):
    """A request the sandbox's SDK client sent. Its clock reading (`now`) is accepted and never used."""

    method: Any
    url: Any
    headers: Any
    body: str
    now: Any = None


class Read(msgspec.Struct, tag_field="op", tag="read"):
    rid: int


class Event(msgspec.Struct, tag_field="op", tag="event"):
    ev: str


FromSandbox = Ready | Reply | Http | Read | Event


def from_sandbox(message: dict[str, Any]) -> FromSandbox:
    """`message` checked against the schema of its op; a GateError names what is wrong."""
    try:
        parsed: FromSandbox = msgspec.convert(message, FromSandbox, strict=True)
    except msgspec.ValidationError as exc:
        raise GateError(f"a message broke its schema: {exc}") from None
    return parsed


class Request(msgspec.Struct):
    method: str
    url: str
    headers: list[tuple[str, str]]


def request_parts(message: Http) -> tuple[str, str, list[tuple[str, str]]]:
    """An HTTP request's method, URL and headers, each within its limits; a GateError names what is not."""
    try:
        parts = msgspec.convert(
            {"method": message.method, "url": message.url, "headers": message.headers}, Request, strict=True
        )
    except msgspec.ValidationError as exc:
        raise GateError(f"a malformed request: {exc}") from None
    if len(parts.method) > MAX_NAME or len(parts.url) > MAX_URL or len(parts.headers) > MAX_HEADERS:
        raise GateError("a request with a method, URL or header list over the grader's limits")
    return parts.method, parts.url, parts.headers
