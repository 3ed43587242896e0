"""Grading where staff and students really run it, simulated here as each platform runs it.

- GitHub Actions: each workflow job's own steps, in order, as a non-root user with passwordless sudo (GitHub's
  hosted runners) and without it (a self-hosted runner), with GITHUB_ACTIONS, GITHUB_OUTPUT and
  GITHUB_STEP_SUMMARY set (`tests/support/actions.py`).
- Gradescope: root without CAP_SYS_ADMIN under Docker's default seccomp profile (`tests/support/platforms.py`),
  through the autograder zip's own setup.sh and run_autograder.
In each, a correct submission scores the maximum and the stubs score 0, at a level official grading accepts.

The project's install inside a job is the noxfile's own "second run": the environment is prepared with its
stamp, so `nox -s grade` installs nothing (no package index needed); setup.sh and the regrade workflow's
`pip install -e` do install, from the package index, as on the platforms.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import noxfile
from grader import course
from grader.reports import gradescope
from tests.conftest import REFERENCE, ROOT, STUBS
from tests.support import actions, platforms

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("runuser"),
        reason="simulating another user or a container needs root on Linux (useradd, runuser, setpriv)",
    ),
    pytest.mark.skipif(
        platforms.system_python() is None,
        reason=f"no /usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}, a Python another user may run "
        "(Debian: apt-get install python3.X; .ci/run installs it)",
    ),
]
MAXIMUM = sum(e.weight for e in course.gradable())
RUNNER = "grader-runner"  # the login user a GitHub-hosted runner's steps run as


@pytest.fixture(scope="module")
def field() -> Iterator[Path]:
    """A folder every user may enter (pytest's own tmp folders are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="grader-field-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def toolcache(field: Path) -> Path:
    """actions/setup-python's Python: one any user may run, holding nox (and the project's packages)."""
    return platforms.public_venv(platforms.public_folder(field, "toolcache") / "venv").parent


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode == 0 and listed.stdout.strip():
        return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and not {".git", ".nox"} & set(p.parts)]


def _copy_submission(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    if not (target / "__init__.py").exists():
        shutil.copy2(STUBS / "__init__.py", target / "__init__.py")


def checkout(field: Path, name: str, submission: Path, owner: str) -> Path:
    """What actions/checkout leaves: the repository with `submission` as its exercises/, owned by `owner`, and
    the grade session's environment already installed (nox's second run)."""
    repo = platforms.public_folder(platforms.public_folder(field, name), "repo")
    for relative in _tracked_files():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, repo / relative)
    _copy_submission(submission, repo / "exercises")
    venv = repo / ".nox" / "grade"
    venv.parent.mkdir(parents=True, exist_ok=True)
    platforms.public_venv(venv, project=repo)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    stamp = noxfile.install_stamp(("-e", "."), noxfile.constraints_for(version))
    (venv / noxfile.STAMP).write_text(stamp)
    subprocess.run(["chown", "-R", f"{owner}:{owner}", str(repo.parent)], check=True)
    return repo


def _classroom(job: actions.Job) -> dict[str, Any]:
    return json.loads(base64.b64decode(job.outputs["grader.result"]))


@pytest.mark.parametrize("sudo", [True, False], ids=["with-sudo", "without-sudo"])
@pytest.mark.parametrize(("submission", "expected"), [(REFERENCE, MAXIMUM), (STUBS, 0)], ids=["reference", "stubs"])
def test_grade_workflow_job_grades_on_a_runner(field: Path, toolcache: Path, sudo: bool, submission: Path,
                                               expected: int) -> None:  # fmt: skip
    """grade.yml's grade job as GitHub runs it: the score reaches Classroom's reporter, the summary and the
    artifact, at an official level (full through sudo; strong, seccomp and Landlock, without)."""
    if sudo and not platforms.has_sudo():
        pytest.skip("sudo is not installed (Debian: apt-get install sudo; .ci/run installs it)")
    platforms.user(RUNNER, sudo=sudo)
    name = f"grade-{'sudo' if sudo else 'nosudo'}-{submission.name}"
    repo = checkout(field, name, submission, RUNNER)
    artifacts = platforms.public_folder(repo.parent, "artifacts")
    workflow = repo / ".github" / "workflows" / "grade.yml"
    job = actions.run_job(workflow, "grade", repo, user=RUNNER, python_bin=toolcache, artifacts=artifacts)
    assert job.succeeded, job.describe()
    report = json.loads((artifacts / "grade-report" / "grade-report.json").read_text())
    assert report["score"] == expected and report["max_score"] == MAXIMUM and report["complete"] is True
    assert report["sandbox"]["level"] == ("full" if sudo else "strong"), report["sandbox"]
    assert (artifacts / "grade-report" / "grade-junit.xml").exists()
    classroom = _classroom(job)
    assert sum(t["score"] for t in classroom["tests"]) == expected and classroom["max_score"] == MAXIMUM
    assert job.outputs["grader.score"] == str(expected)
    assert f"{expected}/{MAXIMUM}" in job.summary
    reporter = next(s for s in job.steps if s.name == "Post the points to GitHub Classroom")
    assert reporter.outcome == "skipped"  # an action of GitHub's: not run here, but its input is checked above
    if sudo and submission == REFERENCE:
        comment = actions.run_job(workflow, "comment", repo, user=RUNNER, python_bin=toolcache, artifacts=artifacts)
        assert comment.succeeded, comment.describe()
        assert "Not a pull-request event" in comment.steps[-1].log


def test_regrade_workflow_jobs_grade_and_merge_a_class_on_a_runner(field: Path, toolcache: Path) -> None:
    """regrade.yml's plan, shard and merge jobs as GitHub runs them, one shard, with sudo as hosted runners have."""
    if not platforms.has_sudo():
        pytest.skip("sudo is not installed (Debian: apt-get install sudo; .ci/run installs it)")
    platforms.user(RUNNER, sudo=True)
    repo = checkout(field, "regrade", STUBS, RUNNER)
    # This job's `pip install -e .` writes into setup-python's environment, which the runner owns.
    toolcache = platforms.public_venv(repo.parent / "toolcache", owner=RUNNER).parent
    artifacts = platforms.public_folder(repo.parent, "artifacts")
    _copy_submission(REFERENCE, artifacts / "submissions" / "alice")
    _copy_submission(STUBS, artifacts / "submissions" / "bob")
    workflow = repo / ".github" / "workflows" / "regrade.yml"
    inputs = {"run-id": "1", "artifact": "submissions", "shards": "1"}
    plan = actions.run_job(workflow, "plan", repo, user=RUNNER, python_bin=toolcache, artifacts=artifacts,
                           inputs=inputs)  # fmt: skip
    assert plan.succeeded and json.loads(plan.outputs["plan.shards"]) == [1], plan.describe()
    shard = actions.run_job(workflow, "grade", repo, user=RUNNER, python_bin=toolcache, artifacts=artifacts,
                            inputs=inputs, matrix={"shard": "1"})  # fmt: skip
    assert shard.succeeded, shard.describe()
    merge = actions.run_job(workflow, "merge", repo, user=RUNNER, python_bin=toolcache, artifacts=artifacts,
                            inputs=inputs)  # fmt: skip
    assert merge.succeeded, merge.describe()
    with (artifacts / "gradebook" / "grades.csv").open(newline="") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    assert (rows["alice"]["total"], rows["bob"]["total"]) == (str(MAXIMUM), "0")
    assert {row["status"] for row in rows.values()} == {"graded"}


@pytest.fixture(scope="module")
def container_python(field: Path) -> Path:
    return platforms.public_venv(platforms.public_folder(field, "image") / "venv")


@pytest.mark.parametrize(("submission", "expected"), [(REFERENCE, MAXIMUM), (STUBS, 0)], ids=["reference", "stubs"])
def test_a_container_without_cap_sys_admin_grades_officially(field: Path, container_python: Path, submission: Path,
                                                              expected: int) -> None:  # fmt: skip
    """Root without CAP_SYS_ADMIN under Docker's seccomp profile: no mount or network namespace, so the box is on
    disk; the sandbox still gets its own uid, and a correct submission scores the maximum, not 0."""
    work = platforms.public_folder(field, f"container-{submission.name}")
    report = work / "report.json"
    process = subprocess.run(
        platforms.container_command([str(container_python), "-m", "grader", "grade", "--official", "--no-github",
                                     "--submission", str(submission), "--json", str(report)]),
        capture_output=True, text=True, cwd=work, timeout=900,
        env=dict(os.environ),
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    data = json.loads(report.read_text())
    assert data["score"] == expected, process.stdout
    assert data["sandbox"]["level"] == "strong" and "uid" in data["sandbox"]["layers"], data["sandbox"]
    assert {"netns", "scratch-cap"} <= set(data["sandbox"]["missing"])
    assert not [t for e in data["exercises"] for t in e["tests"] if t["status"] == "error"]


@pytest.fixture(scope="module")
def autograder(field: Path) -> Path:
    """Gradescope's image, built as Gradescope builds it: the zip unpacked into source/, then its setup.sh run as
    root without CAP_SYS_ADMIN under Docker's seccomp profile, with Debian's Python first on PATH."""
    root = platforms.public_folder(field, "autograder")
    built = subprocess.run([sys.executable, "-m", "grader", "gradescope", "--out", str(root / "dist")],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    with zipfile.ZipFile(root / "dist" / "autograder.zip") as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(root), "LANG": "C.UTF-8",
           "GRADER_SOURCE": str(root / "source"), "GRADER_VENV": str(root / "venv")}  # fmt: skip
    setup = subprocess.run(platforms.container_command(["bash", str(root / "source" / "setup.sh")]),
                           capture_output=True, text=True, env=env, timeout=1200)  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return root


def _run_autograder(root: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    results = root / "results" / "results.json"
    results.unlink(missing_ok=True)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8", "AUTOGRADER_ROOT": str(root),
            "GRADER_SOURCE": str(root / "source"), "GRADER_PYTHON": str(root / "venv" / "bin" / "python")}  # fmt: skip
    process = subprocess.run(platforms.container_command([str(root / "source" / "run_autograder")]),
                             capture_output=True, text=True, env={**base, **(env or {})}, timeout=900)  # fmt: skip
    return process, json.loads(results.read_text())


LAYOUTS = {
    "top-level": ".",
    "github-zip": "course-exercises-main/exercises",  # GitHub's "Download ZIP": one top folder
    "beside-stray-stubs": "exercises",
    "nested": "exercises/exercises",
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradescope_autograder_grades_every_upload_layout_in_a_container(autograder: Path, layout: str) -> None:
    """run_autograder finds the modules as batch does, grades at an official level, and a correct submission
    scores the maximum; the stubs, uploaded the same way, score 0."""
    cases = [(REFERENCE, MAXIMUM), *([(STUBS, 0)] if layout == "top-level" else [])]
    for source, expected in cases:
        submission = autograder / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        submission.mkdir()
        _copy_submission(source, submission / LAYOUTS[layout])
        if layout == "beside-stray-stubs":
            for stub in ("basic_call.py", "temperature.py"):
                shutil.copy2(STUBS / stub, submission / stub)
        process, results = _run_autograder(autograder)
        assert process.returncode == 0, process.stdout + process.stderr
        assert results["score"] == expected, process.stdout + process.stderr
        report = json.loads((autograder / "results" / "grade-report.json").read_text())
        assert report["sandbox"]["level"] == "strong", report["sandbox"]


def test_gradescope_shows_no_zero_when_grading_could_not_happen(autograder: Path) -> None:
    """A harness problem (a cassette missing) or a grader that cannot start: results.json tells staff why,
    and the student sees no score (a hidden test hides Gradescope's total), never "autograder failed"."""
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    _copy_submission(REFERENCE, submission)
    cassette = sorted((autograder / "source" / "cassettes" / "basic_call").glob("*.yaml"))[0]
    kept = cassette.read_bytes()
    cassette.unlink()
    try:
        process, results = _run_autograder(autograder)
    finally:
        cassette.write_bytes(kept)
    assert process.returncode == 0, process.stdout + process.stderr
    for document in (results, _run_autograder(autograder, {"GRADER_PYTHON": "/nonexistent/python"})[1]):
        assert document["output"] == gradescope.NOT_GRADED
        assert [t["visibility"] for t in document["tests"]] == ["hidden"]
        assert document["tests"][0]["output"]  # the reason, for staff
    assert cassette.stem in results["tests"][0]["output"] or "cassette" in results["tests"][0]["output"]
