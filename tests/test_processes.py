"""The parent's process control, where batch grades several submissions at once in threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from grader import course
from grader.errors import StaffError
from grader.parent import grading, processes
from grader.sandbox.outside import users
from tests.conftest import REFERENCE

WINDOW = 3.0  # seconds the slow start keeps its child unregistered (the fast run needs well under one)


@pytest.mark.skipif(not (processes.probe().subreaper and processes.probe().proc), reason="Linux's orphan sweep")
def test_a_child_just_started_is_never_swept_up_as_an_orphan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """One run's end sweeps up orphans while another thread is between starting its child and recording it."""
    real_popen = subprocess.Popen
    started = threading.Event()

    class SlowToReturn(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if threading.current_thread().name == "slow":
                started.set()
                threading.Event().wait(WINDOW)  # the moment after fork, held open

    monkeypatch.setattr(processes.subprocess, "Popen", SlowToReturn)

    def run(name: str, seconds: float) -> processes.Ended:
        return processes.run_limited(
            processes.Command(
                (sys.executable, "-c", f"import pathlib, time; time.sleep({seconds}); pathlib.Path({name!r}).touch()"),
                cwd=tmp_path,
                env=dict(os.environ),
                output=tmp_path / f"{name}.txt",
                pass_fds=(),
                limits=processes.Limits(time_limit=60),
            )
        )

    ended: dict[str, processes.Ended] = {}
    slow = threading.Thread(target=lambda: ended.update(slow=run("slow", 0.5)), name="slow")
    slow.start()
    assert started.wait(30)
    ended["fast"] = run("fast", 0)  # ends, and sweeps, inside the slow run's window
    slow.join(60)
    assert ended["fast"].returncode == 0 and (tmp_path / "fast").exists()
    # (its exit code cannot tell: the sweep reaps what it kills, and Popen then reports 0)
    assert (tmp_path / "slow").exists(), "the other run's sweep killed a child that had just started"


def _judges_of(pid: int) -> list[int]:
    """Running `python -m grader.judge` children of `pid` (zombies aside)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] != "Z" and int(fields[1]) == pid and b"grader.judge" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not processes.probe().proc, reason="reads /proc")
def test_a_judge_started_before_a_failure_is_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The judge starts before the rubrics are read; a broken suite then stops it, and its uid is free again."""

    def broken(exercise: course.Exercise, *args: object) -> object:
        assert _judges_of(os.getpid()), "the judge was to be running while the rubrics are read"
        raise StaffError(f"the suite of {exercise.id} is broken")

    taken: list[int] = []
    released: list[int] = []

    def acquire() -> users.Slot:
        slot = real_acquire()
        taken.append(slot.uid)
        give_back = slot.release

        def release() -> None:
            released.append(slot.uid)
            give_back()

        slot.release = release  # type: ignore[method-assign]
        return slot

    real_acquire = users.acquire
    monkeypatch.setattr(users, "acquire", acquire)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grading.rubric, "load", broken)
    with pytest.raises(StaffError, match="suite of basic_call is broken"):
        grading.grade_submission(grading.select(["basic_call"]), REFERENCE)
    assert _judges_of(os.getpid()) == []
    # Its uid was given back (checked by the call, not by taking the lock again: another grader on this
    # machine may take the uid the moment it is free).
    assert released == taken


# A process that names itself (prctl PR_SET_NAME) with a line separator /proc/<pid>/status leaves unescaped
# (\x1c: only \n, \\ and whitespace are escaped there) and a made-up Uid line must still be found under its uid.
_RENAMED = r"""
import ctypes, sys
ctypes.CDLL(None, use_errno=True).prctl(15, b"\x1cUid:\t7\t7\t7\t7", 0, 0, 0)  # PR_SET_NAME
print("named", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_with_a_forged_uid_line_in_its_name_is_still_found_under_its_uid() -> None:
    child = subprocess.Popen([sys.executable, "-c", _RENAMED], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "named\n"
        assert "\x1cUid:" in Path(f"/proc/{child.pid}/status").read_text()
        assert child.pid in users.processes_of(os.getuid())
        assert child.pid not in users.processes_of(7)
    finally:
        child.kill()
        child.wait()
    assert child.pid not in users.processes_of(os.getuid())  # reaped: gone
