"""The project's GitHub workflows pass GitHub's workflow schema (they cannot run here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema (a dev dependency) with its bundled copy of GitHub's schema: no network."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_workflow_exists_and_covers_every_os_and_python() -> None:
    """ci.yml runs `nox -s tests` on ubuntu, macos and windows, on 3.11 and 3.13."""
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    for needle in ("ubuntu-latest", "macos-latest", "windows-latest", '"3.11"', '"3.13"', "nox -s tests"):
        assert needle in text


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_passes_githubs_schema(workflow: Path) -> None:
    """Each workflow validates against vendor.github-workflows."""
    result = check_workflow(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The check can fail: a job without runs-on or steps is refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    stepz: []\n")
    assert check_workflow(broken).returncode != 0
