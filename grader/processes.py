"""Process control for the grading child: resource limits, a deadline, and no survivors.

The child runs in its own process group, which is killed when grading ends. A process that left
the group (setsid, double fork) is re-parented to this process, which registers as a child
subreaper, and is found and killed by its parent id.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import confinement, users

_PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.2
_active: set[int] = set()
_active_lock = threading.Lock()
_subreaper: list[bool] = []


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1024**3  # address space: the child needs about 150 MiB; a runaway allocation stops here
    file_bytes: int = 64 * 1024**2  # any file the child writes, its captured output included
    time_limit: float = 600.0  # wall clock of the whole child


def _become_subreaper() -> None:
    if _subreaper:
        return
    _subreaper.append(True)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the process-group kill still applies


def _orphans() -> list[int]:
    """Processes re-parented to us that are not a grading child still running."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        pid, ppid = int(entry.name), int(fields[1])
        if ppid == me and pid not in _active:
            found.append(pid)
    return found


def _kill_survivors(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    # Once the child is gone, whatever it left running has been re-parented to us (the subreaper).
    process.wait()
    if not Path("/proc").is_dir():
        return
    own_group = os.getpgrp()
    for _ in range(10):  # an orphan's own children are re-parented to us when it dies: go round again
        with _active_lock:
            orphans = _orphans()
        if not orphans:
            return
        for pid in orphans:
            try:
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass


@dataclass(frozen=True)
class Ended:
    returncode: int | None  # None when this module killed it
    stopped_by: str = ""  # "time limit" or "watchdog" when killed


def run_limited(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    output: Path,
    pass_fds: tuple[int, ...],
    limits: Limits,
    watchdog: Callable[[], bool] = lambda: False,
    sandbox: confinement.Policy | None = None,
) -> Ended:
    """Run `command` to completion, the time limit, or until `watchdog()` (polled) says to stop it.

    With `sandbox`, the command starts confined by that policy and runs in its environment.
    """
    _become_subreaper()
    if sandbox is not None:
        command, env = confinement.wrap(sandbox, command), dict(sandbox.env)
    with open(output, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,
        )
    with _active_lock:
        _active.add(process.pid)
    try:
        # Set from outside (prlimit), not in a preexec_fn, which is unsafe when the parent has threads.
        resource.prlimit(process.pid, resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    except (ProcessLookupError, OSError):
        pass
    deadline = time.monotonic() + limits.time_limit
    try:
        while True:
            try:
                return Ended(process.wait(timeout=min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return Ended(None, "time limit")
                if watchdog():
                    return Ended(None, "watchdog")
    finally:
        _kill_survivors(process)
        if sandbox is not None and sandbox.uid is not None:
            users.kill_all(sandbox.uid)  # also what left the session and was never our child
        with _active_lock:
            _active.discard(process.pid)
