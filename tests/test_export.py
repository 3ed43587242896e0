"""`grader export`: the student distribution grades in a fresh environment and leaks nothing staff-only."""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from grader import cli, course, rubric
from grader.errors import StaffError
from grader.staff import export
from tests.conftest import CONSTRAINTS, REFERENCE, ROOT, STUBS
from tests.test_workflows import check_workflow

SUITES = course.SUITES_DIR


def run_export(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "export", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exported distribution, shared by the checks of this module."""
    target = tmp_path_factory.mktemp("export") / "student"
    result = run_export(target)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def _files(root: Path) -> dict[Path, str]:
    return {
        p.relative_to(root): p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*") if p.is_file()
    }


def _code_lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines()}


_COMMON = set(keyword.kwlist) | set(dir(builtins))


def _significant(line: str) -> bool:
    """A line that says something of its own: not an import, not an idiom like `except ValueError:`."""
    own_names = {n for n in re.findall(r"[A-Za-z_]\w+", line.replace("\\n", " ")) if n not in _COMMON}
    return (
        len(line) >= 16
        and len(own_names) >= 3
        and not line.startswith(("import ", "from ", "#", "@pytest.mark.points("))
    )


def _hidden_material() -> tuple[set[str], set[str]]:
    """(hidden check names, function names and hints; significant lines of the hidden suites)."""
    names: set[str] = set()
    public_lines = set().union(*(_code_lines(p) for p in SUITES.glob("*/test_public.py")))
    lines: set[str] = set()
    for path in sorted(SUITES.glob("*/test_hidden.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                names.add(node.name)
        lines |= {line for line in _code_lines(path) - public_lines if _significant(line)}
    for exercise in course.gradable():
        for check in rubric.load(exercise).checks:
            if check.visibility == "hidden":
                names |= {check.name, check.hint}
    return names, lines


def test_layout_holds_exactly_the_student_material(dist: Path):
    files = {p.as_posix() for p in _files(dist)}
    assert {f"exercises/{p.name}" for p in STUBS.glob("*.py")} <= files
    assert {"README.md", "noxfile.py", "pyproject.toml", ".gitignore"} <= files
    assert {"constraints.txt", "constraints-3.10.txt"} <= files  # the student's nox picks one by Python version
    assert ".github/workflows/grade.yml" in files
    assert ".env" in (dist / ".gitignore").read_text().splitlines()
    assert not any(f.startswith(("tests/", ".ci/")) for f in files)
    suites = sorted(f for f in files if f.startswith("grader/suites/"))
    expected = ["grader/suites/pytest.ini"] + [
        f"grader/suites/{p.parent.name}/test_public.py" for p in export.public_suites(SUITES)
    ]
    assert suites == sorted(expected)
    # The cassettes are exactly those the public checks replay, and the exported grader finds them all.
    cassettes = {f for f in files if f.startswith("cassettes/")}
    assert cassettes == {p.relative_to(ROOT).as_posix() for p in export.public_cassettes(SUITES, course.CASSETTES_DIR)}
    assert all(Path(f).stem.startswith("test_") for f in cassettes)


def test_noxfile_has_only_student_sessions(dist: Path):
    tree = ast.parse((dist / "noxfile.py").read_text())
    sessions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.decorator_list}
    assert sessions == {"grade", "live", "comment"}
    project = {n.name for n in ast.parse((ROOT / "noxfile.py").read_text()).body if isinstance(n, ast.FunctionDef)}
    assert {"record", "validate", "export", "tests", "lint"} <= project


def test_nothing_hidden_or_from_a_reference_solution_leaks(dist: Path):
    names, hidden_lines = _hidden_material()
    assert names and hidden_lines
    stub_lines = set().union(*(_code_lines(p) for p in STUBS.glob("*.py")))
    reference_lines = {
        line
        for path in REFERENCE.glob("*.py")
        for line in _code_lines(path) - stub_lines
        if _significant(line) and not line.startswith(('"""', "__all__"))
    }
    assert len(reference_lines) > 100  # the comparison has material to work on
    for relative, text in _files(dist).items():
        for name in names:
            assert name not in text, f"{relative} names the hidden check {name!r}"
        lines = {line.strip() for line in text.splitlines()}
        assert not lines & hidden_lines, f"{relative} holds hidden-suite lines {sorted(lines & hidden_lines)[:3]}"
        leaked = lines & reference_lines
        assert not leaked, f"{relative} holds reference-solution lines {sorted(leaked)[:3]}"


def test_export_refuses_a_non_empty_directory(tmp_path: Path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run_export(tmp_path)
    assert result.returncode == 2
    assert str(tmp_path) in result.stdout and "not empty" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_exported_tree_grades_its_stubs_at_zero_in_a_fresh_environment(dist: Path, tmp_path: Path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(dist), "-c", str(dist / CONSTRAINTS.name)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    graded = subprocess.run(
        [str(python), "-m", "grader", "grade"],
        cwd=dist,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)},
        timeout=300,
    )
    output = graded.stdout + graded.stderr
    assert graded.returncode == 0, output
    report = json.loads((dist / "grade-report.json").read_text())
    assert report["score"] == 0 and "Total: 0/" in output
    for exercise in report["exercises"]:
        assert exercise["tests"] and all(t["visibility"] == "visible" for t in exercise["tests"])
        assert exercise["hidden_points_not_run"] > 0
    hidden_total = sum(e["hidden_points_not_run"] for e in report["exercises"])
    public_total = report["max_score"] - hidden_total
    total = f"Total: 0/{public_total} in public checks; {hidden_total} pt more are graded by hidden checks when you"
    assert total in " ".join(output.split()), output
    # The same engine gives a correct submission every public point: the exported cassettes suffice.
    solved = subprocess.run(
        [str(python), "-m", "grader", "grade", "--submission", str(REFERENCE), "--json", str(tmp_path / "r.json")],
        cwd=dist,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert solved.returncode == 0, solved.stdout + solved.stderr
    solved_report = json.loads((tmp_path / "r.json").read_text())
    public_points = sum(t["max_score"] for e in solved_report["exercises"] for t in e["tests"])
    assert solved_report["score"] == public_points > 0


def test_exported_workflow_passes_githubs_schema_and_readme_says_how_to_submit(dist: Path):
    """The template's grade-on-push workflow validates; its README covers grading, imports and submitting."""
    result = check_workflow(dist / ".github" / "workflows" / "grade.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    readme = (dist / "README.md").read_text()
    for needle in ("nox -s grade", "What your code may import", "GitHub Classroom", "Gradescope", ".env"):
        assert needle in readme


def test_student_readme_holds_the_whole_contract_in_course_order():
    """The README ends with the contract: the rules for every exercise, then each exercise's section
    (grader/contract/<exercise>.md, word for word but for headings one level down) in course order."""
    contract = ROOT / "grader" / "contract"
    readme = export.student_readme(contract)
    starts = []
    for name in ["common", *(e.id for e in course.COURSE)]:
        text = (contract / f"{name}.md").read_text().strip("\n")
        demoted = "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())
        assert demoted in readme, name
        starts.append(readme.index(demoted))
    assert starts == sorted(starts) and starts[0] > readme.index("## Hand it in")


def test_student_readme_names_a_missing_contract_file(tmp_path: Path):
    shutil.copytree(ROOT / "grader" / "contract", tmp_path / "contract")
    (tmp_path / "contract" / "providers.md").unlink()
    with pytest.raises(StaffError, match=r"providers\.md is missing"):
        export.student_readme(tmp_path / "contract")


def test_export_refuses_solved_exercises_naming_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """An exercise module that scores above 0 is not a stub: exit 1, the file named, nothing written."""
    project = tmp_path / "project"
    shutil.copytree(STUBS, project / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    for solved in ("basic_call.py", "api_keys.py"):
        shutil.copy2(REFERENCE / solved, project / "exercises" / solved)
    monkeypatch.setattr(course, "PROJECT_DIR", project)
    monkeypatch.setenv("COLUMNS", "300")
    target = tmp_path / "student"
    code = cli.main(["export", str(target)])
    output = capsys.readouterr().out
    assert code == 1, output
    assert "exercises/basic_call.py (10/10), exercises/api_keys.py (10/10) are not a stub" in output
    assert "temperature" not in output.split("refusing")[1] and not target.exists()
