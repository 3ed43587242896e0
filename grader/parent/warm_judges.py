"""Warm judges: judges forked from a zygote that has loaded pytest, the plugin, the cassettes and the suites.

Within a `warm_judges()` block (a batch, a watch session), each thread's first judge starts a zygote
(`grader.judge.zygote`) for the run's suites and cassettes; that judge and every later one of the thread is
forked from it instead of started as an interpreter, so the judge's start-up (about 1.6 CPU seconds) is
paid once per thread, not once per submission or round. A judge forked so is the same program with the
same arguments, environment, descriptors, limits and process group as one started as an interpreter.

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
from collections.abc import Iterator, Sequence
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
    """A judge forked by the zygote, seen as Popen sees its child: the zygote tells how it ended."""

    def __init__(self, control: socket.socket, pid: int, args: Sequence[str]) -> None:
        self._control = control
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None

    def _read(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        if not _readable(self._control, timeout):
            return
        try:
            data = self._control.recv(zygote.MAX_PACKET)
        except OSError:
            data = b""
        code = _decoded(data).get("code") if data else None
        # The zygote gone (the judge dies with it) or garbled: as if killed.
        self.returncode = code if type(code) is int else -signal.SIGKILL

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
        self.broken = False
        self._judge: ForkedJudge | None = None
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

    def _receive(self, timeout: float) -> dict[str, object]:
        if not _readable(self.control, timeout):
            raise ZygoteError(f"the warm judge did not answer within {timeout:g} s")
        try:
            data = self.control.recv(zygote.MAX_PACKET)
        except OSError as exc:
            raise ZygoteError(f"the warm judge is gone ({exc})") from None
        if not data:
            raise ZygoteError("the warm judge ended")
        reply = _decoded(data)
        if "error" in reply:
            raise ZygoteError(str(reply["error"]))
        return reply

    def _await_ready(self) -> None:
        if self.ready:
            return
        hello = self._receive(READY_SECONDS)
        if hello.get("op") != "ready" or hello.get("threads") != 1:
            raise ZygoteError(f"the warm judge is not safe to fork from: {hello}")
        self.ready = True

    def start(self, command: processes.Command) -> processes.Limited:
        """`command` (`python -m grader.judge ARGS`) as a judge forked from this zygote, under its limits; the
        caller hands the result to `processes.finish_limited`. ZygoteError: start it as an interpreter."""
        args, limits = list(command.argv[3:]), command.limits
        try:
            self._await_ready()
            request = {
                "op": "start", "args": args, "cwd": str(command.cwd), "env": command.env, "fds": list(command.pass_fds),
                "limits": [limits.memory_bytes, limits.file_bytes],
            }  # fmt: skip
            with open(command.output, "wb") as out:
                socket.send_fds(self.control, [json.dumps(request).encode()], [out.fileno(), *command.pass_fds])
            pid = self._receive(READY_SECONDS).get("pid")
        except (ZygoteError, OSError) as exc:
            self.broken = True
            raise ZygoteError(str(exc)) from None
        if type(pid) is not int:
            self.broken = True
            raise ZygoteError(f"the warm judge answered no pid ({pid!r})")
        self._judge = ForkedJudge(self.control, pid, command.argv)
        return processes.adopt_limited(self._judge, limits, os.dup(self.control.fileno()))

    def busy(self) -> bool:
        """Whether a judge it forked still runs: it serves one at a time, so another must start elsewhere."""
        return self._judge is not None and self._judge.poll() is None

    def close(self) -> None:
        """End the zygote (a judge it forked dies with it) and wait for it."""
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


def for_run(suites_dir: Path, cassettes: Path) -> Zygote | None:
    """This thread's zygote for these suites and cassettes in a `warm_judges` block, else None."""
    if not _blocks:
        return None
    local, started, env = _blocks[-1]
    current = local.zygote
    if current is not None and current.broken:
        return None  # it failed once: this thread's judges start as interpreters from now on
    if current is not None and current.busy():
        return None  # several judges started side by side (GRADER_JUDGES): the others start as interpreters
    if current is None or current.key != key(suites_dir, cassettes):  # a suite edited since: load it afresh
        if current is not None:  # its last judge has ended: it serves no one now
            with _blocks_lock:
                started.remove(current)
            current.close()
        current = Zygote(suites_dir, cassettes, env)
        with _blocks_lock:
            started.append(current)
        local.zygote = current
    return current
