"""Issue 20, classes 2 and 7, and issue 23's fork server: one sandbox per exercise and visibility, forked
from a warm server that no sandbox can reach.

Each attack is written as a submission through the public interface only: a module that sabotages
its process at import, a submission that stores what hidden checks send it and replays it into the
feedback of visible checks, and a submission that goes after the fork server its sandbox came from.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import course
from grader.judge import launch
from grader.parent import grading
from grader.sandbox.outside import confinement, forkserver
from tests.conftest import REFERENCE, GradeRun
from tests.support import procs

# A module that, at its import, breaks everything the process it runs in could still be asked to do.
SABOTAGE = """
import atexit as _atexit
import importlib as _importlib
import os as _os
import sys as _sys
import threading as _threading


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def _always_equal(*args, **kwargs):
    return _AlwaysEqual()


for _name in {others!r}:
    try:
        _module = _importlib.import_module("exercises." + _name)
    except BaseException:
        continue
    for _attr, _value in list(vars(_module).items()):
        if callable(_value) and not isinstance(_value, type) and getattr(_value, "__module__", "") == _module.__name__:
            setattr(_module, _attr, _always_equal)
_sys.setrecursionlimit(45)
_atexit.register(_os._exit, 0)
_threading.Thread(target=_threading.Event().wait, daemon=True).start()
"""


def _copy(tmp_path: Path) -> Path:
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    return submission


def test_class7_a_module_that_sabotages_its_process_costs_only_its_own_exercise(grade, tmp_path: Path):
    saboteur = course.COURSE[0].id  # graded first: in a shared process it would reach every other exercise
    others = [e.id for e in course.COURSE if e.id != saboteur]
    submission = _copy(tmp_path)
    module = submission / f"{saboteur}.py"
    module.write_text(module.read_text() + SABOTAGE.format(others=others))
    run = grade(submission, "--check-timeout", "5")
    assert run.returncode == 0, run.output
    for exercise in others:
        graded = run.exercise(exercise)
        failed = [(t["id"], t["feedback"][:200]) for t in graded["tests"] if t["status"] != "passed"]
        assert graded["score"] == graded["max_score"], failed
    assert "Grader problem" not in run.output


# Everything a call sees is kept in memory and in a file in the sandbox's home, tagged with a token drawn
# when the module loads; every call raises it all into its check's feedback. The check ids come from the
# runtime's own `begin` messages (the submission rewrites the sandbox's copy of it).
REPLAY = """
import secrets as _secrets
import sys as _sys
from pathlib import Path as _Path

_TOKEN = "TOK" + _secrets.token_hex(6) + "END"
_seen = []
_runtime = _sys.modules.get("grader.sandbox.inside.runtime")
if _runtime is not None:
    _begin = _runtime.Runtime.op_begin

    def _spying_begin(self, message):
        _seen.append("BEGIN " + repr(message))
        return _begin(self, message)

    _runtime.Runtime.op_begin = _spying_begin


def _everything(entry):
    _seen.append(entry)
    store = _Path.home() / "seen.txt"
    try:
        with open(store, "a", encoding="utf-8") as handle:
            handle.write(entry + "\\n")
        kept = store.read_text(encoding="utf-8").splitlines()
    except OSError:
        kept = []
    return " | ".join(dict.fromkeys(kept + _seen))


def ask_openai(client, prompt, **kwargs):
    raise ValueError("LOG " + _everything(f"{_TOKEN} openai {prompt!r} {kwargs!r}"))


def ask_anthropic(client, prompt, **kwargs):
    raise ValueError("LOG " + _everything(f"{_TOKEN} anthropic {prompt!r} {kwargs!r}"))
"""

_TOKENS = re.compile(r"TOK[0-9a-f]{12}END")


def test_class2_what_hidden_checks_send_never_reaches_visible_feedback(grade, tmp_path: Path):
    submission = _copy(tmp_path)
    module = submission / "basic_call.py"
    module.write_text(module.read_text() + REPLAY)
    run = grade(submission, "basic_call", "--check-timeout", "5")
    assert run.returncode == 0, run.output
    tests = run.exercise("basic_call")["tests"]
    hidden = [t for t in tests if t["visibility"] == "hidden"]
    visible = [t for t in tests if t["visibility"] != "hidden"]
    assert hidden and visible
    hidden_tokens = {token for t in hidden for token in _TOKENS.findall(t["feedback"])}
    assert hidden_tokens, "the hidden checks never ran the submission's code"
    hidden_names = {t["id"].rpartition("::")[2] for t in hidden}
    for check in visible:
        assert not set(_TOKENS.findall(check["feedback"])) & hidden_tokens, check["feedback"]
        assert not [name for name in hidden_names if name in check["feedback"]], check["feedback"]
        assert "test_hidden" not in check["feedback"]


def test_the_sandbox_is_never_told_a_check_id(grade, tmp_path: Path):
    submission = _copy(tmp_path)
    module = submission / "basic_call.py"
    module.write_text(module.read_text() + REPLAY)
    run = grade(submission, "basic_call", "--check-timeout", "5")
    begins = [t["feedback"] for t in run.exercise("basic_call")["tests"] if "BEGIN" in t["feedback"]]
    assert begins, run.output  # the spy saw the begin messages
    for feedback in begins:
        assert "test_" not in feedback and "::" not in feedback, feedback


# The fork server the sandbox came from: found by its command line (any uid may read that in /proc),
# then signalled, traced, read and written by every route; each that works is an escape.
REACH_THE_SERVER = """
def _reach():
    import ctypes, os, socket
    escaped = []
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if entry.isdigit() and b"grader.sandbox.outside.forkserver" in handle.read():
                    found.append(int(entry))  # forked sandboxes carry the server's command line too
        except OSError:
            pass
    mine = os.getpid()
    found = [pid for pid in found if pid != mine]
    if not found:
        raise RuntimeError("NOT FOUND: no fork server in /proc")
    for pid in sorted(set(found + [os.getppid()])):
        try:
            os.kill(pid, 0)
            escaped.append(f"can signal {pid}")
        except OSError:
            pass
        for name, mode in (("mem", "rb"), ("environ", "rb"), ("maps", "rb"), ("oom_score_adj", "w")):
            try:
                with open(f"/proc/{pid}/{name}", mode) as handle:
                    if "w" in mode:
                        handle.write("1000")
                    else:
                        handle.read(64)
                escaped.append(f"/proc/{pid}/{name} ({mode})")
            except OSError:
                pass
        try:
            os.listdir(f"/proc/{pid}/fd")
            escaped.append(f"listed /proc/{pid}/fd")
        except OSError:
            pass
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
            escaped.append(f"ptrace {pid}")
    kind, size = ctypes.c_int(0), ctypes.c_uint(4)
    for fd in range(3, 256):  # getsockopt(SO_TYPE) through libc: a socket object would trip the audit hook
        if libc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_TYPE, ctypes.byref(kind), ctypes.byref(size)) != 0:
            continue
        if kind.value == socket.SOCK_SEQPACKET:
            escaped.append(f"holds the fork server's socket (fd {fd})")
    if escaped:
        raise RuntimeError("ESCAPED: " + "; ".join(escaped))


_reach()
"""

needs_fork = pytest.mark.skipif(not forkserver.available(), reason="sandboxes are forked on Linux only")


@needs_fork
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the full level needs root")
def test_no_sandbox_can_signal_trace_read_or_write_its_fork_server(grade: Callable[..., GradeRun], tmp_path: Path):
    submission = _copy(tmp_path)
    module = submission / "basic_call.py"
    module.write_text(module.read_text() + REACH_THE_SERVER)
    run = grade(submission, "basic_call", "--check-timeout", "5")
    assert run.returncode == 0, run.output
    basic = run.exercise("basic_call")
    assert basic["score"] == basic["max_score"], [t["feedback"] for t in basic["tests"] if t["status"] != "passed"][:1]
    assert run.report is not None and run.report["sandbox"]["level"] == "full"


def _ready(sock: socket.socket) -> dict[str, object]:
    from grader import wire

    return wire.receive(sock, time.monotonic() + 60)


@needs_fork
def test_a_sandbox_ended_is_replaced_by_a_fresh_fork_and_nothing_outlives_the_launcher(tmp_path: Path):
    launcher = launch.Launcher(launch.NO_CONFINEMENT, launch.planted_keys(), fork=True)
    try:
        assert launcher.server is not None
        server = launcher.server.process.pid
        first, first_sock = launch.spawn(launcher, _copy(tmp_path))
        assert _ready(first_sock)["op"] == "ready"
        assert procs.parent(first.pid) == server  # forked, not a new interpreter
        first.kill()
        assert first.wait() == -9
        second, second_sock = launch.spawn(launcher, tmp_path / "submission")
        assert _ready(second_sock)["op"] == "ready"
        assert second.pid != first.pid and procs.parent(second.pid) == server
        assert launcher.server is not None and launcher.server.process.pid == server
        for sock in (first_sock, second_sock):
            sock.close()
    finally:
        launcher.close()
    assert not procs.alive(server) and not procs.alive(second.pid)
    assert not launcher.root.exists()


# Each submission's sandboxes say which process forked them, and mark the grader's own runtime module, in
# their memory, for a later sandbox of the same server to find.
MARK = """
import os as _os
import sys as _sys


def ask_openai(client, prompt, **kwargs):
    runtime = _sys.modules["grader.sandbox.inside.runtime"]
    before = getattr(runtime, "_left_by", None)
    runtime._left_by = _WHO
    raise ValueError(f"SERVER={_os.getppid()} BEFORE={before}")
"""


@needs_fork
def test_a_batch_worker_forks_every_submission_from_one_clean_server(tmp_path: Path):
    from tests.test_batch import run_batch

    folder = tmp_path / "class"
    for name in ("ada", "bob", "cy"):
        submission = folder / name
        shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
        module = submission / "basic_call.py"
        module.write_text(module.read_text() + f"\n_WHO = {name!r}\n" + MARK)
    done = run_batch(folder, tmp_path / "grades.csv", "-j", "1", "--check-timeout", "5", exercises=("basic_call",))
    assert done.returncode == 0, done.stdout + done.stderr
    servers: set[str] = set()
    for name in ("ada", "bob", "cy"):
        report = json.loads((tmp_path / "feedback" / f"{name}.json").read_text())
        feedback = " ".join(t["feedback"] for e in report["exercises"] for t in e["tests"])
        servers.update(re.findall(r"SERVER=(\d+)", feedback))
        left = set(re.findall(r"BEFORE=(\w+)", feedback))
        assert "None" in left and left <= {"None", name}, left  # its own earlier checks only, never another's
    assert len(servers) == 1, servers  # one warm server for the worker, not one per submission
    assert not procs.alive(int(servers.pop()))  # and it ended with the batch


def test_class6_a_large_file_and_thousands_of_small_ones_still_grade_and_are_named(grade, tmp_path: Path):
    submission = _copy(tmp_path)
    with open(submission / "dataset.bin", "wb") as handle:
        handle.truncate(200 * 1024**2)  # sparse: no disk is used, but it is larger than the sandbox's box
    notes = submission / "notes"
    notes.mkdir()
    for number in range(3000):
        (notes / f"note-{number}.txt").write_text("x")
    run = grade(submission, "basic_call", "--check-timeout", "5")
    assert run.returncode == 0, run.output
    basic = run.exercise("basic_call")
    assert basic["score"] == basic["max_score"], [t["feedback"] for t in basic["tests"] if t["status"] != "passed"][:1]
    assert "Grader problem" not in run.output
    assert run.report is not None
    named = [note for note in run.report["notes"] if "left out of grading" in note]
    assert len(named) == 1, run.report["notes"]
    assert named[0].startswith("dataset.bin and 2,") and "\n" not in named[0], named  # the largest, then a count


# What a check sends, kept where a later sandbox of the same grade could look: a SysV shared-memory
# segment and message queue (they outlive their process and are not files, so no box or Landlock rule
# covers them), and a file in the folder above the sandbox's own box (where the earlier boxes sit).
MACHINE_WIDE = """
import ctypes as _ct
import os as _os
import secrets as _secrets
from pathlib import Path as _Path

_TOKEN = "TOK" + _secrets.token_hex(6) + "END"
_KEY = {key}
_libc = _ct.CDLL(None, use_errno=True)
_libc.shmat.restype = _ct.c_void_p
_libc.shmat.argtypes = [_ct.c_int, _ct.c_void_p, _ct.c_int]
_SIZE = 1 << 16


def _segment(entry):
    shmid = _libc.shmget(_KEY, _SIZE, 0o1666)  # IPC_CREAT
    if shmid < 0:
        return "shm refused errno=" + str(_ct.get_errno())
    address = _libc.shmat(shmid, None, 0)
    if address in (None, _ct.c_void_p(-1).value):
        return "shmat refused"
    old = _ct.string_at(address).decode("utf-8", "replace")
    new = (old + " | " + entry).encode()[-(_SIZE - 1):]
    _ct.memmove(address, new + b"\\0", len(new) + 1)
    return old


class _Message(_ct.Structure):
    _fields_ = [("mtype", _ct.c_long), ("mtext", _ct.c_char * 4096)]


def _queue(entry):
    queue = _libc.msgget(_KEY + 1, 0o1666)
    if queue < 0:
        return "msg refused"
    seen = []
    message = _Message()
    while _libc.msgrcv(queue, _ct.byref(message), 4096, 0, 0o4000) >= 0:  # IPC_NOWAIT
        seen.append(message.mtext.decode("utf-8", "replace"))
    for kept in [*seen, entry]:
        out = _Message(1, kept.encode()[:4000])
        _libc.msgsnd(queue, _ct.byref(out), len(out.mtext) + 1, 0o4000)
    return " | ".join(seen)


def _posix_queue(entry):
    name = b"/grader-test-{key}"
    _libc.mq_open.restype = _ct.c_int
    queue = _libc.mq_open(name, 0o102 | 0o4000, 0o666, None)  # O_CREAT | O_RDWR | O_NONBLOCK
    if queue < 0:
        return "mq refused errno=" + str(_ct.get_errno())
    seen = []
    buffer = _ct.create_string_buffer(8192)
    while _libc.mq_receive(queue, buffer, 8192, None) >= 0:
        seen.append(buffer.value.decode("utf-8", "replace"))
    for kept in [*seen, entry]:
        data = kept.encode()[:4000]
        _libc.mq_send(queue, data, len(data), 0)
    return " | ".join(seen)


def _beside(entry):
    found = []
    above = _Path(_os.getcwd()).resolve().parent.parent
    try:
        for path in above.glob("*/*/seen.txt"):
            found.append(path.read_text(errors="replace"))
    except OSError:
        pass
    try:
        with open("seen.txt", "a") as handle:
            handle.write(entry + "\\n")
    except OSError:
        pass
    return " | ".join(found)


def _everything(entry):
    channels = (("SHM", _segment), ("MSG", _queue), ("MQ", _posix_queue), ("FILES", _beside))
    return entry + "".join(f" {{name}} {{channel(entry)}}" for name, channel in channels)


def ask_openai(client, prompt, **kwargs):
    raise ValueError("LOG " + _everything(f"{{_TOKEN}} openai {{prompt!r}}"))


def ask_anthropic(client, prompt, **kwargs):
    raise ValueError("LOG " + _everything(f"{{_TOKEN}} anthropic {{prompt!r}}"))
"""

# Where the box is on disk and the sandbox shares the machine's IPC namespace: a container without
# CAP_SYS_ADMIN (run as root here, so that this machine's private Python stays readable to the sandbox).
ON_DISK = confinement.Capabilities(
    ("seccomp", "landlock", "rlimits", "nproc", "session", "env-allowlist"),
    {"uid": "masked by the test", "scratch-cap": "masked by the test", "netns": "masked by the test"},
)


def _remove_ipc(key: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(key, 0, 0)
    if shmid >= 0:
        libc.shmctl(shmid, 0, None)  # IPC_RMID
    queue = libc.msgget(key + 1, 0)
    if queue >= 0:
        libc.msgctl(queue, 0, None)
    libc.mq_unlink(f"/grader-test-{key}".encode())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SysV IPC and the box as tested here are Linux")
@pytest.mark.parametrize("level", ["full", "on-disk"])
def test_class2_no_machine_wide_channel_carries_hidden_inputs_to_visible_checks(
    level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if level == "on-disk":
        monkeypatch.setattr(confinement, "probe", lambda: ON_DISK)
    elif os.geteuid() != 0:
        pytest.skip("the full level needs root")
    key = secrets.randbelow(1 << 30) + 0x1000
    submission = _copy(tmp_path)
    module = submission / "basic_call.py"
    module.write_text(module.read_text() + MACHINE_WIDE.format(key=key))
    exercise = next(e for e in course.gradable() if e.id == "basic_call")
    try:
        result = grading.grade_submission([exercise], submission, time_limit=240, check_timeout=5)
    finally:
        _remove_ipc(key)
    checks = result.exercises[0].results
    hidden = [c for c in checks if c.check.visibility == "hidden"]
    visible = [c for c in checks if c.check.visibility != "hidden"]
    assert hidden and visible
    hidden_tokens = {token for c in hidden for token in _TOKENS.findall(c.feedback)}
    assert hidden_tokens, [c.feedback for c in hidden][:1]
    for check in visible:
        leaked = set(_TOKENS.findall(check.feedback)) & hidden_tokens
        assert not leaked, check.feedback


def test_the_fork_servers_warm_up_makes_every_kind_of_request_offline(monkeypatch: pytest.MonkeyPatch):
    """The warm-up runs each SDK's calls (reply, stream, each error status) against canned replies only."""
    import socket as socket_module

    from grader.sandbox.inside import warmup

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warm-up opened a socket")

    monkeypatch.setattr(socket_module, "create_connection", refuse)
    monkeypatch.setattr(socket_module.socket, "connect", refuse)
    answered = warmup.warm()
    kinds = 2 + len(warmup._ERRORS)  # a reply, a stream, then one request per error status
    assert answered.count("/v1/chat/completions") == kinds, answered
    assert answered.count("/v1/messages") == kinds, answered


@needs_fork
def test_a_fork_server_that_fails_is_replaced_by_interpreters_and_the_parent_is_told(tmp_path: Path):
    import io
    from types import SimpleNamespace

    from grader.channel import ChildChannel
    from grader.judge.session import GradingSession

    launcher = launch.Launcher(launch.NO_CONFINEMENT, launch.planted_keys(), fork=True)
    stream = io.StringIO()
    grading = GradingSession(None, ChildChannel(b"k", stream), {}, SimpleNamespace(launcher=launcher), None)  # type: ignore[arg-type]
    try:
        assert launcher.server is not None and launcher.server.process is not None
        _first, first_sock = launch.spawn(launcher, _copy(tmp_path))
        assert _ready(first_sock)["op"] == "ready"
        grading.tell_start()
        assert stream.getvalue() == ""  # forked: nothing to tell
        server = launcher.server.process.pid
        os.kill(server, 9)  # the server dies (here by our hand; no sandbox can reach it)
        launcher.server.process.wait()
        second, second_sock = launch.spawn(launcher, tmp_path / "submission")
        assert _ready(second_sock)["op"] == "ready"  # a sandbox all the same, started as an interpreter
        assert procs.parent(second.pid) == os.getpid() and launcher.server is None
        assert launcher.fallback is not None and "fork server" in launcher.fallback
        grading.tell_start()
        grading.tell_start()
        records = [json.loads(json.loads(line)["payload"]) for line in stream.getvalue().splitlines()]
        assert records == [{"event": "sandbox-start", "reason": launcher.fallback, "start": "interpreter"}]
        for sock in (first_sock, second_sock):
            sock.close()
    finally:
        launcher.close()


def test_the_report_says_how_sandboxes_started_and_why(tmp_path: Path):
    from tests.conftest import run_grade

    run = run_grade(tmp_path, _copy(tmp_path), "basic_call", env={forkserver.SWITCH: "0"})
    assert run.returncode == 0, run.output
    assert run.exercise("basic_call")["score"] == run.exercise("basic_call")["max_score"]
    assert run.report is not None
    assert run.report["sandbox"]["start"] == "interpreter", run.report["sandbox"]
    assert run.report["sandbox"]["start_reason"] == f"{forkserver.SWITCH}=0", run.report["sandbox"]
