"""`python -m grader.judge.zygote FD SUITES_DIR CASSETTES_DIR`: a warm judge that forks one judge per request.

A judge started as an interpreter spends about 1.6 CPU seconds before its first check: importing pytest,
the plugin and vcrpy, reading and parsing every cassette, and rewriting the suites' asserts as it
collects them. A batch worker or a watch session pays that for every submission or round. The zygote
pays it once: it does all of that before any submission exists, then forks a judge per request, which
runs `python -m grader.judge`'s `main` with the arguments it was given.

It is trusted as the judge is (the grader's own code, run as the grader's user): it never reads a
submission, never runs a check and never starts a sandbox; a forked judge does those, as a judge started
as an interpreter would. Each judge is a fresh fork of that clean process: nothing of one submission can
reach the next. The zygote is single-threaded (checked before every fork) and not dumpable, and it dies
with its starter (PDEATHSIG, and the end of its socket); each judge dies with it.

Requests, one packet each on the SOCK_SEQPACKET socket it was started with (its starter's, shared by every
thread that starts judges): {"op": "start", "args": [...], "cwd": ..., "env": {...}, "fds": [N, ...],
"limits": [AS, FSIZE]} with, as SCM_RIGHTS, the judge's own reply socket, its output file and then its
descriptors (each put at the number of `fds`). On the reply socket: {"pid": N}, then {"code": C} once that
judge has ended (as Popen's returncode), or {"error": ...} instead of a pid. The first packet on the control
socket is {"op": "ready", "threads": 1} once warm. It serves several judges at once: it only forks, and a
judge's end wakes it (SIGCHLD), so a judge that runs long holds up no other starter.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from grader import forked

MAX_PACKET = 1 << 20  # a judge's command line and environment


def judge_arguments(suites_dir: Path) -> list[str]:
    """What every judge's pytest command line starts with (the runner adds the run's own options)."""
    return [
        "-c", str(suites_dir / "pytest.ini"), "--rootdir", str(suites_dir),
        "-p", "grader.plugin", "-p", "pytest_timeout",
        # pytest's unraisable/thread-exception plugins run a full gc after every test: seconds per run.
        "-p", "no:unraisableexception", "-p", "no:threadexception",
    ]  # fmt: skip


class _Collected:
    """The checks the warm-up's collection found."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def pytest_collection_finish(self, session: Any) -> None:
        self.items = list(session.items)


def warm(suites_dir: Path, cassettes_dir: Path) -> None:
    """Everything a judge loads before its first check, loaded now: pytest and its plugins, the grader's
    judge modules, the cassettes (read and parsed), and the suites (collected, their asserts rewritten:
    a judge's collection then finds them imported). No check runs and no sandbox starts."""
    import pytest

    import grader.judge.__main__  # noqa: F401  (each judge runs its main: imported once here, not per judge)
    from grader.judge import replay, seeds

    replay.preload(cassettes_dir)
    files = sorted(str(p) for p in suites_dir.glob("*/test_*.py"))
    collected = _Collected()
    with open(os.devnull, "w") as quiet:
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = quiet
        try:
            pytest.main(
                [*judge_arguments(suites_dir), "--collect-only", "-q", "--no-header", *files], plugins=[collected]
            )
        finally:
            sys.stdout, sys.stderr = saved
    seeds.warm(collected.items)  # a judge's collection finds these very functions (their modules are imported)
    gc.collect()
    gc.freeze()  # what is loaded lives as long as every judge: no judge's collection need walk it


def _place(received: list[int], wanted: list[int]) -> None:
    """Each received descriptor at the number its judge was told (first moved above them all, onto numbers
    nothing else holds: F_DUPFD takes the lowest free one from there)."""
    import fcntl  # POSIX only, as the zygote is

    floor = max([*wanted, *received, 2]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, floor) for fd in received]
    for fd in received:
        os.close(fd)
    for fd, number in zip(moved, wanted, strict=True):
        os.dup2(fd, number)
    for fd in moved:
        os.close(fd)


def _judge(request: dict[str, Any], fds: list[int], session_made: int) -> None:
    """In the forked child: its own session, output, descriptors, directory, environment and limits; then
    the judge's `main`, exactly as `python -m grader.judge ARGS` runs it."""
    code = 120
    try:
        signal.set_wakeup_fd(-1)  # the zygote's wake-up on a judge's end is not this judge's
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        forked.own_session(fds[0])  # its own group, killed as one by the parent (as Popen's start_new_session)
        os.write(session_made, b"s")
        os.close(session_made)
        forked.prctl(forked.PR_SET_PDEATHSIG, 9)
        forked.prctl(forked.PR_SET_DUMPABLE, 1)  # as a freshly started process of this uid
        wanted = [int(n) for n in request["fds"]]
        _place(fds[1:], wanted)
        forked.close_all_but(wanted)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        import tempfile

        tempfile.tempdir = None  # found again from this judge's TMPDIR, not the one the zygote looked up
        import resource  # POSIX only, as the zygote is (the parent runner imports this module everywhere)

        memory, file_size = (int(x) for x in request["limits"])
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        args = [str(a) for a in request["args"]]
        sys.argv = ["grader.judge", *args]
        from grader.judge.__main__ import main

        try:
            code = main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    except BaseException as exc:  # a child must never return into the zygote's loop
        forked.say_failed("judge", exc)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


def _returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _say(reply: socket.socket, message: dict[str, object]) -> None:
    try:
        reply.send(json.dumps(message).encode())
    except OSError:
        pass  # its starter gave up on that judge: nothing to tell


def _start(control: socket.socket, data: bytes, fds: list[int], judges: dict[int, socket.socket]) -> None:
    """One start request: fork its judge, say its pid on the judge's reply socket and keep that socket until
    the judge ends. A request that is not one is refused on its reply socket, if it brought one."""
    reply: socket.socket | None = None
    try:
        reply = socket.socket(fileno=fds[0]) if fds else None  # not a socket: refused as a bad request below
        request = json.loads(data)
        if not isinstance(request, dict) or request.get("op") != "start" or len(fds) != len(request["fds"]) + 2:
            raise ValueError(f"not a start request: {data[:200]!r}")
        if threading.active_count() != 1:
            raise RuntimeError(f"{threading.active_count()} threads: forking now would be unsafe")
        sys.stdout.flush()
        sys.stderr.flush()
        session_made, said = os.pipe()
        pid = os.fork()
    except Exception as exc:  # the parent then starts the judge as an interpreter
        for fd in fds[0 if reply is None else 1 :]:
            os.close(fd)
        if reply is not None:
            _say(reply, {"error": f"{type(exc).__name__}: {exc}"})
            reply.close()
        return
    assert reply is not None
    if pid == 0:
        control.close()
        os.close(session_made)
        reply.close()
        for other in judges.values():
            other.close()
        _judge(request, fds[1:], said)
    for fd in fds[1:]:
        os.close(fd)
    os.close(said)
    # As Popen with start_new_session: once the parent has the pid, the judge leads its own group (or has
    # died), so killing that group can never miss a judge forked a moment ago.
    os.read(session_made, 1)
    os.close(session_made)
    judges[pid] = reply
    _say(reply, {"pid": pid})


def _reap(judges: dict[int, socket.socket]) -> None:
    """Every judge that has ended: say how on its reply socket, and forget it."""
    while judges:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        reply = judges.pop(pid, None)
        if reply is not None:
            _say(reply, {"code": _returncode(status)})
            reply.close()


def serve(control: socket.socket) -> None:
    """Start a judge per request, and say how each ended as it ends; until the control socket ends (every
    judge then dies with the zygote)."""
    import select

    woken, wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler: the wake-up descriptor is written
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    judges: dict[int, socket.socket] = {}
    waiting = select.poll()
    waiting.register(control.fileno(), select.POLLIN)
    waiting.register(woken, select.POLLIN)
    while True:
        for fd, _events in waiting.poll():
            if fd == woken:
                while True:
                    try:
                        if not os.read(woken, 4096):
                            break
                    except BlockingIOError:
                        break
                _reap(judges)
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(control, MAX_PACKET, 64)
            except OSError:
                return
            if not data:
                for fd_ in fds:
                    os.close(fd_)
                return
            _start(control, data, fds, judges)
        _reap(judges)  # a judge that ended while a request was served: its SIGCHLD may have woken nothing yet


def main(fd: int, suites_dir: Path, cassettes_dir: Path) -> None:
    forked.prctl(forked.PR_SET_PDEATHSIG, 9)  # gone with the process that started it
    forked.prctl(forked.PR_SET_DUMPABLE, 0)  # no process of its uid may trace it or read its memory
    control = socket.socket(fileno=fd)
    warm(suites_dir, cassettes_dir)
    control.send(json.dumps({"op": "ready", "pid": os.getpid(), "threads": threading.active_count()}).encode())
    serve(control)
    os._exit(0)


if __name__ == "__main__":
    gc.disable()  # as in a judge: what loads now stays to the end, so collections would free nothing
    main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
