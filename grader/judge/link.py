"""The judge's end of the socket: start the sandbox, ask it things, serve its HTTP, watch its clock.

The sandbox is started at once (so it imports the SDKs while the judge collects its suites) and
again after it crashed or ran out of time; a check's deadline is enforced here, outside the
sandbox, so no loop or signal handling inside it can stop the judge. Everything the sandbox sends
is capped: a flood ends the sandbox and fails the check it happened in.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from grader import gate, wire
from grader.judge import launch
from grader.judge.http import ApiServer

STARTUP_SECONDS = 60.0  # importing both SDKs on a loaded machine; not counted against any check
MAX_EVENTS = 20_000  # sleeps, writes and calls reported in one check
# Bytes the sandbox may send the judge: everything the judge keeps (log records, output, values, requests)
# arrived in these, so they bound its memory. An honest check sends a few hundred KiB; a whole run, a few MiB.
CHECK_BUDGET = 48 * 1024 * 1024
RUN_BUDGET = 768 * 1024 * 1024
MAX_LOG_TEXT = 10_000  # characters of one log record's message kept (the rest is cut, and said so)
# What the judge asks that runs the student's function: only meanwhile are API requests served.
_CALLS = frozenset({"call", "await", "next", "iter", "item", "len", "get"})


TIMEOUT_MESSAGE = (
    "This check ran out of time and was stopped: look for an endless loop or a real wait "
    "(time.sleep, Event.wait, select) that the grader's clock cannot skip."
)


class SandboxFailure(BaseException):
    """The sandbox stopped behaving: it ended, ran out of time, or broke the protocol (the student's doing).

    A BaseException, as pytest's own outcomes are: a check's `except Exception` or `pytest.raises(Exception)`,
    written for the student's errors, must not swallow it and go on with a sandbox that is gone.
    """

    status = "failed"
    function: str | None = None  # the student function that was running, when the judge knows it


class SandboxCrashed(SandboxFailure):
    status = "error"


class SandboxTimeout(SandboxFailure):
    status = "timeout"


class SandboxStartError(Exception):
    """The sandbox never became ready: a grader or machine problem, not the student's."""


@dataclass
class CheckEvents:
    """What the sandbox reported during one check, in order."""

    sinks: dict[tuple[str, int], Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    received: int = 0  # bytes of every message in this check (CHECK_BUDGET)


def _flood(what: str, budget: int) -> str:
    return (
        f"Your code sent the grader more than {budget // (1024 * 1024)} MiB {what} (log records, printed output, "
        "returned values and requests together), so the check was stopped there: log, print and return less."
    )


class SandboxLink:
    def __init__(self, submission: Path, launcher: launch.Launcher, *, online: bool = False) -> None:
        self.submission = submission
        self.launcher = launcher
        self.process: launch.SandboxProcess | None = None
        self.sock: socket.socket | None = None
        self.ready = False
        self.deadline: float | None = None
        self.events = CheckEvents()
        # Offline by construction; only a recording run (staff, the reference solution) reaches the real APIs.
        self.api = ApiServer(httpx2.HTTPTransport()) if online else ApiServer()
        self.starts = 0
        self.phase = "between checks"  # the pytest phase of the current check: setup, call, teardown
        self.received = 0  # bytes of every message in this run (RUN_BUDGET)
        self.serving: tuple[str, bool] | None = None  # the (exercise, hidden) the current sandbox serves

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a sandbox now, without waiting for it to be ready."""
        if self.process is None:
            self.adopt(*launch.spawn(self.launcher, self.submission))

    def adopt(self, process: launch.SandboxProcess, sock: socket.socket) -> None:
        """Serve a sandbox that was started for this link (by `start`, or before pytest loaded)."""
        self.process, self.sock, self.ready = process, sock, False
        self.starts += 1

    def _await_ready(self) -> None:
        self.start()
        if self.ready:
            return
        assert self.sock is not None
        try:
            message = wire.receive(self.sock, time.monotonic() + STARTUP_SECONDS)
        except (wire.WireClosed, wire.WireTimeout, wire.WireViolation) as exc:
            code = self.stop()
            raise SandboxStartError(
                f"the sandbox process did not start (exit code {code}, {type(exc).__name__}); "
                f"its last words: {self.launcher.last_words().strip() or '(none)'}"
            ) from None
        if message.get("op") != "ready":
            self.stop()
            raise SandboxStartError(f"the sandbox said {gate.text(message.get('op'), 100)!r} before it was ready")
        self.ready = True

    def stop(self) -> int | None:
        """End the sandbox and everything it started (its session)."""
        process, self.process = self.process, None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.api.close_all()
        if process is None:
            return None
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            process.kill()
        code = process.wait()
        self.launcher.clean_up()
        return code

    def close(self) -> None:
        """End the sandbox for good and remove what its launcher left on disk."""
        self.stop()
        self.launcher.close()

    # -- one check -------------------------------------------------------------------------------

    def begin(self, *, timeout: float, exercise: str, clock: str | None, seed: str) -> None:
        self.events = CheckEvents()
        self.api.refused.clear()
        if self.received > RUN_BUDGET:  # spent in an earlier check: no new sandbox for this one
            raise SandboxFailure(_flood("in this run", RUN_BUDGET))
        self._await_ready()
        self.deadline = time.monotonic() + timeout
        self.request({"op": "begin", "exercise": exercise, "clock": clock, "seed": seed})

    def end(self) -> dict[str, Any] | None:
        """What the check's code printed and logged; None when the sandbox is gone."""
        self.deadline = time.monotonic() + 5.0
        try:
            if self.process is None:
                return None
            reply = self.request({"op": "end"})
        except (SandboxFailure, SandboxStartError):
            return None
        finally:
            self.api.close_all()
            self.deadline = None
        return reply if isinstance(reply, dict) else None

    # -- the exchange ----------------------------------------------------------------------------

    def request(self, message: dict[str, Any]) -> Any:
        """Ask the sandbox; serve what it asks meanwhile; return its reply (a dict)."""
        if self.process is None or not self.ready:
            self._await_ready()
        assert self.sock is not None
        self.api.closed = self._closed(message)
        try:
            wire.send(self.sock, message)
            while True:
                incoming, size = wire.receive_sized(self.sock, self.deadline)
                self._spent(size)
                try:
                    parsed = gate.from_sandbox(incoming)
                except gate.GateError as exc:
                    raise wire.WireViolation(str(exc)) from None
                if isinstance(parsed, gate.Reply):
                    return incoming
                if isinstance(parsed, gate.Http):
                    self._count()
                    wire.send(self.sock, self.api.request(parsed))
                elif isinstance(parsed, gate.Read):
                    wire.send(self.sock, self.api.read(parsed))
                elif isinstance(parsed, gate.Event):
                    self._count()
                    self._event(incoming)
                else:
                    raise wire.WireViolation(f"unexpected message {type(parsed).__name__.lower()!r}")
        except wire.WireTimeout:
            self.stop()
            raise SandboxTimeout(TIMEOUT_MESSAGE) from None
        except (wire.WireClosed, OSError):
            code = self.stop()
            raise SandboxCrashed(
                f"Your code's process ended during this check (exit code {code}): your code ended or crashed it "
                "(os._exit, a fatal signal, running out of memory). The other checks run in a fresh one."
            ) from None
        except wire.WireViolation as exc:
            self.stop()
            raise SandboxFailure(f"The process running your code broke the grader's protocol ({exc}).") from None
        except BaseException:
            self.stop()  # mid-exchange: the sandbox's next message would answer the wrong question
            raise
        finally:
            self.api.closed = f"{self.phase}, while the grader waited for your code to answer"

    def _closed(self, message: dict[str, Any]) -> str | None:
        """Why the API refuses requests during `message`, or None when it runs the student's function in a check."""
        op = message.get("op")
        ref = message.get("ref")
        if self.phase == "call" and op in _CALLS and not (op == "get" and isinstance(ref, dict) and "m" in ref):
            return None
        if self.phase == "call":
            what = "importing your module" if op in ("get", "begin") else "preparing the check (a client, a value)"
            return f"while the grader was {what}, before your function was called"
        if self.phase == "setup":
            return "while the check was being set up, before your function was called"
        if self.phase == "teardown":
            return "after the check had called your function (while it was cleaned up)"
        return "between checks"

    def _spent(self, size: int) -> None:
        self.events.received += size
        self.received += size
        if self.events.received > CHECK_BUDGET:
            raise SandboxFailure(_flood("in this check", CHECK_BUDGET))
        if self.received > RUN_BUDGET:
            raise SandboxFailure(_flood("in this run", RUN_BUDGET))

    def _count(self) -> None:
        self.events.count += 1
        if self.events.count > MAX_EVENTS:
            raise wire.WireViolation(f"more than {MAX_EVENTS} requests, writes or sleeps in one check")

    def _event(self, message: dict[str, Any]) -> None:
        kind = message.get("ev")
        if kind == "log":
            name, level, text = message.get("name"), message.get("levelno"), message.get("message")
            self.events.logs.append(
                {
                    "name": gate.text(name, 200),
                    "levelno": level if type(level) is int else None,
                    "message": gate.text(text, MAX_LOG_TEXT),
                }
            )
            return
        if kind == "sleep":
            sink = self.events.sinks.get(("sleep", 0))
        else:
            number = message.get("id")
            sink = self.events.sinks.get((str(kind), number if isinstance(number, int) else -1))
        if sink is not None:
            try:
                sink(message)
            except Exception as exc:  # the judge's own record of it refused (a flood of writes, say)
                raise wire.WireViolation(str(exc)) from None
