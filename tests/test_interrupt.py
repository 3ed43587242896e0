"""Ctrl-C on a plain `grader grade`: one line saying so, exit code 130, and nothing left behind (no judge, fork
server or sandbox running, no temporary folder), as root and as a student without root; `grade --watch` has
its own tests in test_watch.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader import course
from grader.exitcodes import EXIT_STOPPED
from grader.judge import launch
from grader.parent import runner
from grader.sandbox.outside import confinement, forkserver
from tests.conftest import REFERENCE
from tests.support import hanging, platforms, procs
from tests.test_watch import STUDENT


def _grader_pid(process: subprocess.Popen[str]) -> int:
    """The grading process's pid (not runuser's, when run as another user)."""
    for proc in [procs.read(process.pid), *procs.descendants(process.pid)]:
        if proc is not None and proc.command.split()[1:4] == ["-m", "grader", "grade"]:
            return proc.pid
    raise AssertionError("the grader is not running")


def _interrupted(command: list[str], scratch: Path, after: float, presses: int = 1) -> None:
    scratch.mkdir(exist_ok=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not any(scratch.rglob("box-*")):  # a sandbox has started: judges, fork server and boxes all exist
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.02)
    time.sleep(after)
    grader = _grader_pid(process)
    tree = procs.descendants(grader)
    assert any("grader.judge" in p.command for p in tree)
    for press in range(presses):  # a second press comes while the first one's clean-up runs
        if press:
            time.sleep(0.05)
        os.kill(grader, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_STOPPED, output
    assert "Traceback" not in output and "grade stopped by Ctrl-C before it finished." in output, output
    assert sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*")) == []
    assert [p.command for p in tree if procs.alive(p)] == []


def _still_grading(submission: Path) -> Path:
    """The reference, but api_keys' functions block: a grade of it is still running whenever Ctrl-C comes (a
    whole grade of the reference can end within the moments these tests wait)."""
    hanging.write(submission, how="block", base=REFERENCE, only=["api_keys"])
    return submission


def _grade_interrupted(workspace: Path, judges: str, after: float, presses: int = 1) -> None:
    """`grade` of a submission still grading, as root with `judges` judges, stopped by Ctrl-C `after` s into it."""
    scratch = workspace / "tmp"
    submission = _still_grading(workspace / "submission")
    command = [sys.executable, "-m", "grader", "grade", "--submission", str(submission)]
    env = [f"TMPDIR={scratch}", "COLUMNS=120", f"GRADER_JUDGES={judges}"]
    _interrupted(["env", *env, *command], scratch, after, presses)


@pytest.mark.slow
# Ctrl-C as the first sandbox starts, and a moment into the checks; with one judge (GRADER_JUDGES=1: one core,
# or `grade --exercise`), which the grading process waits for itself, and with two, each waited for by a thread.
@pytest.mark.parametrize("judges", ["1", "2"])
@pytest.mark.parametrize("after", [0.0, 1.5])
def test_a_grade_stopped_by_ctrl_c_says_so_and_leaves_nothing_behind(workspace: Path, after: float, judges: str):
    _grade_interrupted(workspace, judges, after)


@pytest.mark.slow
@pytest.mark.parametrize("judges", ["1", "2"])
def test_ctrl_c_pressed_twice_stops_a_grade_as_once_does(workspace: Path, judges: str):
    """People press Ctrl-C twice. The second press comes while the grade stops its judges and removes their
    folders; it must not cut that short (folders left behind) or land outside it (a traceback)."""
    _grade_interrupted(workspace, judges, 1.5, presses=2)


# Ctrl-C once, and twice (as impatient people do), a moment after both lanes' judges have started.
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_a_grade_with_two_judges_waits_for_both_lanes_to_stop_their_judges_and_clear_their_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, presses: int
):
    """Each judge of a two-judge grade is waited for by a thread of its own. Ctrl-C reaches the grading process's
    main thread, which must not go on until every lane has stopped its judge and removed its folders: the
    process would exit with a lane half done, its folders left in TMPDIR. Two ways that happened: up to Python
    3.12, joining a thread after Ctrl-C interrupted a join of it returns at once while the thread still runs; and
    a second Ctrl-C cut the wait for the lanes short."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    main = threading.main_thread().ident or 0
    entered, pressed, stopped = [], [], []
    real = runner._collect

    def press() -> None:
        for _ in range(presses):
            pressed.append(True)
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.1)

    def collect(launched: Any, run: Any, **kwargs: Any) -> Any:
        entered.append(run.lane)
        if len(entered) == 2:  # both lanes' judges run, and the grading process waits for the first lane
            threading.Timer(0.3, press).start()
        try:
            return real(launched, run, **kwargs)
        finally:
            # A lane that takes a moment to stop its judge (a loaded machine); the first lane, which the grading
            # process was waiting for when Ctrl-C came, the longest.
            time.sleep(1.5 if run.lane == 0 else 0.5)
            stopped.append(run.lane)

    monkeypatch.setattr(runner, "_collect", collect)
    pending = runner.start_child(
        ["basic_call", "temperature"], submission=REFERENCE, cassettes=course.CASSETTES_DIR, time_limit=300, judges=2
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            pending.finish()
        lanes, left = pending.judges, sorted(p.name for p in tmp_path.iterdir())
    finally:
        pending.cancel()
    assert len(pressed) == presses
    assert len(stopped) == lanes == 2, "the grade ended while a lane was still stopping its judge"
    assert left == []


@pytest.mark.skipif(not forkserver.available(), reason="a fork server (Linux)")
def test_a_fork_server_closed_while_it_imports_the_sdks_is_ended_at_once_and_a_warm_one_ends_by_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """Ctrl-C early in a grade closes its fork server while it still imports the SDKs: it has forked nothing, so it is
    killed at once, not waited for until its import ends. A warm one (it has greeted a judge) is told to end and
    ends by itself, killing its sandboxes first."""
    monkeypatch.setattr(launch, "CLOSE_SECONDS", 120.0)  # waiting out a cold one's import would now show

    def server(name: str) -> launch.ForkServer:
        root = tmp_path / name
        (root / "home").mkdir(parents=True)
        return launch.ForkServer(root, confinement.environment(root / "home", {}))

    cold = server("cold")
    cold.close()
    assert cold.process is not None and cold.process.returncode == -signal.SIGKILL
    warm = server("warm")
    judge = launch.ForkServer.attach(warm.connect())  # as a grade's judges use it: the starter never asks it
    try:
        judge.reset()  # answered once the server has imported the SDKs and greeted this judge
    finally:
        judge.close()
        warm.close()
    assert warm.process is not None and warm.process.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or platforms.system_python() is None,
    reason="running as another user needs root, runuser and /usr/bin/python3.X (a Python another user may run)",
)
def test_as_a_user_without_root_a_grade_stopped_by_ctrl_c_leaves_nothing_behind(workspace: Path):
    platforms.user(STUDENT, sudo=False)
    python = platforms.public_venv(platforms.public_folder(workspace, "venv"))
    submission = _still_grading(workspace / "submission")
    (workspace / "tmp").mkdir()
    subprocess.run(["chown", "-R", f"{STUDENT}:{STUDENT}", str(submission), str(workspace / "tmp")], check=True)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": str(workspace / "tmp"),
           "COLUMNS": "120", "LANG": "C.UTF-8"}  # fmt: skip
    command = [str(python), "-m", "grader", "grade", "--submission", str(submission)]
    _interrupted(platforms.as_user(STUDENT, command, env), workspace / "tmp", 1.5)


@pytest.mark.slow
def test_a_batch_stopped_by_ctrl_c_stops_at_once_and_leaves_the_gradebook_feedback_and_reports_as_they_were(
    tmp_path: Path,
):
    classroom, out = tmp_path / "class", tmp_path / "out"
    for name in ("ann", "carol"):
        shutil.copytree(REFERENCE, classroom / name, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "grader", "batch", str(classroom), "--csv", str(out / "grades.csv"),
               "--exercise", "basic_call", "-j", "1", "--check-timeout", "300", "--time-limit", "900",
               "--json-dir", str(out / "reports")]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr

    def files() -> dict[Path, tuple[bytes, int]]:  # the time too: ann's report rewritten alike is still rewritten
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}

    before = files()
    assert (out / "feedback" / "ann.md") in before and (out / "reports" / "ann.json") in before
    # The staff's second run: bob joins, and every function of his hangs (300 s a check).
    hanging.write(classroom / "bob", how="block", base=REFERENCE, only=["basic_call"])
    shutil.rmtree(classroom / "bob" / "__pycache__", ignore_errors=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # ann is graded, then bob's judge waits on a function that never returns
        lines.append(line)
        if line.startswith("ann: "):
            break
    deadline = time.monotonic() + 120
    while not any("grader.judge" in p.command for p in procs.descendants(process.pid)):
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    time.sleep(1.0)
    tree = procs.descendants(process.pid)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)  # a hang guard: a judge waited for would take 300 s or more
    output = "".join(lines) + rest
    assert process.returncode == EXIT_STOPPED, output
    said = " ".join(output.split())  # the console wraps at its width, which the temporary folder's name moves
    assert "Traceback" not in output and "batch stopped by Ctrl-C before it finished. Nothing was written" in said
    assert "the feedback and the JSON reports are as they were" in said
    assert "carol: " not in output  # queued: never graded
    assert files() == before
    assert [p.command for p in tree if procs.alive(p)] == []
