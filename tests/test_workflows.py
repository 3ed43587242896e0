"""The GitHub workflows: valid against GitHub's workflow schema (check-jsonschema's vendored copy, offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its bundled copy of GitHub's workflow schema (no network), on one file."""
    return check_schema(path)


def check_schema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_passes_the_github_workflow_schema(workflow: Path):
    process = check_schema(workflow)
    assert process.returncode == 0, process.stdout + process.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    strategy: {matrix: 5}\n    steps: []\n")
    process = check_schema(broken)
    assert process.returncode == 1 and "broken.yml" in process.stdout


def test_regrade_runs_a_matrix_of_shards_then_merges_them():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "regrade.yml").read_text())
    jobs = workflow["jobs"]
    assert jobs["grade"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    grade_steps = " ".join(str(s.get("run", "")) for s in jobs["grade"]["steps"])
    assert "grader batch submissions" in grade_steps and '--shard "$SHARD"' in grade_steps
    assert jobs["grade"]["steps"][-1]["with"]["name"] == "shard-${{ matrix.shard }}"
    assert set(jobs["merge"]["needs"]) == {"plan", "grade"} and "!cancelled()" in jobs["merge"]["if"]
    merge_steps = " ".join(str(s.get("run", "")) for s in jobs["merge"]["steps"])
    assert "grader merge gradebook shards/shard-*" in merge_steps


def test_ci_workflow_covers_every_os_and_python():
    """ci.yml runs `nox -s tests` on ubuntu, macos and windows, on 3.10, 3.11 and 3.13."""
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for needle in ("ubuntu-latest", "macos-latest", "windows-latest", '"3.10"', '"3.11"', '"3.13"', "nox -s tests"):
        assert needle in text
