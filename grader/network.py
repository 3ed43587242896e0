"""No network while grading: every socket connection, raw sockets included, is refused.

An audit hook sees `socket.connect`, `socket.sendto` and name lookups at the C level, so code that
bypasses HTTP libraries (or vcrpy) is stopped too. Audit hooks cannot be removed once added,
which is why this is only ever installed in the grading child process.
"""

from __future__ import annotations

import sys
from typing import Any

_BLOCKED_EVENTS = {
    "socket.connect": "connect to",
    "socket.sendto": "send a datagram to",
    "socket.sendmsg": "send a message to",
    "socket.getaddrinfo": "look up",
    "socket.gethostbyname": "look up",
    "socket.gethostbyaddr": "look up",
}


class NetworkBlockedError(ConnectionRefusedError):
    """Raised in place of a real connection while grading."""


attempts: list[str] = []
_installed = False


def _describe(event: str, args: tuple[Any, ...]) -> str:
    target: Any = (
        args[1] if event.startswith("socket.") and len(args) > 1 and event != "socket.getaddrinfo" else args[0]
    )
    if event == "socket.getaddrinfo":
        target = f"{args[0]}:{args[1]}" if len(args) > 1 and args[1] is not None else args[0]
    elif isinstance(target, tuple) and len(target) >= 2:
        target = f"{target[0]}:{target[1]}"
    return f"{_BLOCKED_EVENTS[event]} {target}"


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event in _BLOCKED_EVENTS:
        what = _describe(event, args)
        attempts.append(what)
        raise NetworkBlockedError(f"network access is blocked while grading (tried to {what})")


def install() -> None:
    """Block the network for the rest of this process."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def drain() -> list[str]:
    """The blocked attempts since the last drain."""
    taken = attempts[:]
    attempts.clear()
    return taken
