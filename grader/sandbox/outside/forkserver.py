"""`python -I -B -m grader.sandbox.outside.forkserver FD`: a warm, trusted process that forks one sandbox per request.

The server imports what every sandbox needs before any submission exists (the SDKs, the sandbox
runtime, what the SDKs load on first use: `runtime.preload`) and never imports or runs student code.
For each request of its judge it forks a child, which puts every layer of the policy in force on
itself (`enter.confine`, as `python -m grader.sandbox` does) before it touches the submission.

Why it cannot be reached from a sandbox:
- it talks only to its judge, over a SOCK_SEQPACKET pair no child keeps (each child closes every fd
  but its own socket and its log), and it never reads anything a sandbox wrote;
- it is not dumpable, so no process of its uid can trace it or read its memory through /proc, and a
  full-level child runs as another uid; Landlock scopes a child's signals to its own domain;
- it is single-threaded (checked before every fork: a fork with other threads alive is unsafe, and
  the server then refuses, so the judge falls back to starting interpreters);
- it dies with its judge (PDEATHSIG, and the end of its socket), and its children with it.

Requests (JSON, one packet each): {"op": "fork", "policy": ..., "submission": ...} with the sandbox's
socket and log as SCM_RIGHTS -> {"pid": N}; {"op": "wait", "pid": N} -> {"code": C} (as Popen's
returncode); {"op": "reset"}: every child still running killed (a batch worker's server, between two
submissions: it serves one judge after another, each sandbox a fresh fork of the clean server).
Fork is Linux only: elsewhere (macOS, whose system libraries are not fork-safe once loaded, and
Windows) the judge starts one interpreter per sandbox, as before.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import threading
from typing import Any

MAX_PACKET = 1 << 20  # a policy is a few KiB: its paths, limits and environment


SWITCH = "GRADER_FORK_SERVER"  # "0": start every sandbox as its own interpreter (staff, benchmarks)


def available() -> bool:
    """Whether sandboxes are forked from a warm server here (Linux, unless GRADER_FORK_SERVER=0)."""
    if os.environ.get(SWITCH) == "0":
        return False
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "send_fds")


def _prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


def _child(policy_json: str, submission: str, sock_fd: int, log_fd: int) -> None:
    """In the forked child: own session, own output, nothing of the server's; confined; then serve."""
    code = 120
    try:
        os.setsid()
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        keep = sorted({0, 1, 2, sock_fd})
        for low, high in zip(keep, [*keep[1:], 1 << 16], strict=True):
            os.closerange(low + 1, high)
        from grader.sandbox.outside import confinement, enter

        policy = confinement.Policy.from_json(policy_json)
        os.environ.clear()
        os.environ.update(dict(policy.env))
        import time

        if hasattr(time, "tzset"):
            time.tzset()
        enter.confine(policy_json)
        _prctl(_PR_SET_DUMPABLE, 1)  # its own /proc/self, as a freshly started process of its uid has
        sys.argv = ["grader.sandbox"]
        from grader.sandbox.inside import runtime

        runtime.serve(sock_fd, submission)
    except BaseException as exc:  # a child must never return into the server's loop
        try:
            os.write(2, f"grader sandbox: the forked sandbox failed: {type(exc).__name__}: {exc}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


class _Server:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.live: set[int] = set()
        self.codes: dict[int, int] = {}

    def reap(self) -> None:
        for pid in list(self.live):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.live.discard(pid)
                self.codes[pid] = os.waitstatus_to_exitcode(status)

    def fork(self, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        if len(fds) != 2:
            return {"error": "a fork needs the sandbox's socket and log"}
        if threading.active_count() != 1:
            return {"error": f"unsafe: {threading.active_count()} threads in the fork server"}
        sock_fd, log_fd = fds
        pid = os.fork()
        if pid == 0:
            self.control.close()
            _child(str(message["policy"]), str(message["submission"]), sock_fd, log_fd)
        self.live.add(pid)
        return {"pid": pid}

    def wait(self, pid: int) -> dict[str, Any]:
        if pid in self.live:
            _, status = os.waitpid(pid, 0)
            self.live.discard(pid)
            self.codes[pid] = os.waitstatus_to_exitcode(status)
        if pid not in self.codes:
            return {"error": f"no sandbox {pid}"}
        return {"code": self.codes.pop(pid)}

    def loop(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, MAX_PACKET, 4)
            except OSError:
                return
            if not data:
                for fd in fds:
                    os.close(fd)
                return
            try:
                self.reap()
                message = json.loads(data)
                if message.get("op") == "fork":
                    reply = self.fork(message, fds)
                elif message.get("op") == "wait":
                    reply = self.wait(int(message["pid"]))
                elif message.get("op") == "reset":
                    self.end()
                    reply = {"reset": True}
                else:
                    reply = {"error": f"unknown request {message.get('op')!r}"}
            finally:
                for fd in fds:  # the child has its copies; none may reach a later sandbox
                    os.close(fd)
            self.control.send(json.dumps(reply).encode())

    def end(self) -> None:
        """Every sandbox still running killed and reaped (between two judges of a batch worker, and at the end)."""
        import signal

        for pid in self.live:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.live.clear()
        self.codes.clear()


def main(fd: int) -> None:
    _prctl(_PR_SET_PDEATHSIG, 9)  # gone with the judge that started it
    _prctl(_PR_SET_DUMPABLE, 0)  # no process of its uid may trace it or read its memory
    control = socket.socket(fileno=fd)
    from grader.sandbox.inside import runtime

    runtime.preload(warm=True)
    server = _Server(control)
    ready = {"op": "ready", "pid": os.getpid(), "threads": threading.active_count()}
    control.send(json.dumps(ready).encode())
    try:
        server.loop()
    finally:
        server.end()
    os._exit(0)


if __name__ == "__main__":
    gc.disable()  # as in grader.sandbox: the SDK import makes garbage-free objects; preload freezes them
    main(int(sys.argv[1]))
