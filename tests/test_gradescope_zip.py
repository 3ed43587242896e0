"""`grader gradescope` builds autograder.zip: the hidden suites and cassettes in, no solution or known-wrong code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import course, rubric
from grader.staff import gradescope_zip
from tests.conftest import REFERENCE, ROOT


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One autograder.zip built by the CLI into a fresh folder."""
    out = tmp_path_factory.mktemp("gradescope")
    process = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return out / "autograder.zip"


def test_zip_holds_the_scripts_and_every_suite_and_cassette_the_autograder_needs(autograder: Path):
    """setup.sh and run_autograder at the top (executable), every hidden suite and every check's cassette."""
    with zipfile.ZipFile(autograder) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "pyproject.toml", "constraints.txt", "README.md"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    for exercise in course.gradable():
        assert f"grader/suites/{exercise.id}/test_hidden.py" in names
        for check in rubric.load(exercise).checks:
            if check.cassette is not None:
                assert f"cassettes/{exercise.id}/{check.cassette}.yaml" in names, check.id


def test_zip_holds_no_reference_solution_wrong_implementation_or_stub(autograder: Path):
    """Nothing from tests/ (references, mutants) or exercises/; no file equal to a reference or mutant module."""
    forbidden = {p.read_bytes() for folder in ("reference", "wrong") for p in (ROOT / "tests" / folder).glob("*.py")}
    forbidden = {data for data in forbidden if data.strip()}
    with zipfile.ZipFile(autograder) as archive:
        assert not [n for n in archive.namelist() if n.startswith(("tests/", "exercises/", ".")) or "__pycache__" in n]
        assert not [n for n in archive.namelist() if archive.read(n) in forbidden]


def test_default_output_folder_is_git_ignored():
    """dist/gradescope/autograder.zip never shows up as an untracked file."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    relative = (gradescope_zip.DEFAULT_OUT / "autograder.zip").relative_to(ROOT)
    assert subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=ROOT).returncode == 0


@pytest.mark.slow
def test_unzipped_autograder_grades_the_reference_at_the_maximum(autograder: Path, tmp_path: Path):
    """run_autograder from the unzipped source (its own grader, suites and cassettes) grades the reference at 100."""
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(source)
    (source / "run_autograder").chmod(0o755)
    shutil.copytree(REFERENCE, root / "submission", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    process = subprocess.run([str(source / "run_autograder")], capture_output=True, text=True, env=env, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    report = json.loads((root / "results" / "grade-report.json").read_text())
    assert report["score"] == report["max_score"] == sum(e.weight for e in course.gradable())
