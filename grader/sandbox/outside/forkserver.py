"""`python -I -B -m grader.sandbox.outside.forkserver FD`: a warm, trusted process that forks one sandbox per request.

The server imports what every sandbox needs before any submission exists (the SDKs, the sandbox
runtime, what the SDKs load on first use: `runtime.preload`) and never imports or runs student code.
For each request of its judge it forks a child, which puts every layer of the policy in force on
itself (`enter.confine`, as `python -m grader.sandbox` does) before it touches the submission.

Why it cannot be reached from a sandbox:
- it talks only to judges, over SOCK_SEQPACKET pairs no child keeps (each child closes every fd
  but its own socket and its log), and it never reads anything a sandbox wrote;
- it is not dumpable, so no process of its uid can trace it or read its memory through /proc, and a
  full-level child runs as another uid; Landlock scopes a child's signals to its own domain;
- it is single-threaded (checked before every fork: a fork with other threads alive is unsafe, and
  the server then refuses, so the judge falls back to starting interpreters);
- it dies with whoever started it (PDEATHSIG, and the end of its first socket), and its children with it.

Connections: the socket it was started with is its starter's. The starter may hand it more, one per
judge ({"op": "attach"} with the judge's end as SCM_RIGHTS; no reply there, the judge's connection is
greeted with {"op": "ready"}), so that judges grading parts of one submission in parallel share one
warm server. One thread serves them all (a selector); each connection forks, waits for and resets only
its own sandboxes, and when a judge's connection ends its sandboxes are killed.

Requests (JSON, one packet each): {"op": "fork", "policy": ..., "submission": ...} with the sandbox's
socket and log as SCM_RIGHTS -> {"pid": N}; {"op": "wait", "pid": N} -> {"code": C} (as Popen's
returncode, sent once the sandbox has ended); {"op": "reset"}: the connection's children still running
killed (on the starter's connection: every child; a batch worker's server, between two submissions:
each sandbox is a fresh fork of the clean server).
Fork is Linux only: elsewhere (macOS, whose system libraries are not fork-safe once loaded, and
Windows) the judge starts one interpreter per sandbox, as before.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import socket
import sys
import threading
from typing import Any

from grader import forked

MAX_PACKET = 1 << 20  # a policy is a few KiB: its paths, limits and environment


SWITCH = "GRADER_FORK_SERVER"  # "0": start every sandbox as its own interpreter (staff, benchmarks)


def unavailable() -> str | None:
    """Why sandboxes are not forked from a warm server here, or None when they are (Linux by default)."""
    if os.environ.get(SWITCH) == "0":
        return f"{SWITCH}=0"
    if not (sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "send_fds")):
        return f"fork is not used on {sys.platform}"
    return None


def available() -> bool:
    """Whether sandboxes are forked from a warm server here (Linux, unless GRADER_FORK_SERVER=0)."""
    return unavailable() is None


def _child(policy_json: str, submission: str, sock_fd: int, log_fd: int) -> None:
    """In the forked child: own session, own output, nothing of the server's; confined; then serve."""
    code = 120
    try:
        forked.own_session(log_fd)
        forked.close_all_but([sock_fd])
        from grader.sandbox.outside import confinement, enter

        policy = confinement.Policy.from_json(policy_json)
        os.environ.clear()
        os.environ.update(dict(policy.env))
        import time

        if hasattr(time, "tzset"):
            time.tzset()
        enter.confine(policy_json)
        forked.prctl(forked.PR_SET_DUMPABLE, 1)  # its own /proc/self, as a freshly started process of its uid has
        sys.argv = ["grader.sandbox"]
        from grader.sandbox.inside import runtime

        runtime.serve(sock_fd, submission)
    except BaseException as exc:  # a child must never return into the server's loop
        forked.say_failed("sandbox", exc)
    finally:
        os._exit(code)


WAIT_POLL_SECONDS = 0.02  # while a judge waits for a sandbox that has not ended yet


class _Server:
    """Serves the connection it was started with and every connection attached through it, in one thread.

    Each connection is one judge's: it forks, waits for and resets only its own sandboxes, so judges
    that grade parts of one submission in parallel share the warm server and never reach each other's
    boxes. A wait for a sandbox still running is answered when it ends, never blocking the others.
    """

    def __init__(self, control: socket.socket) -> None:
        self.control = control  # the starter's: it may attach more connections, and its reset ends every child
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ)
        self.owner: dict[int, socket.socket] = {}  # live or unreaped sandbox -> the connection that forked it
        self.live: set[int] = set()
        self.codes: dict[int, int] = {}
        self.waiting: dict[socket.socket, int] = {}  # connection -> the sandbox whose end it waits for

    def reap(self) -> None:
        """Every child that has ended: the sandboxes (their codes kept for `wait`), and the orphans of their
        sessions that were re-parented here. A zombie still counts against its uid's process limit, so
        one left unreaped would cost the next sandbox of that uid its `fork` (EAGAIN)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.live:
                self.live.discard(pid)
                self.codes[pid] = os.waitstatus_to_exitcode(status)

    def fork(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        if len(fds) != 2:
            return {"error": "a fork needs the sandbox's socket and log"}
        if threading.active_count() != 1:
            return {"error": f"unsafe: {threading.active_count()} threads in the fork server"}
        sock_fd, log_fd = fds
        pid = os.fork()
        if pid == 0:
            _child(str(message["policy"]), str(message["submission"]), sock_fd, log_fd)
        self.live.add(pid)
        self.owner[pid] = conn
        return {"pid": pid}

    def wait(self, conn: socket.socket, pid: int) -> dict[str, Any] | None:
        """The sandbox's exit code, or None when it still runs (answered later, by `answer_waits`)."""
        if self.owner.get(pid) is not conn:
            return {"error": f"no sandbox {pid}"}
        if pid in self.live:
            self.waiting[conn] = pid
            return None
        del self.owner[pid]
        return {"code": self.codes.pop(pid)}

    def answer_waits(self) -> None:
        for conn, pid in list(self.waiting.items()):
            if pid not in self.live:
                del self.waiting[conn]
                self.send(conn, self.wait(conn, pid))

    def attach(self, conn: socket.socket, fds: list[int]) -> None:
        """A new judge's connection (from the starter only): served from now on, greeted as ready."""
        if conn is not self.control or len(fds) != 1:
            return
        judge = socket.socket(fileno=os.dup(fds[0]))
        self.selector.register(judge, selectors.EVENT_READ)
        self.send(judge, {"op": "ready", "pid": os.getpid(), "threads": threading.active_count()})

    def send(self, conn: socket.socket, reply: dict[str, Any] | None) -> None:
        if reply is None:
            return
        try:
            conn.send(json.dumps(reply).encode())
        except OSError:
            if conn is not self.control:
                self.drop(conn)

    def serve(self, conn: socket.socket) -> bool:
        """One request of `conn`; False when it has ended."""
        try:
            data, fds, _, _ = socket.recv_fds(conn, MAX_PACKET, 4)
        except OSError:
            return False
        try:
            if not data:
                return False
            self.reap()
            reply: dict[str, Any] | None
            message = json.loads(data)
            op = message.get("op") if isinstance(message, dict) else None
            if op == "fork":
                reply = self.fork(conn, message, fds)
            elif op == "wait":
                reply = self.wait(conn, int(message["pid"]))
            elif op == "reset":
                self.end(None if conn is self.control else conn)
                reply = {"reset": True}
            elif op == "attach":
                self.attach(conn, fds)
                reply = None
            else:
                reply = {"error": f"unknown request {op!r}"}
        finally:
            for fd in fds:  # the child has its copies; none may reach a later sandbox
                os.close(fd)
        self.send(conn, reply)
        return True

    def loop(self) -> None:
        while True:
            events = self.selector.select(WAIT_POLL_SECONDS if self.waiting else None)
            self.reap()
            self.answer_waits()
            for key, _ in events:
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                if conn.fileno() < 0 or self.serve(conn):
                    continue
                if conn is self.control:
                    return  # the starter is gone: so is every judge it attached
                self.drop(conn)

    def drop(self, conn: socket.socket) -> None:
        """A judge that ended (or stopped listening): its sandboxes killed, its connection closed."""
        self.end(conn)
        self.waiting.pop(conn, None)
        if conn.fileno() >= 0:
            self.selector.unregister(conn)
            conn.close()

    def end(self, conn: socket.socket | None = None) -> None:
        """Every sandbox of `conn` (of every connection: None) still running killed and reaped (between two
        judges of a batch worker, when a judge ends, and at the end)."""
        import signal

        for pid, owner in list(self.owner.items()):
            if conn is not None and owner is not conn:
                continue
            if pid in self.live:
                # Its group, and itself: a child forked a moment ago may not have made its own session yet.
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
                self.live.discard(pid)
            self.codes.pop(pid, None)
            del self.owner[pid]


def main(fd: int) -> None:
    forked.prctl(forked.PR_SET_PDEATHSIG, 9)  # gone with the judge that started it
    # What a sandbox's processes leave behind (a setsid'd grandchild whose parent exited) is re-parented
    # here, not to the grader's parent, and reaped before the next fork (`reap`).
    forked.prctl(forked.PR_SET_CHILD_SUBREAPER, 1)
    forked.prctl(forked.PR_SET_DUMPABLE, 0)  # no process of its uid may trace it or read its memory
    control = socket.socket(fileno=fd)
    from grader.sandbox.inside import runtime
    from grader.sandbox.outside import enter

    runtime.preload(warm=True)
    enter.preload()  # each child confines itself with these modules already loaded
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
