"""Any OS: the grader imports without POSIX-only modules and grades with the Linux-only capabilities masked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import course
from grader.parent import grading, processes
from tests.conftest import REFERENCE, ROOT

# Modules macOS or Windows lack (resource, fcntl, termios, pwd, grp exist on macOS but not on Windows).
POSIX_ONLY = ("resource", "fcntl", "termios", "pwd", "grp")


def test_every_grader_module_imports_without_posix_only_modules() -> None:
    """Importing any grader module needs none of the POSIX-only modules (Windows has none of them)."""
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import grader
        for name in {POSIX_ONLY!r}:
            sys.modules.pop(name, None)
            sys.modules[name] = None  # import now raises ImportError, as on Windows
        for info in pkgutil.walk_packages(grader.__path__, "grader."):
            if ".suites" in info.name or info.name in ("grader.__main__",):
                continue
            importlib.import_module(info.name)
        import grader.parent.processes as p
        caps = p.probe()
        assert not caps.prlimit, caps
        print("imported", sorted(m for m in sys.modules if m.startswith("grader.")).__len__())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout


MASKED = processes.Capabilities(prlimit=False, subreaper=False, proc=False, process_groups=False)


def test_missing_capabilities_are_named_in_one_line_each_with_the_way_forward() -> None:
    """Each missing protection is one line that says what is missing and where the full one runs."""
    lines = processes.missing(MASKED)
    assert len(lines) == 2
    assert all("\n" not in line and "WSL" in line for line in lines)
    assert processes.missing(processes.Capabilities(True, True, True, True)) == []


@pytest.mark.slow
def test_grades_with_linux_only_capabilities_masked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no prlimit, subreaper, /proc or process groups (as on macOS or Windows) the reference still grades 100 %."""
    monkeypatch.setattr(processes, "probe", lambda: MASKED)
    monkeypatch.chdir(tmp_path)
    exercises = grading.select(["basic_call", "api_keys"])
    result = grading.grade_submission(exercises, REFERENCE, cassettes=course.CASSETTES_DIR)
    assert (result.score, result.max_score) == (20, 20), [
        (r.check.id, r.status, r.feedback) for e in result.exercises for r in e.results if r.status != "passed"
    ]
    assert list(result.notes) == processes.missing(MASKED)


@pytest.mark.slow
def test_masked_platform_still_stops_an_endless_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without process groups the child is still killed at the run's time limit, and the report is still made."""
    monkeypatch.setattr(processes, "probe", lambda: MASKED)
    submission = tmp_path / "submission"
    submission.mkdir()
    for module in REFERENCE.glob("*.py"):
        (submission / module.name).write_text(module.read_text())
    (submission / "basic_call.py").write_text(
        (REFERENCE / "basic_call.py").read_text() + "\n\nimport time\nwhile True:\n    time.sleep(0.05)\n"
    )
    result = grading.grade_submission(
        grading.select(["basic_call"]), submission, cassettes=course.CASSETTES_DIR, time_limit=20, check_timeout=2
    )
    assert result.score == 0
    assert all(r.status in ("error", "timeout", "failed") for e in result.exercises for r in e.results)
