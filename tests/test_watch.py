"""`grade --watch`: re-grades what a save changes, keeps one fork server warm, and leaves nothing behind.

The watch runs as a subprocess on a copy of the reference; the tests save files into it and read its output
until a round's total appears. What runs is read from /proc: the fork server's pid and start time (the same
server in every round), the page faults of the children it reaped (its sandboxes, so the round's judge forked
from it), and after Ctrl-C every pid of the watch's process tree gone and its temporary folder empty.
Nothing here depends on how fast the machine is: each wait is for an output line or a process, with a
timeout that only stops a hung run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader import course
from grader.parent import changes
from tests.conftest import REFERENCE
from tests.support import platforms, procs

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
HUNG = 900.0  # seconds: only a run that is stuck takes this long, however loaded the machine
WATCHED = ("basic_call", "temperature")
# Appended to the reference's temperature.py: the module fails at import once `broken.txt` sits beside it.
# A .txt is not a module, so creating it starts no round; only a round that grades temperature again sees it.
BREAKS_ON_FLAG = """
import os as _os
if _os.path.exists(_os.path.join(_os.path.dirname(__file__), "broken.txt")):
    raise RuntimeError("broken.txt is here")
"""
# Appended to basic_call.py: ask_openai waits forever without using the CPU (freezegun fakes sleep, not locks).
HANGS = """
import threading as _threading


def ask_openai(*args, **kwargs):
    _threading.Event().wait()
"""


# --- which exercises a save re-grades (pure) ---------------------------------------------------------------


def _imports() -> dict[str, frozenset[str]]:
    return changes.imports_of(REFERENCE, [e.id for e in course.COURSE])


EVERY = tuple(e.id for e in course.COURSE)


def test_a_saved_exercise_module_regrades_that_exercise_only() -> None:
    plan = changes.plan(["basic_call.py"], EVERY, EVERY, _imports())
    assert plan.regrade == ("basic_call",)
    assert plan.header(EVERY) == "Saved basic_call.py: re-grading basic_call"


def test_a_module_that_others_import_regrades_them_too() -> None:
    # providers.py does `from .token_counter import Usage`.
    assert _imports()["providers"] == frozenset({"token_counter"})
    plan = changes.plan(["token_counter.py"], EVERY, EVERY, _imports())
    assert plan.regrade == ("token_counter", "providers")


def test_every_import_form_of_another_exercise_is_followed(tmp_path: Path) -> None:
    forms = {
        "basic_call": "from . import temperature\n",
        "temperature": "import exercises.token_counter\n",
        "token_counter": "from exercises.api_keys import x\n",
        "api_keys": "from exercises import providers\n",
        "providers": "from .streaming_chat import y\nfrom .. import error_handler\n",
        "streaming_chat": "import os\nfrom os import path\n",
        "error_handler": "def f(:\n",
    }
    for name, source in forms.items():
        (tmp_path / f"{name}.py").write_text(source)
    found = changes.imports_of(tmp_path, list(forms))
    assert found == {
        "basic_call": {"temperature"},
        "temperature": {"token_counter"},
        "token_counter": {"api_keys"},
        "api_keys": {"providers"},
        "providers": {"streaming_chat"},  # `from ..` leaves the package: not an exercise of this submission
        "streaming_chat": set(),
        "error_handler": set(),  # does not parse: fails at import whatever it would use
    }
    # Transitively: a save of streaming_chat.py reaches everything that imports it, however indirectly.
    plan = changes.plan(["streaming_chat.py"], list(forms), list(forms), found)
    assert set(plan.regrade) == {"streaming_chat", "providers", "api_keys", "token_counter", "temperature",
                                 "basic_call"}  # fmt: skip


@pytest.mark.parametrize("saved", ["__init__.py", "helpers.py", "sub/basic_call.py"])
def test_a_module_any_exercise_may_import_regrades_all(saved: str) -> None:
    plan = changes.plan([saved, "basic_call.py"], EVERY, EVERY, _imports())
    assert plan.regrade == EVERY
    assert "any exercise may import it" in plan.header(EVERY)


def test_all_regrades_all_and_an_exercise_not_watched_regrades_nothing() -> None:
    assert changes.plan(["basic_call.py"], WATCHED, EVERY, _imports(), every_time=True).regrade == WATCHED
    plan = changes.plan(["api_keys.py"], WATCHED, EVERY, _imports())
    assert plan.regrade == ()
    assert plan.header(WATCHED) == "Saved api_keys.py: nothing to re-grade (watching basic_call, temperature only)"


# --- the command, refused where it makes no sense -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--official"], {}, "--official"),
        ([], {"GITHUB_ACTIONS": "true"}, "GITHUB_ACTIONS=true"),
        (["--github"], {}, "--github"),
        (["--junit", "j.xml"], {}, "--junit"),
        (["--gradescope", "g.json"], {}, "--gradescope"),
        (["--fail-under", "50"], {}, "--fail-under"),
        (["--failed"], {}, "--failed"),
    ],
)
def test_watch_is_refused_in_official_and_machine_modes(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--watch", "--submission", str(REFERENCE),
         "--json", str(tmp_path / "r.json"), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=HUNG,
        env={**{k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}, **env},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stdout and "--watch" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "r.json").exists()  # refused before anything was graded


def test_all_without_watch_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--all", "--submission", str(REFERENCE), "--json", "r.json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=HUNG,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--all" in done.stdout and "needs --watch" in done.stdout


@LINUX_PROC
def test_the_last_sweep_ends_a_child_that_no_run_recorded_and_its_group() -> None:
    """A judge started, but not yet recorded, when Ctrl-C came is owned by nobody: `end_children` ends it and
    what it started in its group (run in a process of its own: it ends every child of the caller)."""
    script = """
import os, subprocess, sys, time
from grader.parent import processes
judge = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
    "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(flush=True); time.sleep(600)"], start_new_session=True, stdout=subprocess.PIPE)
judge.stdout.readline()  # its own child has started
group = [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == judge.pid]
processes.end_children()
# SIGKILL is delivered, not done: the judge's child (not ours to reap) may take a moment to die on a busy machine.
for _ in range(100):
    left = sum(os.path.exists(f"/proc/{p}") and _state(p) not in ("Z", "X", "gone") for p in group)
    if not left:
        break
    time.sleep(0.05)
print(len(group), left)
for p in group:  # what a broken sweep left, so that this test fails instead of leaving it
    try:
        os.kill(p, 9)
    except OSError:
        pass
"""
    helpers = """
import os
def _pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return -1
def _state(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "gone"
"""
    done = subprocess.run([sys.executable, "-c", helpers + script], capture_output=True, text=True, timeout=HUNG)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "0"], done.stdout  # the judge and its child: both ended


# --- the watch itself, as a subprocess ------------------------------------------------------------------------


class Watch:
    """`grade --watch` running in a subprocess; its output is read line by line as it comes."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
        )  # fmt: skip
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<end of output>")
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_round(self, number: int) -> None:
        """Until round `number` has printed its total and the watch waits for the next save."""
        deadline = time.monotonic() + HUNG
        with self._changed:
            while sum(line.startswith("Watching ") for line in self.lines) < number:
                assert "<end of output>" not in self.lines, self.output
                assert self._changed.wait(max(0.0, deadline - time.monotonic())), f"no round {number}:\n{self.output}"

    def since_round(self, number: int) -> list[str]:
        """The lines printed after round `number` ended."""
        ends = [i for i, line in enumerate(self.lines) if line.startswith("Watching ")]
        return self.lines[ends[number - 1] + 1 :]

    def pid(self) -> int:
        """The watching grader's pid (not runuser's, when run as another user)."""
        deadline = time.monotonic() + HUNG
        while time.monotonic() < deadline:
            for proc in [procs.read(self.process.pid), *procs.descendants(self.process.pid)]:
                if proc is not None and proc.command.split()[1:4] == ["-m", "grader", "grade"]:
                    return proc.pid
            time.sleep(0.05)
        raise AssertionError("the grader never started")

    def servers(self) -> list[procs.Proc]:
        return [p for p in procs.descendants(self.pid()) if "grader.sandbox.outside.forkserver" in p.command]

    def zygotes(self) -> list[procs.Proc]:
        """The warm judge each round's judge is forked from (its children run `grader.judge`'s main)."""
        return [p for p in procs.descendants(self.pid()) if "grader.judge.zygote" in p.command and p.ppid == self.pid()]

    def stop(self, signum: int = signal.SIGINT) -> int:
        os.kill(self.pid(), signum)
        code = self.process.wait(timeout=HUNG)
        self._reader.join(timeout=HUNG)
        return code

    def kill(self) -> None:
        for proc in procs.descendants(self.process.pid):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()


def _submission(workspace: Path) -> Path:
    target = workspace / "submission"
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    with open(target / "temperature.py", "a") as module:
        module.write(BREAKS_ON_FLAG)
    return target


def _environment(workspace: Path) -> dict[str, str]:
    """The watch's own temporary folder, to find out afterwards that it left nothing in it."""
    temp = workspace / "tmp"
    temp.mkdir(mode=0o777, exist_ok=True)
    temp.chmod(0o777)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    return {**env, "TMPDIR": str(temp), "COLUMNS": "200"}


def _start(workspace: Path, submission: Path, *args: str, exercises: tuple[str, ...] = WATCHED) -> Watch:
    command = ["-m", "grader", "grade", "--watch", *exercises, "--submission", str(submission),
               "--json", str(workspace / "report.json"), *args]  # fmt: skip
    return Watch([sys.executable, *command], workspace, _environment(workspace))


def _scores(workspace: Path) -> dict[str, int]:
    report = json.loads((workspace / "report.json").read_text())
    return {e["id"]: e["score"] for e in report["exercises"]}


def _causes(workspace: Path, exercise_id: str) -> str:
    report = json.loads((workspace / "report.json").read_text())
    return " | ".join(t["cause"] for e in report["exercises"] if e["id"] == exercise_id for t in e["tests"])


def _wait_until(what: str, found: Any) -> Any:
    deadline = time.monotonic() + HUNG
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.02)
    raise AssertionError(f"never: {what}")


def _running_round(watch: Watch, server: procs.Proc | None = None) -> tuple[procs.Proc, procs.Proc]:
    """A round under way: its judge, and a sandbox forked from the watch's fork server."""

    def found() -> tuple[procs.Proc, procs.Proc] | None:
        tree = procs.descendants(watch.pid())
        judges = [p for p in tree if "-m grader.judge" in p.command]
        servers = [p for p in tree if "grader.sandbox.outside.forkserver" in p.command and p.ppid == watch.pid()]
        if server is not None:
            servers = [p for p in servers if (p.pid, p.start) == (server.pid, server.start)]
        sandboxes = [p for p in tree if servers and p.ppid == servers[0].pid]
        return (judges[0], sandboxes[0]) if judges and sandboxes else None

    return _wait_until("a judge with a sandbox forked from the watch's server", found)  # type: ignore[no-any-return]


def _stopped_cleanly(watch: Watch, workspace: Path, code: int) -> None:
    assert code == 130, watch.output
    assert "Stopped watching" in watch.output
    assert "Traceback" not in watch.output, watch.output
    assert list((workspace / "tmp").iterdir()) == []


def _nothing_left(tree: list[procs.Proc]) -> None:
    alive = [p.command for p in tree if procs.alive(p)]
    assert alive == [], alive


@pytest.mark.slow
@LINUX_PROC
def test_a_save_regrades_only_its_exercise_from_the_same_warm_fork_server(workspace: Path) -> None:
    submission = _submission(workspace)
    watch = _start(workspace, submission)
    try:
        watch.wait_round(1)
        assert _scores(workspace) == {"basic_call": 10, "temperature": 10}, watch.output
        [server] = watch.servers()
        [zygote] = watch.zygotes()
        # Between rounds: no judge, no sandbox, only the warm server and the warm judge.
        assert [p for p in procs.descendants(watch.pid()) if p.pid not in (server.pid, zygote.pid)] == []
        # Not a module, so no round; only a round that graded temperature again would see it.
        (submission / "broken.txt").write_text("")
        (submission / "basic_call.py").write_text("def ask_openai(:\n")

        watch.wait_round(2)
        assert "Saved basic_call.py: re-grading basic_call" in watch.since_round(1), watch.output
        assert _scores(workspace) == {"basic_call": 0, "temperature": 10}, watch.output
        assert "SyntaxError" in _causes(workspace, "basic_call")
        [again] = watch.servers()
        assert (again.pid, again.start) == (server.pid, server.start)  # the same process, never restarted
        assert again.reaped_faults > server.reaped_faults  # it forked (and reaped) this round's sandboxes

        shutil.copy(REFERENCE / "basic_call.py", submission / "basic_call.py")  # a broken round costs only itself
        watch.wait_round(3)
        assert _scores(workspace) == {"basic_call": 10, "temperature": 10}, watch.output
        assert [(p.pid, p.start) for p in watch.servers()] == [(server.pid, server.start)]
        # Every round's judge was forked from the same warm judge, never started afresh.
        [again_zygote] = watch.zygotes()
        assert (again_zygote.pid, again_zygote.start) == (zygote.pid, zygote.start)
        assert again_zygote.reaped_faults > zygote.reaped_faults  # it forked (and reaped) rounds 2 and 3's judges

        tree = [procs.read(watch.pid()), *procs.descendants(watch.pid())]
        code = watch.stop()  # Ctrl-C while it waits for a save
        _stopped_cleanly(watch, workspace, code)
        _nothing_left([p for p in tree if p is not None])
    finally:
        if watch.process.poll() is None:
            watch.kill()


@pytest.mark.slow
@LINUX_PROC
def test_all_regrades_every_exercise_on_each_save(workspace: Path) -> None:
    submission = _submission(workspace)
    watch = _start(workspace, submission, "--all")
    try:
        watch.wait_round(1)
        assert _scores(workspace) == {"basic_call": 10, "temperature": 10}, watch.output
        (submission / "broken.txt").write_text("")
        (submission / "basic_call.py").write_bytes((submission / "basic_call.py").read_bytes())  # saved unchanged
        watch.wait_round(2)
        assert "Saved basic_call.py: re-grading all 2 exercise(s) (--all)" in watch.since_round(1), watch.output
        assert _scores(workspace) == {"basic_call": 10, "temperature": 0}, watch.output
        assert "RuntimeError" in _causes(workspace, "temperature")
        _stopped_cleanly(watch, workspace, watch.stop())
    finally:
        if watch.process.poll() is None:
            watch.kill()


@pytest.mark.slow
@LINUX_PROC
def test_saves_during_a_round_make_one_next_round_and_ctrl_c_mid_round_leaves_nothing(workspace: Path) -> None:
    submission = _submission(workspace)
    with open(submission / "basic_call.py", "a") as module:
        module.write(HANGS)
    watch = _start(workspace, submission, "--check-timeout", "30")
    try:
        judge, _ = _running_round(watch)
        # Two saves while round 1 runs (its judge lives until its hanging check's 30 s are out).
        shutil.copy(REFERENCE / "basic_call.py", submission / "basic_call.py")
        (submission / "temperature.py").write_bytes((submission / "temperature.py").read_bytes())
        assert procs.alive(judge), "round 1 ended before both saves were made"
        watch.wait_round(2)
        headers = [line for line in watch.since_round(1) if line.startswith("Saved ")]
        assert headers == ["Saved basic_call.py, temperature.py: re-grading basic_call, temperature"], watch.output
        assert _scores(workspace) == {"basic_call": 10, "temperature": 10}, watch.output
        [server] = watch.servers()

        with open(submission / "basic_call.py", "a") as module:
            module.write(HANGS)
        _running_round(watch, server)  # round 3 under way: its judge waits on a sandbox that hangs
        tree = [procs.read(watch.pid()), *procs.descendants(watch.pid())]
        assert any("grader.judge" in p.command for p in tree if p is not None)
        code = watch.stop()
        _stopped_cleanly(watch, workspace, code)
        _nothing_left([p for p in tree if p is not None])
    finally:
        if watch.process.poll() is None:
            watch.kill()


STUDENT = "grader-student"  # a login user without sudo, as on a student's laptop


@pytest.mark.slow
@LINUX_PROC
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or platforms.system_python() is None,
    reason="running as another user needs root, runuser and /usr/bin/python3.X (a Python another user may run)",
)
def test_as_a_user_without_root_a_round_stopped_half_way_leaves_nothing(workspace: Path) -> None:
    platforms.user(STUDENT, sudo=False)
    python = platforms.public_venv(platforms.public_folder(workspace, "venv"))
    submission = _submission(workspace)
    subprocess.run(["chown", "-R", f"{STUDENT}:{STUDENT}", str(workspace)], check=True)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": str(workspace / "tmp"),
           "COLUMNS": "200", "LANG": "C.UTF-8"}  # fmt: skip
    (workspace / "tmp").mkdir()
    subprocess.run(["chown", f"{STUDENT}:{STUDENT}", str(workspace / "tmp")], check=True)
    command = [str(python), "-m", "grader", "grade", "--watch", "basic_call", "--submission", str(submission),
               "--json", str(workspace / "report.json")]  # fmt: skip
    watch = Watch(platforms.as_user(STUDENT, command, env), workspace, dict(os.environ))  # runuser passes `env` only
    try:
        watch.wait_round(1)
        assert _scores(workspace) == {"basic_call": 10}, watch.output
        [server] = watch.servers()
        assert procs.read(watch.pid()) is not None and Path(f"/proc/{watch.pid()}").stat().st_uid != 0
        with open(submission / "basic_call.py", "a") as module:
            module.write(HANGS)
        _running_round(watch, server)  # round 2's sandboxes fork from round 1's server
        tree = [procs.read(watch.pid()), *procs.descendants(watch.pid())]
        code = watch.stop()
        _stopped_cleanly(watch, workspace, code)
        _nothing_left([p for p in tree if p is not None])
    finally:
        if watch.process.poll() is None:
            watch.kill()
