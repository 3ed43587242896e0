"""Issue 25: an instructor adds an exercise through the scaffold and `record --fake`, in a throwaway copy of the
repository, without changing anyone else's points; and the scaffold's parts on their own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from grader import course
from grader.errors import UsageError
from grader.staff import scaffold
from tests.conftest import ROOT

NAME = "structured_output"
POINTS = 10
IGNORED = (".git", ".nox", "__pycache__", ".mutation", "dist", "*.egg-info")
IGNORED += (".pytest_cache", ".ruff_cache", ".mypy_cache")


class Copy:
    """A copy of the repository with an interpreter that imports the copy's grader, never this checkout's."""

    def __init__(self, where: Path) -> None:
        self.root = where / "repo"
        shutil.copytree(ROOT, self.root, ignore=shutil.ignore_patterns(*IGNORED))
        venv = where / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
        site = Path(
            subprocess.run(
                [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        # This environment's packages, linked (not copied) into the new venv, where the sandbox may read them
        # (it reads installed packages under its interpreter's prefix only); but not this checkout's editable
        # grader: the copy provides `grader` and `tests`.
        shutil.rmtree(site)
        subprocess.run(["cp", "-al", sysconfig.get_paths()["purelib"], str(site)], check=True)
        for path in site.glob("__editable__*"):
            path.unlink()
        (site / "course_copy.pth").write_text(f"{self.root}\n")
        self.python = str(venv / "bin" / "python")
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")},  # noqa: E501
            "COLUMNS": "200",
        }

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def grader(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "grader", *args)

    def grade(self, submission: Path, report: Path, *args: str) -> dict:
        result = self.grader("grade", "--submission", str(submission), "--json", str(report), *args)
        assert result.returncode == 0, result.stdout + result.stderr
        self.output = result.stdout + result.stderr
        return json.loads(report.read_text())


def _points(report: dict) -> dict[str, tuple[int, int]]:
    return {e["id"]: (e["score"], e["max_score"]) for e in report["exercises"]}


@pytest.mark.slow
def test_an_eighth_exercise_added_by_the_scaffold_and_record_fake_changes_no_one_elses_points(tmp_path: Path):
    where = Path(tempfile.mkdtemp(prefix="grader-course-copy-"))
    where.chmod(0o755)  # the sandbox's own uid reads Python's packages and the grader's sandbox modules here
    try:
        _add_an_exercise(Copy(where), tmp_path)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _add_an_exercise(copy: Copy, tmp_path: Path) -> None:
    where = copy.run("-c", "import grader; print(grader.__file__)")
    assert where.stdout.strip() == str(copy.root / "grader" / "__init__.py"), where

    made = copy.grader("new-exercise", NAME, "Structured output", "--points", str(POINTS))
    assert made.returncode == 0, made.stdout + made.stderr
    for path in (
        f"exercises/{NAME}.py",
        f"tests/reference/{NAME}.py",
        f"grader/suites/{NAME}/test_public.py",
        f"grader/suites/{NAME}/test_hidden.py",
        f"tests/wrong/{NAME}.py",
        f"grader/contract/{NAME}.md",
    ):
        assert (copy.root / path).is_file(), path
    assert f'"{NAME}": Demo(' in (copy.root / "grader/live/demos.py").read_text()
    # The course's size now comes out of the copy's course.py: eight exercises, 10 points more.
    size = copy.run("-c", "from grader import course; print(len(course.COURSE), course.COURSE_MAX)")
    assert size.stdout.split() == [str(len(course.COURSE) + 1), str(course.COURSE_MAX + POINTS)], size

    recorded = copy.grader("record", NAME, "--fake")
    output = recorded.stdout + recorded.stderr
    assert recorded.returncode == 0, output
    cassettes = sorted((copy.root / "cassettes" / NAME).glob("*.yaml"))
    assert [p.stem for p in cassettes] == ["test_ask_returns_reply_text", "test_ask_sends_the_prompt_once"]
    for path in cassettes:
        data = yaml.safe_load(path.read_text())
        assert data["interactions"][0]["request"]["uri"] == "https://api.openai.com/v1/chat/completions"
        assert "127.0.0.1" not in path.read_text()
        assert f"{NAME}/{path.name}: new cassette, 1 interaction(s)" in output

    validated = copy.grader("validate", NAME)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    gradescope, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    extra = ("--gradescope", str(gradescope), "--junit", str(junit))
    reference = copy.grade(copy.root / "tests" / "reference", tmp_path / "reference.json", *extra)
    total = course.COURSE_MAX + POINTS
    # Every report is out of the course's own total, now 10 points more.
    assert f"Total: {total}/{total} (100.0%)" in copy.output
    results = json.loads(gradescope.read_text())
    assert results["score"] == total and sum(t["max_score"] for t in results["tests"]) == total
    points = [float(p.get("value", 0)) for p in ET.parse(junit).iter("property") if p.get("name") == "points"]
    assert sum(points) == total
    stubs = copy.grade(copy.root / "exercises", tmp_path / "stubs.json")
    assert _points(reference)[NAME] == (POINTS, POINTS)
    assert _points(stubs)[NAME] == (0, POINTS)
    # Every other exercise keeps exactly its points.
    others = {k: v for k, v in _points(reference).items() if k != NAME}
    assert others == {e.id: (e.weight, e.weight) for e in course.COURSE}
    assert reference["score"] == reference["max_score"] == course.COURSE_MAX + POINTS

    # The harness's tests that describe the course still pass in the copy.
    described = copy.run(
        "-m",
        "pytest",
        "-p",
        "no:xdist",
        "-q",
        "tests/test_output.py::test_stubs_output_is_short_grouped_and_ends_with_the_table_and_total",
        "tests/test_new_exercise.py::test_course_total_is_the_sum_of_the_weights_everywhere",
    )
    assert described.returncode == 0, described.stdout + described.stderr


def test_course_total_is_the_sum_of_the_weights_everywhere():
    """The course's size lives in grader/course.py alone: the noxfile's exercise list and the total come from it."""
    assert course.COURSE_MAX == sum(e.weight for e in course.COURSE)
    spec_noxfile = (ROOT / "noxfile.py").read_text()
    for e in course.COURSE:
        assert f'"{e.id}"' not in spec_noxfile, f"noxfile.py names {e.id}: take the list from grader/course.py"
    for package in ("exercises", "tests/reference"):
        doc = (ROOT / package / "__init__.py").read_text()
        assert "seven" not in doc and str(len(course.COURSE)) not in doc


def test_scaffold_refuses_to_overwrite_and_writes_nothing(tmp_path: Path):
    project = tmp_path / "repo"
    for part in ("grader/course.py", "grader/live/demos.py", "tests/scaffold/reference.py.tmpl"):
        (project / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, project / part)
    with pytest.raises(UsageError, match="basic_call exists already"):
        scaffold.plan(project, "basic_call", "Again", 10)
    (project / "exercises").mkdir()
    (project / "exercises" / "fresh.py").write_text("keep me\n")
    with pytest.raises(UsageError, match=r"exercises/fresh\.py"):
        scaffold.plan(project, "fresh", "Fresh", 4)
    assert (project / "exercises" / "fresh.py").read_text() == "keep me\n"
    with pytest.raises(UsageError, match="at least 2"):
        scaffold.plan(project, "tiny", "Tiny", 1)
    with pytest.raises(UsageError, match="module name"):
        scaffold.plan(project, "Bad-Name", "Bad", 4)


def test_stub_is_made_from_the_reference_keeping_given_material_and_docstrings():
    source = (ROOT / "tests" / "reference" / "basic_call.py").read_text()
    stub = scaffold.stub_of(source, "basic_call.py")
    assert 'raise NotImplementedError("ask_openai: your code here")' in stub
    assert 'raise NotImplementedError("ask_anthropic: your code here")' in stub
    assert 'DEFAULT_OPENAI_MODEL = "gpt-4o-mini"' in stub  # the given material stays
    assert '"""Send one Chat Completions request and return the reply\'s text."""' in stub
    assert "client.chat.completions.create" not in stub and "response.content" not in stub
    namespace: dict[str, object] = {}
    exec(compile(stub, "stub", "exec"), namespace)  # the stub is valid Python that defines every function
    assert callable(namespace["ask_openai"]) and callable(namespace["ask_anthropic"])


def test_scaffold_from_a_spec_takes_its_functions_and_provider(tmp_path: Path):
    project = tmp_path / "repo"
    for part in ("grader/course.py", "grader/live/demos.py"):
        (project / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, project / part)
    spec = tmp_path / "spec.py"
    spec.write_text(
        'import anthropic\n\nLIMIT = 3\n\n\ndef summarise(client: anthropic.Anthropic, text: str) -> str:\n'
        '    """Summarise `text` in one sentence with one Messages request."""\n'
    )
    planned = scaffold.plan(project, "summary", "Summary", 6, spec)
    public = planned.files[project / "grader/suites/summary/test_public.py"]
    assert "exercise.summarise(anthropic_client, PROMPT)" in public and "points(3)" in public
    assert "points(3)" in planned.files[project / "grader/suites/summary/test_hidden.py"]
    assert "raise NotImplementedError" in planned.files[project / "exercises/summary.py"]
    assert "`LIMIT = 3`" in planned.files[project / "grader/contract/summary.md"]
    assert '"anthropic"' in planned.demo_entry
    scaffold.write(project, planned)
    text = (project / "grader/course.py").read_text()
    assert text.index('Exercise("summary", "Summary", 6)') > text.index('Exercise("providers"')
    assert 'Exercise("basic_call", "Basic call", 10)' in text
