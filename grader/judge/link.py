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

from grader import wire
from grader.judge import launch
from grader.judge.http import ApiServer

STARTUP_SECONDS = 60.0  # importing both SDKs on a loaded machine; not counted against any check
MAX_EVENTS = 20_000  # sleeps, writes and calls reported in one check


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
    clock_now: float | None = None  # the sandbox's clock at its latest request


class SandboxLink:
    def __init__(self, submission: Path, launcher: launch.Launcher) -> None:
        self.submission = submission
        self.launcher = launcher
        self.process: launch.SandboxProcess | None = None
        self.sock: socket.socket | None = None
        self.ready = False
        self.deadline: float | None = None
        self.events = CheckEvents()
        self.api = ApiServer()
        self.starts = 0
        self.phase: tuple[str, bool] | None = None  # the (exercise, hidden) this sandbox serves

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
            raise SandboxStartError(f"the sandbox said {message.get('op')!r} before it was ready")
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
        self._await_ready()
        self.events = CheckEvents()
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
        try:
            wire.send(self.sock, message)
            while True:
                incoming = wire.receive(self.sock, self.deadline)
                op = incoming.get("op")
                if op == "reply":
                    return incoming
                if op == "http":
                    self._count()
                    now = incoming.get("now")
                    if isinstance(now, int | float):
                        self.events.clock_now = float(now)
                    wire.send(self.sock, self.api.request(incoming))
                elif op == "read":
                    wire.send(self.sock, self.api.read(incoming))
                elif op == "event":
                    self._count()
                    self._event(incoming)
                else:
                    raise wire.WireViolation(f"unexpected message {op!r}")
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

    def _count(self) -> None:
        self.events.count += 1
        if self.events.count > MAX_EVENTS:
            raise wire.WireViolation(f"more than {MAX_EVENTS} requests, writes or sleeps in one check")

    def _event(self, message: dict[str, Any]) -> None:
        kind = message.get("ev")
        if kind == "log":
            name, level, text = message.get("name"), message.get("levelno"), message.get("message")
            self.events.logs.append({"name": str(name), "levelno": level, "message": str(text)})
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
