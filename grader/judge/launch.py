"""How the judge starts a sandbox: confined by the layers the parent found, in a fresh box each time.

The policy comes from `grader.sandbox.outside.confinement`: the sandbox's first, trusted step puts every
layer in force on its own process (uid, seccomp, Landlock, namespaces, rlimits) before it imports
the SDKs or the submission. What the sandbox may read is narrower than the judge's own view: Python and
the installed packages, and of the grader only the modules the sandbox runs; never the suites,
the cassettes, the reference solutions or anything else in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grader
from grader.sandbox.outside import confinement, forkserver, users

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
# Where a recording run's reference solution sends its requests (staff only; a local fake in tests).
RECORD_VARIABLES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")

# The grader's own modules the sandbox imports (grader/sandbox/ is readable whole).
SANDBOX_MODULES = ("__init__.py", "wire.py", "gate.py", "submission.py", "clock.py", "given.py", "py.typed")


@dataclass(frozen=True)
class SandboxPlan:
    """What the parent decided for this run's sandboxes: their layers and (as root) their uid."""

    layers: tuple[str, ...]
    uid: int | None

    @classmethod
    def from_options(cls, layers: str, uid: int | None) -> SandboxPlan:
        chosen = tuple(name for name in layers.split(",") if name in confinement.ALL_LAYERS)
        return cls(chosen, uid if "uid" in chosen else None)


NO_CONFINEMENT = SandboxPlan((), None)


def readable_paths() -> tuple[str, ...]:
    """Python, the installed packages (each but the grader's own), and the sandbox's grader modules."""
    package = Path(grader.__file__).resolve().parent
    paths: set[str] = {sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    if sys.prefix != sys.base_prefix:  # a venv: its configuration and interpreter links, not all of it
        venv = Path(sys.prefix)
        paths.update(str(venv / name) for name in ("pyvenv.cfg", "bin", "lib64") if (venv / name).exists())
    for entry in sys.path:
        if not entry or not os.path.isdir(entry) or not entry.startswith((sys.prefix, sys.base_prefix)):
            continue
        if not (Path(entry) / "grader").exists():
            paths.add(entry)
            continue
        # An installed grader sits here with its suites: list the folder, read every other package.
        paths.update(str(child) for child in Path(entry).iterdir() if child.name != "grader")
    paths.add(str(package / "sandbox"))
    paths.update(str(package / name) for name in SANDBOX_MODULES if (package / name).exists())
    return tuple(sorted(paths))


def listable_paths() -> tuple[str, ...]:
    """Folders whose entries the sandbox may list (not read): where Python finds the grader package."""
    package = Path(grader.__file__).resolve().parent
    return (str(package), str(package.parent))


class SandboxProcess(Protocol):
    """What the judge needs of a sandbox process, started (Popen) or forked (`Forked`)."""

    @property
    def pid(self) -> int: ...

    def kill(self) -> None: ...

    def wait(self) -> int: ...


SERVER_STARTUP_SECONDS = 60.0  # importing both SDKs on a loaded machine
CLOSE_SECONDS = 2.0  # for a server told to end to kill its sandboxes and exit (it may be importing the SDKs still)


class ForkServerError(Exception):
    """The fork server is gone or refused: the launcher falls back to starting interpreters."""


class ForkServer:
    """The judge's end of a `grader.sandbox.outside.forkserver`: started at once, it imports the SDKs meanwhile."""

    process: subprocess.Popen[bytes] | None  # None: another process started it (`attach`)

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.ready = False
        self.log = root / "forkserver.log"
        try:
            with open(self.log, "wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-B", "-m", "grader.sandbox.outside.forkserver", str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    cwd=root,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()

    @classmethod
    def attach(cls, fd: int) -> ForkServer:
        """This judge's connection `fd` to a server its parent started (`connect`); closing it closes only `fd`
        (the server then kills the sandboxes forked over it). Its first packet is the server's greeting."""
        server = cls.__new__(cls)
        server.control = socket.socket(fileno=fd)
        server.ready = False
        server.process = None
        return server

    def connect(self) -> int:
        """A new connection to this server for one judge (its fd, the caller's to pass on and close).

        Not waited for: the server takes it once it has imported the SDKs, and greets the judge there,
        so judges start while the server warms up."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self.control, [json.dumps({"op": "attach"}).encode()], [theirs.fileno()])
        except OSError as exc:
            ours.close()
            raise ForkServerError(f"the fork server is gone ({exc})") from None
        finally:
            theirs.close()
        return ours.detach()

    def _ask(self, message: dict[str, object], fds: Sequence[int] = (), timeout: float = 10.0) -> dict[str, object]:
        self._await_ready()
        try:
            if fds:
                socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
            else:
                self.control.send(json.dumps(message).encode())
            return self._receive(timeout)
        except OSError as exc:
            raise ForkServerError(f"the fork server is gone ({exc})") from None

    def _receive(self, timeout: float) -> dict[str, object]:
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(forkserver.MAX_PACKET)
        except TimeoutError:
            raise ForkServerError("the fork server did not answer") from None
        finally:
            self.control.settimeout(None)
        if not data:
            raise ForkServerError("the fork server ended")
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ForkServerError("the fork server sent no object")
        if "error" in reply:
            raise ForkServerError(str(reply["error"]))
        return reply

    def _await_ready(self) -> None:
        if self.ready:
            return
        try:
            hello = self._receive(SERVER_STARTUP_SECONDS)
        except OSError as exc:
            raise ForkServerError(f"the fork server did not start ({exc})") from None
        if hello.get("op") != "ready" or hello.get("threads") != 1:
            raise ForkServerError(f"the fork server is not safe to fork from: {hello}")
        self.ready = True

    def fork(self, policy: confinement.Policy, sock: socket.socket, log: int) -> Forked:
        reply = self._ask(
            {"op": "fork", "policy": policy.to_json(), "submission": str(policy.submission)}, (sock.fileno(), log)
        )
        pid = reply.get("pid")
        if type(pid) is not int:
            raise ForkServerError(f"the fork server answered {reply}")
        return Forked(self, pid)

    def wait(self, pid: int) -> int:
        code = self._ask({"op": "wait", "pid": pid}, timeout=30.0).get("code")
        return code if type(code) is int else -1

    def reset(self) -> None:
        """Kill every sandbox of the server that still runs (after a judge, before the next one)."""
        self._ask({"op": "reset"}, timeout=30.0)

    def close(self) -> None:
        """End the server (its children die with it) and wait for it; an attached one is only let go."""
        if self.process is None:
            self.control.close()
            return
        warm = self.ready or self._greeted()  # peeked before the socket closes
        self.control.close()
        try:
            # The end of its first socket makes it kill and reap every sandbox it forked, then exit. A server that
            # has not said it is ready is still importing the SDKs and has forked nothing: it is killed at once,
            # so a Ctrl-C early in a grade is not held up until the import ends.
            if warm:
                self.process.wait(timeout=CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        finally:  # whatever interrupted the wait
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()

    def _greeted(self) -> bool:
        """Whether the server has said it is ready (or ended): its greeting waits on the first socket, unread
        when only the judges it was attached to ever asked it for anything."""
        try:
            self.control.recv(forkserver.MAX_PACKET, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True


class Forked:
    """A sandbox forked by the server: a child of the server, so its exit code is asked of the server."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self._pid = pid
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self._pid

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        if self.returncode is None:
            try:
                self.returncode = self.server.wait(self._pid)
            except ForkServerError:
                self.returncode = -signal.SIGKILL  # it died with its server
        return self.returncode


class Launcher:
    """Starts sandboxes for one judge; each start gets a fresh box under a private folder.

    Where fork is available each sandbox is forked from a warm server started with the launcher; a
    server that is gone or unsafe is closed and every later sandbox starts as its own interpreter.
    """

    def __init__(
        self, plan: SandboxPlan, env: dict[str, str], *, fork: bool | None = None, server_fd: int | None = None
    ) -> None:
        self.plan = plan
        self.extra_env = env
        self.root = Path(tempfile.mkdtemp(prefix="grader-judge-"))
        os.chmod(self.root, 0o711)  # the sandbox's uid may pass through to its own box, never list
        self.starts = 0
        self.log: Path | None = None
        self.server: ForkServer | None = None
        self.fallback: str | None = None  # why sandboxes are started as interpreters, when they are
        if fork is None:
            fork = forkserver.available()
        if server_fd is not None and fork:  # a batch worker's warm server, shared by its judges
            self.server = ForkServer.attach(server_fd)
        elif fork:
            home = self.root / "server-home"
            home.mkdir(mode=0o700)
            self.server = ForkServer(self.root, confinement.environment(home, {}))
        else:
            self.fallback = forkserver.unavailable() or "this judge was told not to fork"

    def __call__(self, sock: socket.socket, submission: Path) -> SandboxProcess:
        """Start a sandbox serving `sock` (its end of the pair) on its own copy of `submission`."""
        self.starts += 1
        box = self.root / f"box-{self.starts}"
        home = box / "home"
        policy = confinement.make_policy(
            confinement.Capabilities(self.plan.layers, {}),
            box=box,
            submission=submission,
            readable=readable_paths(),
            listable=listable_paths(),
            env=confinement.environment(home, self.extra_env),
            uid=self.plan.uid,
        )
        confinement.prepare_box(policy)
        self.log = self.root / f"sandbox-{self.starts}.log"
        with open(self.log, "wb") as log:
            if self.server is not None:
                try:
                    return self.server.fork(policy, sock, log.fileno())
                except ForkServerError as exc:
                    self.fallback = f"the fork server failed ({exc})"
                    self.server.close()
                    self.server = None
                    sys.stderr.write(f"grader: {self.fallback}; sandboxes start as interpreters from now on\n")
            return subprocess.Popen(
                confinement.command(policy, sock.fileno()),
                pass_fds=(sock.fileno(),),
                cwd=self.root,
                env=dict(policy.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def clean_up(self) -> None:
        """Every process of the sandbox's uid, wherever it went (setsid, double fork)."""
        if self.plan.uid is not None:
            users.kill_all(self.plan.uid)

    def close(self) -> None:
        """After the judge's last sandbox: its processes and its fork server killed, then every box and log removed."""
        self.clean_up()
        if self.server is not None:
            self.server.close()
            self.server = None
        shutil.rmtree(self.root, ignore_errors=True)

    def last_words(self) -> str:
        """The end of the latest sandbox's own output (the confine step's reason when a layer failed)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_bytes()[-2000:].decode("utf-8", "replace")


def planted_keys() -> dict[str, str]:
    """Realistic in shape, obviously fake, different every run (so a leak can be searched for)."""
    return {
        "OPENAI_API_KEY": f"sk-proj-GRADER-FAKE-{secrets.token_urlsafe(24)}",
        "ANTHROPIC_API_KEY": f"sk-ant-api03-GRADER-FAKE-{secrets.token_urlsafe(24)}",
    }


def sandbox_keys(record: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(the keys the sandbox gets, other variables it gets): planted fakes, or the real ones to record."""
    if record:
        keys = {name: os.environ.get(name, "") for name in KEY_VARIABLES}
        return keys, {name: os.environ[name] for name in RECORD_VARIABLES if name in os.environ}
    return planted_keys(), {}


def spawn(launcher: Launcher, submission: Path) -> tuple[SandboxProcess, socket.socket]:
    """Start one sandbox serving `submission` on a new socket; the judge's end of the socket comes back."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return launcher(theirs, submission), ours
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()


def layers_option(layers: Sequence[str]) -> str:
    return ",".join(layers) or "none"
