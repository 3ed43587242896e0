"""Python 3.10-3.13: `nox -s grade` picks an interpreter and its pins, grades on each, says so clearly when
there is none, and installs nothing on a second run."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from grader import course
from tests.conftest import REFERENCE, ROOT

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def interpreter(version: str) -> Path | None:
    """A pyenv interpreter of `version` (X.Y), or None."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python"))
    return found[-1] if found else None


@functools.cache
def load_noxfile() -> ModuleType:
    """The project's noxfile as a module (loaded once: nox registers its sessions on import)."""
    spec = importlib.util.spec_from_file_location("project_noxfile", ROOT / "noxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nox(python: str | Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = subprocess.run(
        [str(python), "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=900,
    )
    return process.returncode, process.stdout + process.stderr


def test_grading_python_is_the_running_one_or_the_newest_supported_or_none():
    """3.10-3.13 grade on themselves; others get the newest supported one found; False when there is none."""
    noxfile = load_noxfile()
    assert noxfile.SUPPORTED == ("3.13", "3.12", "3.11", "3.10")
    assert noxfile.grading_python((3, 12), found=lambda v: False) is None
    assert noxfile.grading_python((3, 10), found=lambda v: False) is None
    assert noxfile.grading_python((3, 9), found=lambda v: v in ("3.10", "3.12")) == "3.12"
    assert noxfile.grading_python((3, 14), found=lambda v: True) == "3.13"
    assert noxfile.grading_python((3, 9), found=lambda v: False) is False
    assert "3.10 to 3.13" in noxfile.NO_PYTHON and "`nox -s grade` again" in noxfile.NO_PYTHON
    assert "python3.13, python3.12, python3.11 or python3.10 was found" in noxfile.NO_PYTHON


def pins(name: str) -> dict[str, str]:
    """The exact versions a constraints file pins, by lower-case package name."""
    lines = (ROOT / name).read_text().splitlines()
    return {k.strip().lower(): v.strip() for k, _, v in (s.partition("==") for s in lines if "==" in s)}


def test_each_supported_python_has_pins_and_310_has_its_own():
    """3.10 installs from constraints-3.10.txt (vcrpy 8.5, httpx2 2.14), 3.11-3.13 from constraints.txt; same SDKs."""
    noxfile = load_noxfile()
    assert {v: noxfile.constraints_for(v) for v in noxfile.SUPPORTED} == {
        "3.13": "constraints.txt", "3.12": "constraints.txt", "3.11": "constraints.txt", "3.10": "constraints-3.10.txt"
    }  # fmt: skip
    newer, older = pins("constraints.txt"), pins("constraints-3.10.txt")
    assert older["openai"] == newer["openai"] and older["anthropic"] == newer["anthropic"]
    assert older["vcrpy"].startswith("8.") and newer["vcrpy"].startswith("9.")
    assert "exceptiongroup" in older and "tomli" in older  # the backports grader/leaks.py and tests/mutation.py use
    assert set(older) - {"exceptiongroup", "tomli", "async-timeout", "greenlet", "six"} == set(newer)


def test_a_missing_interpreter_is_an_error_not_a_skip(tmp_path: Path):
    """A Python that is not there fails the session (exit 1), never "skipped" with exit 0."""
    code, output = nox(
        sys.executable, "--envdir", str(tmp_path), "--download-python", "never", "-s", "grade", "-P", "3.99"
    )
    assert code != 0, output
    assert "3.99" in output and "not found" in output


@pytest.mark.slow
def test_no_supported_python_at_all_exits_non_zero_with_the_way_forward(tmp_path: Path):
    """nox on 3.9 with no 3.10-3.13 on PATH: exit 1 and a message that says what to install."""
    python39 = interpreter("3.9")
    if python39 is None:
        pytest.skip("no Python 3.9 in pyenv on this machine")
    env_dir = tmp_path / "nox39"
    subprocess.run([str(python39), "-m", "venv", str(env_dir)], check=True, timeout=300)
    install = subprocess.run(  # the newest nox for 3.9 (`pip install nox` gives a student there)
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "nox==2026.4.10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    code, output = nox(
        env_dir / "bin" / "python", "--envdir", str(tmp_path / "envs"), "-s", "grade",
        env={"PATH": str(env_dir / "bin")},
    )  # fmt: skip
    assert code == 1, output
    assert "Grading needs Python 3.10 to 3.13; nox runs on 3.9" in output and "uv python install 3.13" in output


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_nox_grade_grades_the_reference_at_100_and_installs_nothing_the_second_time(tmp_path: Path, version: str):
    """On each supported Python its pins install and grade the reference at the maximum; a second run reuses all."""
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} in pyenv on this machine")
    report = tmp_path / "r.json"
    args = ("--envdir", str(tmp_path / "envs"), "-s", "grade", "-P", str(python), "--")
    grade_args = ("--submission", str(REFERENCE), "--json", str(report))
    code, first = nox(sys.executable, *args, *grade_args)
    assert code == 0, first
    data = json.loads(report.read_text())
    assert data["score"] == data["max_score"] == course.COURSE_MAX, first
    (env_python,) = (tmp_path / "envs").glob("*/bin/python")
    version_of = subprocess.run(
        [str(env_python), "-c", "import sys, vcr, httpx2; print(sys.version[:4], vcr.__version__, httpx2.__version__)"],
        capture_output=True,
        text=True,
    )
    pinned = pins(load_noxfile().constraints_for(version))
    assert version_of.stdout.split() == [version, pinned["vcrpy"], pinned["httpx2"]], version_of
    report.unlink()
    code, second = nox(sys.executable, *args, *grade_args)
    assert code == 0, second
    assert "nothing to install" in second and "pip install" not in second
    assert json.loads(report.read_text())["score"] == course.COURSE_MAX


class FakeSession:
    """What install() uses of a nox session: the venv's location and scripts folder, install, log, error."""

    def __init__(self, location: Path) -> None:
        self.virtualenv = SimpleNamespace(location=str(location))
        self.bin = str(Path(sys.executable).parent)  # the Python running these tests stands in for the venv's
        self.installs: list[tuple[str, ...]] = []
        self.logs: list[str] = []

    def install(self, *args: str, silent: bool = False) -> None:
        self.installs.append(args)

    def log(self, message: str) -> None:
        self.logs.append(message)

    def error(self, message: str) -> None:
        raise AssertionError(message)


def _noxfile_on_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Path]:
    """The noxfile, pointed at a copy of the files its install stamp covers."""
    noxfile = load_noxfile()
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "constraints.txt", "constraints-3.10.txt"):
        (project / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(noxfile, "ROOT", project)
    return noxfile, project


def test_install_is_skipped_until_pyproject_or_constraints_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Second call: nothing installed. A changed pin or pyproject.toml, or other arguments: installed again."""
    noxfile, project = _noxfile_on_a_copy(tmp_path, monkeypatch)
    session = FakeSession(tmp_path / "venv")
    (tmp_path / "venv").mkdir()
    noxfile.install(session, "-e", ".")
    noxfile.install(session, "-e", ".")
    assert len(session.installs) == 1 and any("nothing to install" in line for line in session.logs)
    ours = noxfile.constraints_for(f"{sys.version_info[0]}.{sys.version_info[1]}")  # the tests' Python stands in
    (project / ours).write_text((project / ours).read_text().replace("rich==", "rich==0"))
    noxfile.install(session, "-e", ".")
    assert len(session.installs) == 2
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n# changed\n")
    noxfile.install(session, "-e", ".")
    noxfile.install(session, "-e", ".[dev]")
    assert len(session.installs) == 4
    assert all(args[-2:] == ("-c", ours) for args in session.installs)


def test_on_310_install_uses_and_stamps_its_own_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A 3.10 venv installs with constraints-3.10.txt; a change there reinstalls, one in constraints.txt does not."""
    noxfile, project = _noxfile_on_a_copy(tmp_path, monkeypatch)
    monkeypatch.setattr(noxfile, "venv_python_version", lambda session: "3.10")
    session = FakeSession(tmp_path / "venv")
    (tmp_path / "venv").mkdir()
    noxfile.install(session, "-e", ".")
    assert session.installs == [("-e", ".", "-c", "constraints-3.10.txt")]
    (project / "constraints.txt").write_text((project / "constraints.txt").read_text().replace("rich==", "rich==0"))
    noxfile.install(session, "-e", ".")
    assert len(session.installs) == 1 and any("constraints-3.10.txt unchanged" in line for line in session.logs)
    pinned = (project / "constraints-3.10.txt").read_text()
    (project / "constraints-3.10.txt").write_text(pinned.replace("rich==", "rich==0"))
    noxfile.install(session, "-e", ".")
    assert len(session.installs) == 2
