"""Frames between the judge and the sandbox: a length, then one JSON object (never pickle).

Both ends use this module, so it stays small and imports nothing from the rest of the grader but the
gate, which decodes every frame. The
judge reads with a deadline and a size cap: a sandbox that floods or stalls the socket costs its
own check, never the judge's memory or time.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from grader import gate

MAX_FRAME = 8 * 1024 * 1024  # one message; a streamed body crosses chunk by chunk, far below this
_HEADER = 4


class WireClosed(Exception):
    """The other end closed the socket (the sandbox ended or crashed)."""


class WireTimeout(Exception):
    """No complete message arrived before the deadline."""


class WireViolation(Exception):
    """A message broke the protocol (too large, not JSON, not an object)."""


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise WireViolation(f"message of {len(data)} bytes exceeds the {MAX_FRAME}-byte frame limit")
    sock.sendall(len(data).to_bytes(_HEADER, "big") + data)


def _read_exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireTimeout()
            sock.settimeout(left)
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except TimeoutError:
            raise WireTimeout() from None
        except OSError as exc:
            raise WireClosed(str(exc)) from None
        if not chunk:
            raise WireClosed("end of stream")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def receive(sock: socket.socket, deadline: float | None = None) -> dict[str, Any]:
    return receive_sized(sock, deadline)[0]


def receive_sized(sock: socket.socket, deadline: float | None = None) -> tuple[dict[str, Any], int]:
    """One message, decoded by the gate, and its size in bytes (what the judge's budgets count)."""
    size = int.from_bytes(_read_exact(sock, _HEADER, deadline), "big")
    if size > MAX_FRAME:
        raise WireViolation(f"a message announced {size} bytes, over the {MAX_FRAME}-byte frame limit")
    try:
        return gate.decode(_read_exact(sock, size, deadline)), _HEADER + size
    except gate.GateError as exc:
        raise WireViolation(str(exc)) from None
