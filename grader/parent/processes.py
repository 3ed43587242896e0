"""Process control for the grading child: resource limits, a deadline, and no survivors.

The child runs in its own process group, which is killed when grading ends. A process that left
the group (setsid, double fork) is re-parented to this process, which registers as a child
subreaper, and is found and killed by its parent id.

Each of those pieces exists only on some systems (rlimits of another process, the subreaper and
/proc on Linux; process groups on POSIX), so each sits behind a capability that `probe()` finds
once; where one is missing grading goes on without it and `missing()` says so in one line each.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

_PR_SET_CHILD_SUBREAPER = 36
_T = TypeVar("_T")
POLL_SECONDS = 0.2
_active: set[int] = set()
_active_lock = threading.Lock()
_subreaper: list[bool] = []
_WAY_FORWARD = "for the full protection grade on Linux (on Windows: WSL)"


@dataclass(frozen=True)
class Capabilities:
    """What this operating system lets the parent do to the grading child."""

    prlimit: bool  # memory and file-size limits set on another process (Linux: resource.prlimit)
    subreaper: bool  # orphans are re-parented to us (Linux: prctl PR_SET_CHILD_SUBREAPER)
    proc: bool  # /proc lists every process with its parent (Linux)
    process_groups: bool  # the child leads its own process group, killed as one (POSIX)


@functools.cache
def probe() -> Capabilities:
    """The capabilities in force here, found once."""
    resource = _module("resource")
    linux = sys.platform.startswith("linux")
    return Capabilities(
        prlimit=resource is not None and hasattr(resource, "prlimit"),
        subreaper=linux and _libc_has("prctl"),
        proc=linux and Path("/proc/self/stat").is_file(),
        process_groups=hasattr(os, "killpg") and hasattr(os, "getpgid"),
    )


def missing(capabilities: Capabilities | None = None) -> list[str]:
    """One line per protection this system cannot give, with the way forward."""
    caps = capabilities or probe()
    lines = []
    if not caps.prlimit:
        lines.append(f"this system cannot cap the grading process's memory and file sizes; {_WAY_FORWARD}")
    if not (caps.subreaper and caps.proc):
        lines.append(
            "processes your code starts and detaches are not tracked down after grading on this system; " + _WAY_FORWARD
        )
    return lines


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _libc_has(name: str) -> bool:
    try:
        return hasattr(ctypes.CDLL(None), name)
    except (OSError, TypeError):  # Windows: CDLL(None) is refused
        return False


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1024**3  # address space: the child needs about 150 MiB; a runaway allocation stops here
    file_bytes: int = 64 * 1024**2  # any file the child writes, its captured output included
    time_limit: float = 600.0  # wall clock of the whole child


def _become_subreaper() -> None:
    if _subreaper or not probe().subreaper:
        return
    _subreaper.append(True)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the process-group kill still applies


def _orphans() -> list[int]:
    """Processes re-parented to us that are not a grading child still running."""
    return [pid for pid in _children() if pid not in _active]


def _children() -> list[int]:
    """Every process whose parent is this one (from /proc)."""
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
        if int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def end_children() -> None:
    """Kill every process that is still a child of this one, with its group, and reap it (the end of `grade
    --watch`, which may be stopped between a judge's start and its record, where no `finish_limited` owns it).
    Without /proc (macOS, Windows) only the `finish_limited` clean-up applies."""
    caps = probe()
    if not caps.proc:
        return
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    own_group = os.getpgrp() if caps.process_groups else -1
    for _ in range(10):  # a child's own children are re-parented to us when it dies: go round again
        with _active_lock:
            children = _children()
        if not children:
            return
        for pid in children:
            try:
                if caps.process_groups and (group := os.getpgid(pid)) != own_group:
                    os.killpg(group, kill)
                os.kill(pid, kill)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass


def start_spared(start: Callable[[], _T], pid: Callable[[_T], int]) -> _T:
    """Start a long-lived helper of the parent (a batch worker's fork server): recorded under the sweep's
    lock as it starts, so that no grading child's end-of-run sweep takes it for an orphan."""
    with _active_lock:
        started = start()
        _active.add(pid(started))
    return started


def release_spared(pid: int) -> None:
    """After the helper has ended."""
    with _active_lock:
        _active.discard(pid)


class Child(Protocol):
    """A grading child as Popen shows it: started here, or forked for us by a warm judge's zygote."""

    pid: int
    args: Any
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def _kill_tree(process: Child) -> None:
    """The child and what it started: its process group on POSIX, its process tree on Windows."""
    if probe().process_groups:
        try:
            os.killpg(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            return
        except (ProcessLookupError, PermissionError):
            return
    if sys.platform == "win32" and process.poll() is None:
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    if process.poll() is None:
        process.kill()


def _kill_survivors(process: Child) -> None:
    _kill_tree(process)
    # Once the child is gone, whatever it left running has been re-parented to us (the subreaper).
    process.wait()
    caps = probe()
    if not (caps.subreaper and caps.proc and caps.process_groups):
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
                    os.killpg(group, getattr(signal, "SIGKILL", signal.SIGTERM))
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass


@dataclass(frozen=True)
class Ended:
    returncode: int | None  # None when this module killed it
    stopped_by: str = ""  # "time limit", "watchdog" or "cancelled" when killed


@dataclass(frozen=True)
class Limited:
    """A child started by `start_limited`; `finish_limited` waits for it and leaves nothing of it running."""

    process: Child
    deadline: float  # time.monotonic() at which its time limit stops it
    exited: int | None  # readable when it exits (a pidfd), where the OS has one


@dataclass(frozen=True)
class Command:
    """A child to start, as an interpreter (`start_limited`) or forked from a warm judge (`warm_judges`): the
    same program, directory, environment, descriptors and limits either way."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    output: Path  # its stdout and stderr
    pass_fds: tuple[int, ...]
    limits: Limits


def run_limited(command: Command, *, watchdog: Callable[[], bool] = lambda: False) -> Ended:
    """Run `command` to completion, the time limit, or until `watchdog()` (polled) says to stop it."""
    return finish_limited(start_limited(command), watchdog=watchdog)


def start_limited(command: Command) -> Limited:
    """Start `command` under its limits; the caller hands the result to `finish_limited`, whatever happens next."""
    _become_subreaper()
    limits = command.limits
    # Started and recorded under the lock the sweep for orphans takes: batch grades in threads, and another
    # run's sweep must never see this child between its fork and its record.
    with _active_lock, open(command.output, "wb") as out:
        process = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=command.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            **_inherit(command.pass_fds),
            **_new_group(),
        )
        _active.add(process.pid)
    if probe().prlimit:
        resource = _module("resource")
        try:
            # Set from outside (prlimit), not in a preexec_fn, which is unsafe when the parent has threads.
            resource.prlimit(process.pid, resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        except (ProcessLookupError, OSError):
            pass
    return Limited(process, time.monotonic() + limits.time_limit, _exit_signal(process))


def adopt_limited(child: Child, limits: Limits, exited: int) -> Limited:
    """A child that another process forked for us (a warm judge's zygote put `limits` in force on it, in its own
    process group); `exited` becomes readable when it ends. The caller hands it to `finish_limited`."""
    _become_subreaper()  # what it leaves behind is re-parented to us, and swept as a Popen child's is
    return Limited(child, time.monotonic() + limits.time_limit, exited)


def finish_limited(
    started: Limited, *, watchdog: Callable[[], bool] = lambda: False, stop_now: bool = False
) -> Ended:
    """Wait for the child to end, its time limit, or `watchdog()` (polled); then kill what is left of it.

    `stop_now`: kill it at once (its caller failed before it could wait for it).
    """
    process, exited, deadline = started.process, started.exited, started.deadline
    try:
        if stop_now:
            _kill_tree(process)
            return Ended(None, "cancelled")
        while True:
            try:
                return Ended(_wait(process, exited, min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return Ended(None, "time limit")
                if watchdog():
                    return Ended(None, "watchdog")
    finally:
        if exited is not None:
            os.close(exited)
        _kill_survivors(process)
        with _active_lock:
            _active.discard(process.pid)


def _exit_signal(process: subprocess.Popen[bytes]) -> int | None:
    """A descriptor that becomes readable when the child exits (Linux 5.3+), or None where there is none."""
    try:
        return os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return None


def _wait(process: Child, exited: int | None, timeout: float) -> int:
    """The child's exit code, or TimeoutExpired after `timeout` s.

    Popen.wait(timeout) polls with sleeps of up to 50 ms, which a whole grade then waits on; a pidfd
    wakes at the exit itself.
    """
    if exited is None:
        return process.wait(timeout=timeout)
    waiting = select.poll()  # not select(): in a long batch the descriptor's number may pass FD_SETSIZE
    waiting.register(exited, select.POLLIN)
    waiting.poll(timeout * 1000)
    code = process.poll()
    if code is None:
        raise subprocess.TimeoutExpired(process.args, timeout)
    return code


def _new_group() -> dict[str, Any]:
    if probe().process_groups:
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _inherit(fds: tuple[int, ...]) -> dict[str, Any]:
    """Popen arguments that hand `fds` to the child: pass_fds on POSIX, a handle list on Windows."""
    if sys.platform != "win32":
        return {"pass_fds": fds}
    import msvcrt  # Windows only

    handles = [msvcrt.get_osfhandle(fd) for fd in fds]
    for handle in handles:
        os.set_handle_inheritable(handle, True)
    startupinfo = subprocess.STARTUPINFO()
    startupinfo.lpAttributeList = {"handle_list": handles}
    return {"startupinfo": startupinfo, "close_fds": True}
