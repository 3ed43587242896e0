"""Warm judges: judges forked from a zygote that has loaded pytest, the plugin, the cassettes and the suites.

Within a `warm_judges()` block (a batch, a watch session), each thread's first judge starts a zygote
(`grader.judge.zygote`) for the run's suites and cassettes; that judge and every later one of the thread is
forked from it instead of started as an interpreter, so the judge's start-up (about 1.6 CPU seconds) is
paid once per thread, not once per submission or round. One grade's parallel judges share a zygote of their
own (`Zygote`, started with the grade). A judge forked so is the same program with the same arguments,
environment, descriptors, limits and process group as one started as an interpreter.

Where fork is not used (not Linux, or GRADER_WARM_JUDGE=0), or a zygote fails, judges start as
interpreters, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from grader.judge import zygote
from grader.parent import processes

SWITCH = "GRADER_WARM_JUDGE"  # "0": every judge starts as an interpreter (staff, benchmarks)
READY_SECONDS = 60.0  # the zygote loads pytest, the plugin, the cassettes and the suites
CLOSE_SECONDS = 5.0


class ZygoteError(Exception):
    """The zygote is gone or refused: the judge starts as an interpreter instead."""


def available() -> bool:
    """Whether judges may be forked from a warm zygote here (Linux, unless GRADER_WARM_JUDGE=0)."""
    return (
        os.environ.get(SWITCH) != "0"
        and sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and hasattr(socket, "send_fds")
    )


class ForkedJudge:
    """A judge forked by the zygote, seen as Popen sees its child: the zygote tells how it ended, on the
    judge's own reply socket."""

    def __init__(self, reply: socket.socket, pid: int, args: Sequence[str], ended: Callable[[], None]) -> None:
        self._reply = reply
        self._ended = ended
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None

    def _read(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        if not _readable(self._reply, timeout):
            return
        try:
            data = self._reply.recv(zygote.MAX_PACKET)
        except OSError:
            data = b""
        code = _decoded(data).get("code") if data else None
        # The zygote gone (the judge dies with it) or garbled: as if killed.
        self.returncode = code if type(code) is int else -signal.SIGKILL
        self._reply.close()
        self._ended()

    def poll(self) -> int | None:
        self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _readable(sock: socket.socket, timeout: float | None) -> bool:
    """Whether `sock` has a packet within `timeout` s (poll, not select: in a long batch a descriptor's
    number may pass FD_SETSIZE)."""
    waiting = select.poll()
    waiting.register(sock.fileno(), select.POLLIN)
    return bool(waiting.poll(None if timeout is None else timeout * 1000))


def _decoded(data: bytes) -> dict[str, object]:
    try:
        reply = json.loads(data)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


class Zygote:
    """The parent's end of one `grader.judge.zygote`: started at once; it warms up while the caller goes on."""

    def __init__(self, suites_dir: Path, cassettes: Path, env: dict[str, str]) -> None:
        self.key = key(suites_dir, cassettes)
        self.root = Path(tempfile.mkdtemp(prefix="grader-zygote-"))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.ready = False
        self._failed = False  # a start failed: its thread's judges start as interpreters from then on
        self._lock = threading.Lock()  # several threads start judges: one request, and one greeting, at a time
        self._running = 0  # judges it forked that have not been seen to end
        self._retired = False  # replaced by a zygote for changed suites: ends once its last judge has
        # Not `_lock`, which a thread waiting for the greeting holds: Ctrl-C closes a zygote still warming up.
        self._closing = threading.Lock()
        self._closed = False
        command = [sys.executable, "-m", "grader.judge.zygote", str(theirs.fileno()), str(suites_dir), str(cassettes)]
        try:
            with open(self.root / "zygote.log", "wb") as log:
                self.process = processes.start_spared(
                    lambda: subprocess.Popen(
                        command,
                        pass_fds=(theirs.fileno(),),
                        cwd=self.root,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    ),
                    lambda p: p.pid,
                )
        except BaseException:
            ours.close()
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        finally:
            theirs.close()

    def _await_ready(self) -> None:
        if self.ready:
            return
        hello = _receive(self.control, READY_SECONDS)
        if hello.get("op") != "ready" or hello.get("threads") != 1:
            raise ZygoteError(f"the warm judge is not safe to fork from: {hello}")
        self.ready = True

    def start(self, command: processes.Command) -> processes.Limited:
        """`command` (`python -m grader.judge ARGS`) as a judge forked from this zygote, under its limits; the
        caller hands the result to `processes.finish_limited`. ZygoteError: start it as an interpreter."""
        args, limits = list(command.argv[3:]), command.limits
        request = {
            "op": "start", "args": args, "cwd": str(command.cwd), "env": command.env, "fds": list(command.pass_fds),
            "limits": [limits.memory_bytes, limits.file_bytes],
        }  # fmt: skip
        reply, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sent = False
        try:
            with self._lock:
                if not self.serving:
                    raise ZygoteError(f"the warm judge serves no more judges (it {self._why_not()})")
                self._await_ready()
                with open(command.output, "wb") as out:
                    socket.send_fds(
                        self.control, [json.dumps(request).encode()], [theirs.fileno(), out.fileno(), *command.pass_fds]
                    )
                self._running += 1
                sent = True
            theirs.close()  # the zygote holds its copy: the reply socket ends when the zygote does
            pid = _receive(reply, READY_SECONDS).get("pid")
            if type(pid) is not int:
                raise ZygoteError(f"the warm judge answered no pid ({pid!r})")
        except (ZygoteError, OSError) as exc:
            reply.close()
            theirs.close()
            self._failed = True
            if sent:
                self._judge_ended()
            raise ZygoteError(str(exc)) from None
        judge = ForkedJudge(reply, pid, command.argv, self._judge_ended)
        return processes.adopt_limited(judge, limits, os.dup(reply.fileno()))

    def _judge_ended(self) -> None:
        with self._lock:
            self._running -= 1
            done = self._retired and self._running == 0
        if done:
            self.close()

    def retire(self) -> None:
        """Serve no more judges: end now if it serves none, else once its last judge has ended."""
        with self._lock:
            self._retired = True
            done = self._running == 0
        if done:
            self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def serving(self) -> bool:
        """Whether judges may still be forked from it: it has not failed, been retired or been closed."""
        return not (self._failed or self._retired or self._closed)

    def _why_not(self) -> str:
        return "was closed" if self._closed else "was retired" if self._retired else "failed before"

    def close(self) -> None:
        """End the zygote (a judge it forked dies with it) and wait for it."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        # Shut down before the lock: a thread waiting for the zygote's greeting or a pid wakes at once (the
        # socket ends), instead of holding the lock until the zygote is warm.
        try:
            self.control.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if not self.ready:  # still warming up (Ctrl-C early in a grade): it holds nothing worth waiting for
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        with self._lock:
            self.control.close()
        try:
            self.process.wait(timeout=CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        processes.release_spared(self.process.pid)
        shutil.rmtree(self.root, ignore_errors=True)


def _receive(sock: socket.socket, timeout: float) -> dict[str, object]:
    """The zygote's next packet on `sock` (ZygoteError: none in time, the zygote gone, or a refusal)."""
    if not _readable(sock, timeout):
        raise ZygoteError(f"the warm judge did not answer within {timeout:g} s")
    try:
        data = sock.recv(zygote.MAX_PACKET)
    except OSError as exc:
        raise ZygoteError(f"the warm judge is gone ({exc})") from None
    if not data:
        raise ZygoteError("the warm judge ended")
    reply = _decoded(data)
    if "error" in reply:
        raise ZygoteError(str(reply["error"]))
    return reply


def key(suites_dir: Path, cassettes: Path) -> tuple[Path, Path, str]:
    """What a zygote loaded: the suites' folder, with a digest of their text, and the cassettes' folder (a
    judge re-reads the cassettes and parses again any that changed; the suites it finds already imported)."""
    files = sorted(p for p in suites_dir.rglob("*") if p.suffix in (".py", ".ini") and p.is_file())
    # Asked once per judge: the text is read and hashed again only when a file's identity, size or times moved.
    seen = tuple((str(p), _stamp(p)) for p in files)
    with _digests_lock:
        cached = _digests.get(suites_dir)
    if cached is not None and cached[0] == seen:
        return suites_dir, cassettes, cached[1]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(suites_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    with _digests_lock:
        _digests[suites_dir] = (seen, digest.hexdigest())
    return suites_dir, cassettes, digest.hexdigest()


def _stamp(path: Path) -> tuple[int, ...]:
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


_digests: dict[Path, tuple[tuple[tuple[str, tuple[int, ...]], ...], str]] = {}
_digests_lock = threading.Lock()


class _PerThread(threading.local):
    zygote: Zygote | None = None


_blocks: list[tuple[_PerThread, list[Zygote], dict[str, str]]] = []
_blocks_lock = threading.Lock()


@contextmanager
def warm_judges(env: dict[str, str]) -> Iterator[None]:
    """Within the block, each thread's judges fork from one zygote of its own (started with `env`, the
    judges' environment); every zygote ends with the block."""
    if not available():
        yield
        return
    started: list[Zygote] = []
    _blocks.append((_PerThread(), started, env))
    try:
        yield
    finally:
        _blocks.pop()
        for one in started:
            one.close()


def in_block() -> bool:
    """Whether judges started now fork from a `warm_judges` block's zygote."""
    return bool(_blocks)


def for_run(suites_dir: Path, cassettes: Path) -> Zygote | None:
    """This thread's zygote for these suites and cassettes in a `warm_judges` block, else None. Per thread,
    not per block: a zygote dies with the thread that started it (PDEATHSIG is a thread's), so a thread's
    judges fork from the zygote that thread started."""
    if not _blocks:
        return None
    local, started, env = _blocks[-1]
    current = local.zygote
    wanted = key(suites_dir, cassettes)
    if current is not None and current.key == wanted:
        return current if current.serving else None  # once failed, this thread's judges start as interpreters
    fresh = Zygote(suites_dir, cassettes, env)  # none yet, or a suite edited since: load it afresh
    with _blocks_lock:
        started.append(fresh)
    local.zygote = fresh
    if current is not None:
        current.retire()  # it ends once the judges it serves have
    return fresh
