"""The student distribution: stubs, public suites, the cassettes they replay, the engine, a student README.

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

STUDENT_SESSIONS = ("grade", "live")
COPIED_FILES = ("pyproject.toml", "constraints.txt", ".gitignore")
PUBLIC_SUITE = "test_public.py"

NOXFILE_DOCSTRING = (
    '"""Grade your exercises offline (`nox`), or try them against the real APIs (`nox -s live -- basic_call`)."""'
)

README = """# LLM API course: exercises

Fill in the functions in `exercises/` that raise `NotImplementedError`; each docstring says what
the function must call, return and raise. Do not change the given constants, dataclasses or
exceptions.

## Grade your work (offline, free)

```bash
pip install nox
nox -s grade                     # every exercise
nox -s grade -- basic_call       # one exercise
```

No API key and no network are needed: your code gets SDK clients whose requests are answered
from recorded API traffic (`cassettes/`). A request that differs from what the exercise asks for
fails its check, and the feedback names the field that differed. The table ends with your score;
`grade-report.json` holds the details.

This copy holds the **public** checks only. Each exercise also has hidden checks that run at
official grading; the table tells you how many points they hold, so a full score here is not yet
a full score there. Test the cases the docstrings describe, not just the ones you can see.

## Try your code against the real APIs (uses your key, costs a little)

```bash
export OPENAI_API_KEY=sk-...          # and/or ANTHROPIC_API_KEY=sk-ant-...
nox -s live -- basic_call
```

`live` runs your functions for one exercise with your own keys and prints what came back, with
the tokens used and their cost at the course's prices. Nothing is sent when a key is missing.
Never commit a key: keep it in your shell or in a `.env` file that `.gitignore` excludes.

## What is here

| path | what |
|---|---|
| `exercises/` | your code |
| `grader/` | the grader; `grader/suites/<exercise>/test_public.py` are the public checks |
| `cassettes/` | the recorded API traffic the checks replay |
| `constraints.txt` | the exact package versions every grading run uses |
"""


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


def write(target: Path, *, project: Path = course.PROJECT_DIR) -> list[Path]:
    """Write the distribution into `target` (new or empty); the files written, relative to it."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"export target {target} exists and is not empty; choose a new directory")
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
            shutil.copy2(project / name, staging / name)
        (staging / "noxfile.py").write_text(student_noxfile((project / "noxfile.py").read_text()), encoding="utf-8")
        (staging / "README.md").write_text(README, encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
