"""Shared helpers for the harness's own tests: grade a submission through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
# The pins for the Python running the tests (noxfile.constraints_for): 3.10 has its own.
CONSTRAINTS = ROOT / ("constraints-3.10.txt" if sys.version_info < (3, 11) else "constraints.txt")
STUBS = ROOT / "exercises"


@dataclass
class GradeRun:
    returncode: int
    output: str
    report: dict[str, Any] | None

    def exercise(self, exercise_id: str) -> dict[str, Any]:
        assert self.report is not None, self.output
        return next(e for e in self.report["exercises"] if e["id"] == exercise_id)

    def check(self, check_id: str) -> dict[str, Any]:
        assert self.report is not None, self.output
        return next(t for e in self.report["exercises"] for t in e["tests"] if t["id"] == check_id)


def run_grade(tmp_path: Path, submission: Path, *args: str, env: dict[str, str] | None = None) -> GradeRun:
    """`grader grade` in a subprocess; `env` adds to (or overrides) the environment it inherits."""
    report = tmp_path / "report.json"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            "--submission",
            str(submission),
            "--json",
            str(report),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        # A run of the harness's own tests is not official grading, even under GitHub Actions.
        env={**{k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}, "COLUMNS": "200", **(env or {})},
        timeout=300,
    )
    data = json.loads(report.read_text()) if report.exists() else None
    return GradeRun(process.returncode, process.stdout + process.stderr, data)


@pytest.fixture
def grade(tmp_path: Path) -> Callable[..., GradeRun]:
    """Grade a submission directory with the CLI in a subprocess; returns exit code, output, report."""

    def _grade(submission: Path, *args: str) -> GradeRun:
        return run_grade(tmp_path, submission, *args)

    return _grade


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    """A writable copy of the reference solutions, to break on purpose."""
    target = tmp_path / "submission"
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A folder any user may enter (pytest's own tmp folders are private to root), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="grader-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)
