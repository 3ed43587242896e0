"""The student template repository: stubs, public suites, the cassettes they replay, the engine, a student
README, a .gitignore that keeps `.env` out, and the workflow that grades every push.

It refuses to export exercise modules that are not stubs, found by grading them: the stubs score 0.

Left out on purpose: hidden suites (and their cassettes, which are named after hidden checks),
reference solutions, known-wrong implementations, the harness's own tests and staff nox sessions.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from pathlib import Path

from grader import course, rubric
from grader.errors import StaffError, UsageError
from grader.parent import grading

STUDENT_SESSIONS = ("grade", "live", "comment")  # comment: the workflow posts the score on pull requests
COPIED_FILES = (
    "pyproject.toml", "constraints.txt", "constraints-3.10.txt", ".gitignore", ".github/workflows/grade.yml"
)  # fmt: skip


class NotStubsError(StaffError):
    """Exercise modules that earn points: exporting them would hand out solutions."""


def check_stubs(exercises_dir: Path) -> None:
    """Grade the modules about to be exported; NotStubsError naming each one that scores above 0."""
    result = grading.grade_submission(course.gradable(), exercises_dir)
    solved = [e for e in result.exercises if e.score > 0]
    if solved:
        names = ", ".join(f"exercises/{e.id}.py ({e.score}/{e.max_score})" for e in solved)
        raise NotStubsError(
            f"refusing to export: {names} {'is' if len(solved) == 1 else 'are'} not a stub (stubs score 0). "
            "Put the stubs back (for example `git checkout -- exercises/`) and export again; nothing was written."
        )


PUBLIC_SUITE = "test_public.py"

NOXFILE_DOCSTRING = (
    '"""Grade your exercises offline (`nox`), or try them against the real APIs (`nox -s live -- basic_call`)."""'
)

README = """# LLM API course: exercises

Fill in the functions in `exercises/` that raise `NotImplementedError`; each docstring says what
the function must call, return and raise. Do not change the given constants, dataclasses or
exceptions.

## Grade your work (offline, free)

Python 3.10, 3.11, 3.12 or 3.13 on Linux, macOS or Windows (on Windows, WSL gives the full protection):

```bash
pip install nox
nox -s grade                     # every exercise
nox -s grade -- basic_call       # one exercise
nox -s grade -- --failed         # only the checks that failed last time
nox -s grade -- -v               # also list the checks that pass
```

The first run builds an environment (a minute); later runs reuse it and install nothing unless
`pyproject.toml` or the constraints changed. While checks run a progress line shows; then come
the checks to fix (an exercise not started yet is one line naming its functions), then the score
table and your total.

No API key and no network are needed: your code gets SDK clients whose requests are answered
from recorded API traffic (`cassettes/`). A request that differs from what the exercise asks for
fails its check, and the feedback names the field that differed. The table ends with your score;
`grade-report.json` holds the details.

This copy holds the **public** checks only. Each exercise also has hidden checks that run at
official grading; the table tells you how many points they hold, so a full score here is not yet
a full score there. Test the cases the docstrings describe, not just the ones you can see.

## What your code may import

The Python standard library, openai, anthropic and what they bring (httpx2, pydantic,
anyio). Anything else is not installed where your code is graded: a module that imports it
scores 0, and the feedback names the package.

## Try your code against the real APIs (uses your key, costs a little)

Put your keys in a file named `.env` in this folder (`.gitignore` keeps it out of git):

```bash
OPENAI_API_KEY=sk-...
ANTHROPIC_API_KEY=sk-ant-...
```

then run `nox -s live -- basic_call`. `live` reads `.env` (a variable set in your shell wins),
runs your functions for one exercise with your keys and prints what came back, with the tokens
used and their cost at the course's prices. Nothing is sent when a key is missing.

## Hand it in

- **GitHub Classroom**: commit and push. `.github/workflows/grade.yml` grades every push and
  shows the score in the run's summary and in Classroom; on a pull request it also comments it.
- **Gradescope**: upload the files of `exercises/` (or the repository from GitHub). Gradescope
  runs the public and the hidden checks.

## What is here

| path | what |
|---|---|
| `exercises/` | your code |
| `grader/` | the grader; `grader/suites/<exercise>/test_public.py` are the public checks |
| `cassettes/` | the recorded API traffic the checks replay |
| `constraints.txt` | the exact package versions every grading run uses (`constraints-3.10.txt` on Python 3.10) |
"""


CONTRACT_INTRO = """
## The exercises

What each function must do, exercise by exercise (the docstrings in `exercises/` say the same).
The checks grade these sentences; `grader/contract/` holds the same text.
"""


def student_readme(contract_dir: Path) -> str:
    """The README: how to work and hand in, then the contract, the rules for every exercise first and then
    each exercise's section in course order (grader/contract/<exercise>.md), headings one level down."""
    parts = [README, CONTRACT_INTRO]
    for name in ["common", *(e.id for e in course.COURSE)]:
        path = contract_dir / f"{name}.md"
        if not path.is_file():
            raise StaffError(f"{path} is missing: the student README includes every exercise's contract")
        text = path.read_text(encoding="utf-8").strip("\n")
        parts.append(
            "\n" + "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines()) + "\n"
        )
    return "".join(parts)


def public_suites(suites_dir: Path) -> list[Path]:
    return sorted(suites_dir.glob(f"*/{PUBLIC_SUITE}"))


def public_cassettes(suites_dir: Path, cassettes_dir: Path) -> list[Path]:
    """The cassettes the public checks replay; StaffError naming the check when one is missing."""
    needed: list[Path] = []
    for suite in public_suites(suites_dir):
        for check in rubric.checks_of_file(suite, suite.parent.name):
            if check.cassette is None:
                continue
            path = cassettes_dir / check.exercise / f"{check.cassette}.yaml"
            if not path.is_file():
                raise StaffError(
                    f"{check.id} replays {path}, which does not exist; "
                    f"record it (`nox -s record -- {check.exercise} {check.test_name}`) before exporting"
                )
            if path not in needed:
                needed.append(path)
    return needed


def student_noxfile(source: str) -> str:
    """The project's noxfile with only the student sessions and a student docstring."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    dropped: set[int] = set()
    found = set()
    for index, node in enumerate(tree.body):
        assert node.end_lineno is not None
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            dropped.update(range(node.lineno - 1, node.end_lineno))  # the maintainers' docstring
        elif isinstance(node, ast.FunctionDef) and node.decorator_list:  # a session; helpers stay
            if node.name in STUDENT_SESSIONS:
                found.add(node.name)
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            dropped.update(range(first - 1, node.end_lineno))
    missing = set(STUDENT_SESSIONS) - found
    if missing:
        raise StaffError(f"noxfile.py has no session {', '.join(sorted(missing))} to export")
    text = NOXFILE_DOCSTRING + "\n" + "".join(line for i, line in enumerate(lines) if i not in dropped)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.rstrip("\n") + "\n"


def _copy_engine(package: Path, target: Path) -> None:
    suites = package / "suites"

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        dropped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".tmp"))}
        if here == suites:
            dropped |= {n for n in names if n != "pytest.ini" and not (here / n).is_dir()}
        elif here.parent == suites:
            dropped |= {n for n in names if n != PUBLIC_SUITE}
        return dropped

    shutil.copytree(package, target, ignore=ignore)


def _check_no_hidden_checks(suites_dir: Path) -> None:
    for exercise in course.gradable(suites_dir):
        for check in rubric.load(exercise, suites_dir).checks:
            if check.visibility == "hidden":
                raise StaffError(
                    f"{check.id} is a hidden check in a public file; move it to test_hidden.py before exporting"
                )


def write(target: Path, *, project: Path | None = None) -> list[Path]:
    """Write the distribution into `target` (new or empty); the files written, relative to it."""
    project = project or course.PROJECT_DIR
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"export target {target} exists and is not empty; choose a new directory")
    check_stubs(project / "exercises")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        shutil.copytree(project / "exercises", staging / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
        _copy_engine(project / "grader", staging / "grader")
        _check_no_hidden_checks(staging / "grader" / "suites")
        for cassette in public_cassettes(project / "grader" / "suites", project / "cassettes"):
            destination = staging / cassette.relative_to(project)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(cassette, destination)
        for name in COPIED_FILES:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / name, staging / name)
        (staging / "noxfile.py").write_text(student_noxfile((project / "noxfile.py").read_text()), encoding="utf-8")
        (staging / "README.md").write_text(student_readme(project / "grader" / "contract"), encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
