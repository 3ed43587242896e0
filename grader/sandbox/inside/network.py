"""No network while grading: every socket connection, raw sockets included, is refused.

An audit hook sees `socket.connect`, `socket.sendto` and name lookups at the C level, so code that
bypasses HTTP libraries (or vcrpy) is stopped too. Audit hooks cannot be removed once added,
which is why this is only ever installed in the grading child process; the hook keeps its own
references (a closure over immutable values), so student code cannot switch it off by editing
this module's globals.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_VERBS = (
    ("socket.connect", "connect to"),
    ("socket.sendto", "send a datagram to"),
    ("socket.sendmsg", "send a message to"),
    ("socket.getaddrinfo", "look up"),
    ("socket.gethostbyname", "look up"),
    ("socket.gethostbyaddr", "look up"),
)


_AF_UNIX = 1  # the judge's socket pair and asyncio's self-pipe; never the network


class NetworkBlockedError(ConnectionRefusedError):
    """Raised in place of a real connection while grading."""


attempts: list[str] = []
_installed: list[bool] = []


def _target(event: str, args: tuple[Any, ...]) -> str:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[-1] if event != "socket.connect" else args[1]
    else:
        address = args[:2] if event == "socket.getaddrinfo" else args[:1]
    if isinstance(address, tuple) and len(address) >= 2 and address[1] is not None:
        return f"{address[0]}:{address[1]}"
    return str(address[0] if isinstance(address, tuple) else address)


def _make_hook(verbs: dict[str, str], record: Callable[[str], None]) -> Callable[[str, tuple[Any, ...]], None]:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__" and len(args) > 1 and args[1] != _AF_UNIX:  # -1: the default, AF_INET
            # Seen before the OS is asked: at the full level seccomp then refuses the socket itself.
            record(f"open a network socket (address family {args[1]})")
            return
        verb = verbs.get(event)
        if verb is not None:
            what = f"{verb} {_target(event, args)}"
            record(what)
            raise NetworkBlockedError(f"network access is blocked while grading (tried to {what})")

    return hook


def install() -> None:
    """Block the network for the rest of this process."""
    if not _installed:
        sys.addaudithook(_make_hook(dict(_VERBS), attempts.append))
        _installed.append(True)


def drain() -> list[str]:
    """The blocked attempts since the last drain."""
    taken = attempts[:]
    attempts.clear()
    return taken
