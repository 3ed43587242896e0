"""Ctrl-C on a plain `grader grade`: one line saying so, exit code 130, and nothing left behind (no judge, fork
server or sandbox running, no temporary folder), as root and as a student without root; `grade --watch` has
its own tests in test_watch.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.exitcodes import EXIT_STOPPED
from tests.conftest import REFERENCE
from tests.support import platforms, procs
from tests.test_watch import STUDENT


def _grader_pid(process: subprocess.Popen[str]) -> int:
    """The grading process's pid (not runuser's, when run as another user)."""
    for proc in [procs.read(process.pid), *procs.descendants(process.pid)]:
        if proc is not None and proc.command.split()[1:4] == ["-m", "grader", "grade"]:
            return proc.pid
    raise AssertionError("the grader is not running")


def _interrupted(command: list[str], scratch: Path, after: float) -> None:
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
    os.kill(grader, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_STOPPED, output
    assert "Traceback" not in output and "grade stopped by Ctrl-C before it finished." in output, output
    assert sorted(p.name for p in scratch.iterdir()) == []
    assert [p.command for p in tree if procs.alive(p)] == []


@pytest.mark.slow
# Ctrl-C as the first sandbox starts, and a moment into the checks: a whole grade of the reference now takes
# under 3 s on 2 idle cores, so a later moment could come after the grade has ended ("the grader is not running").
@pytest.mark.parametrize("after", [0.0, 0.5])
def test_a_grade_stopped_by_ctrl_c_says_so_and_leaves_nothing_behind(workspace: Path, after: float):
    scratch = workspace / "tmp"
    command = [sys.executable, "-m", "grader", "grade", "--submission", str(REFERENCE)]
    _interrupted(["env", f"TMPDIR={scratch}", "COLUMNS=120", *command], scratch, after)


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or platforms.system_python() is None,
    reason="running as another user needs root, runuser and /usr/bin/python3.X (a Python another user may run)",
)
def test_as_a_user_without_root_a_grade_stopped_by_ctrl_c_leaves_nothing_behind(workspace: Path):
    platforms.user(STUDENT, sudo=False)
    python = platforms.public_venv(platforms.public_folder(workspace, "venv"))
    submission = workspace / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    (workspace / "tmp").mkdir()
    subprocess.run(["chown", "-R", f"{STUDENT}:{STUDENT}", str(submission), str(workspace / "tmp")], check=True)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": str(workspace / "tmp"),
           "COLUMNS": "120", "LANG": "C.UTF-8"}  # fmt: skip
    command = [str(python), "-m", "grader", "grade", "--submission", str(submission)]
    _interrupted(platforms.as_user(STUDENT, command, env), workspace / "tmp", 0.5)


@pytest.mark.slow
def test_a_batch_stopped_by_ctrl_c_stops_at_once_and_leaves_the_gradebook_feedback_and_reports_as_they_were(
    tmp_path: Path,
):
    from tests.support import hanging

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
