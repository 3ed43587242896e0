"""The rubric: every graded check with its points, hint and visibility, read from the suites' source.

The parent process builds it with `ast`, so it never imports the suites or student code, and the
points it awards come from here, not from anything the child process says.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from grader.course import SUITES_DIR, Exercise
from grader.errors import StaffError

VISIBILITIES = ("visible", "hidden")


@dataclass(frozen=True)
class Check:
    id: str  # pytest node id relative to the suites dir: "basic_call/test_public.py::test_x"
    exercise: str
    name: str
    points: int
    hint: str
    visibility: str
    cassette: str | None  # cassettes/<exercise>/<cassette>.yaml, or None: the check expects no request

    @property
    def test_name(self) -> str:
        return self.id.rpartition("::")[2]


@dataclass(frozen=True)
class ExerciseRubric:
    exercise: Exercise
    checks: tuple[Check, ...]

    @property
    def present_points(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def absent_hidden_points(self) -> int:
        """Points held by hidden checks that are not in this copy of the suites (student export)."""
        return self.exercise.weight - self.present_points


def _mark(decorator: ast.expr) -> tuple[str, list[ast.expr]] | None:
    """(name, args) for `@pytest.mark.NAME(args)`, else None."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "mark"
        and isinstance(target.value.value, ast.Name)
        and target.value.value.id == "pytest"
    ):
        return target.attr, list(call.args) if call else []
    return None


def _literal(node: ast.expr, where: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise StaffError(f"{where}: marker arguments must be literals so the rubric can be read") from None


def _module_visibility(tree: ast.Module, path: Path) -> str:
    visibility = "hidden" if path.name.startswith("test_hidden") else "visible"
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            marks = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            for m in marks:
                parsed = _mark(m)
                if parsed and parsed[0] == "visibility":
                    visibility = str(_literal(parsed[1][0], f"{path}: pytestmark"))
    return visibility


def checks_of_file(path: Path, exercise_id: str) -> list[Check]:
    """The checks one suite file defines, read with `ast`; StaffError when one is malformed."""
    stat = path.stat()
    return list(_checks_of_file(path, exercise_id, stat.st_mtime_ns, stat.st_size))


# A batch reads every rubric once per submission: parsed once per version of the file instead (a failure,
# raised, is never cached).
@functools.lru_cache(maxsize=256)
def _checks_of_file(path: Path, exercise_id: str, mtime_ns: int, size: int) -> tuple[Check, ...]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise StaffError(f"suite file {path} does not parse (line {exc.lineno}): {exc.msg}") from None
    default_visibility = _module_visibility(tree, path)
    checks = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
            continue
        where = f"{path}::{node.name}"
        marks: dict[str, list[ast.expr]] = {}
        for decorator in node.decorator_list:
            parsed = _mark(decorator)
            if parsed:
                marks[parsed[0]] = parsed[1]
        if "parametrize" in marks:
            raise StaffError(f"{where}: graded checks cannot be parametrized (one check, one score)")
        if "points" not in marks or "hint" not in marks:
            raise StaffError(f"{where}: every graded check needs @pytest.mark.points(N) and @pytest.mark.hint(...)")
        points = _literal(marks["points"][0], where)
        hint = _literal(marks["hint"][0], where)
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise StaffError(f"{where}: points must be a positive integer, got {points!r}")
        if not isinstance(hint, str) or not hint.strip():
            raise StaffError(f"{where}: the hint must be a non-empty string, got {hint!r}")
        visibility = default_visibility
        if "visibility" in marks:
            visibility = str(_literal(marks["visibility"][0], where))
        if visibility not in VISIBILITIES:
            raise StaffError(f"{where}: visibility must be one of {VISIBILITIES}, got {visibility!r}")
        cassette = _literal(marks["cassette"][0], where) if marks.get("cassette") else node.name
        if cassette is not None and not isinstance(cassette, str):
            raise StaffError(f"{where}: the cassette marker takes a name or None, got {cassette!r}")
        doc = ast.get_docstring(node)
        name = doc.strip().splitlines()[0] if doc else node.name.removeprefix("test_").replace("_", " ")
        checks.append(
            Check(
                id=f"{exercise_id}/{path.name}::{node.name}",
                exercise=exercise_id,
                name=name,
                points=points,
                hint=hint,
                visibility=visibility,
                cassette=cassette,
            )
        )
    return tuple(checks)


def suite_files(exercise_id: str, suites_dir: Path = SUITES_DIR) -> list[Path]:
    return sorted((suites_dir / exercise_id).glob("test_*.py"))


def load(exercise: Exercise, suites_dir: Path = SUITES_DIR) -> ExerciseRubric:
    """Read one exercise's rubric; StaffError when the suite is malformed or its points are wrong."""
    files = suite_files(exercise.id, suites_dir)
    if not files:
        raise StaffError(f"exercise {exercise.id!r} has no suite files under {suites_dir / exercise.id}")
    # Visible checks first: the student reads the public ones before the hidden ones.
    checks = tuple(
        sorted(
            (c for f in files for c in checks_of_file(f, exercise.id)),
            key=lambda c: c.visibility != "visible",
        )
    )
    rubric = ExerciseRubric(exercise, checks)
    has_hidden_files = any(f.name.startswith("test_hidden") for f in files)
    total = rubric.present_points
    if total > exercise.weight or (has_hidden_files and total != exercise.weight):
        raise StaffError(
            f"the checks of {exercise.id!r} add up to {total} points but the exercise is worth "
            f"{exercise.weight} (grader/course.py); fix the @pytest.mark.points values"
        )
    return rubric
