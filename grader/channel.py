"""The outcome channel from the grading child to the parent.

The parent hands the child a key and an open results file through an inherited pipe, read once and
closed before any student import, so neither appears in the child's environment or arguments. The
file lives in a folder only the parent can enter, and the parent reads at most MAX_RESULTS_BYTES.
Every outcome line carries an HMAC under that key; the parent ignores lines it cannot verify, so
student code that finds the file still cannot forge a pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ENV_VAR = "GRADER_CHANNEL_FD"
MAX_RESULTS_BYTES = 8 * 1024**2  # ~100x an honest run's records: a flood costs the flooder, not the parent
MAX_REJECTED = 1000  # past this many bad lines the rest is not parsed (counted as one more)


@dataclass(frozen=True)
class ParentChannel:
    fd: int  # read end of the handshake pipe, inherited by the child
    key: bytes
    results: Path  # in a folder only the parent can enter: the child cannot swap it for a link or FIFO
    results_fd: int = -1  # opened for appending by the parent, inherited by the child


def open_parent_channel() -> ParentChannel:
    """Create the results file and write the handshake into a pipe for the child to inherit."""
    results_dir = Path(tempfile.mkdtemp(prefix="grader-"))
    results = results_dir / f"{secrets.token_hex(8)}.jsonl"
    results_fd = os.open(results, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    key = secrets.token_bytes(32)
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as w:
        w.write(json.dumps({"key": key.hex(), "results_fd": results_fd}))
    os.set_inheritable(read_fd, True)
    os.set_inheritable(results_fd, True)
    return ParentChannel(read_fd, key, results, results_fd)


def handoff(fd: int) -> str:
    """How the child finds the handshake pipe: its fd on POSIX, its OS handle on Windows (fds are per process)."""
    if sys.platform == "win32":
        import msvcrt  # Windows only

        return f"handle:{msvcrt.get_osfhandle(fd)}"
    return str(fd)


def _take_over(text: str) -> int:
    if sys.platform == "win32" and text.startswith("handle:"):
        import msvcrt  # Windows only

        return msvcrt.open_osfhandle(int(text.removeprefix("handle:")), os.O_RDONLY)
    return int(text)


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def read_records(channel: ParentChannel) -> tuple[list[dict[str, Any]], int]:
    """The verified records, and how many lines failed verification."""
    records: list[dict[str, Any]] = []
    rejected = 0
    try:
        with open(channel.results, "rb") as f:
            text = f.read(MAX_RESULTS_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return records, rejected
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            payload, mac = entry["payload"], entry["mac"]
            valid = isinstance(payload, str) and hmac.compare_digest(_mac(channel.key, payload), str(mac))
        except (ValueError, KeyError, TypeError):
            valid = False
        if valid:
            records.append(json.loads(payload))
        elif line.strip():
            rejected += 1
            if rejected > MAX_REJECTED:
                break
    return records, rejected


def close_parent_channel(channel: ParentChannel) -> None:
    if channel.results_fd >= 0:
        try:
            os.close(channel.results_fd)
        except OSError:
            pass  # closed already, once the child had it
    channel.results.unlink(missing_ok=True)
    try:
        channel.results.parent.rmdir()
    except OSError:
        pass


class ChildChannel:
    """The child's end: takes the handshake out of the environment and signs every record."""

    def __init__(self, key: bytes, stream: TextIO) -> None:
        self._key = key
        self._stream = stream

    @classmethod
    def from_environment(cls) -> ChildChannel | None:
        fd_text = os.environ.pop(ENV_VAR, None)
        if fd_text is None:
            return None
        fd = _take_over(fd_text)
        with os.fdopen(fd, "r") as r:
            handshake = json.loads(r.read())
        stream = os.fdopen(int(handshake["results_fd"]), "a", encoding="utf-8")
        os.set_inheritable(stream.fileno(), False)
        return cls(bytes.fromhex(handshake["key"]), stream)

    def started(self, check_id: str) -> None:
        """Said before a check runs, so a crash during it is pinned on that check."""
        self.write({"id": check_id, "event": "start"})

    def write(self, record: dict[str, Any]) -> None:
        payload = json.dumps(record, sort_keys=True)
        self._stream.write(json.dumps({"payload": payload, "mac": _mac(self._key, payload)}) + "\n")
        self._stream.flush()
