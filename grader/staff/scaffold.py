"""`grader new-exercise`: everything a new exercise needs, written in one go (README, "How to add an exercise").

The exercise's source is a module with its given material and functions: `--spec FILE` (a short spec:
signatures and docstrings), else `tests/reference/NAME.py` when it exists, else a small working example
to edit (`tests/scaffold/reference.py.tmpl`). From it come the stub (every function body replaced by
`raise NotImplementedError`), the reference (written only when there is none), the student contract
section and the live demo. The suites
get one example check each (public and hidden), whose points add up to the exercise's; the course gets
its entry with its own points, so no other exercise's points change. Nothing existing is overwritten:
when any target is there already, nothing is written.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

# The example reference solution, kept with the reference solutions (tests/), which are never exported.
TEMPLATE = Path("tests") / "scaffold" / "reference.py.tmpl"

PUBLIC = '''"""Public checks of {name}: shown to students, with messages that say what went wrong."""

import pytest

from grader.judge.expect import same

PROMPT = "In one sentence, what is a token?"


@pytest.mark.points({points})
@pytest.mark.hint("Call the API once as the docstring says and return the reply's text.")
def test_{function}_returns_reply_text(exercise, {client}, replay):
    """{function} sends one request and returns the reply's text"""
    text = exercise.{function}({client}, PROMPT)
    expected = replay.response_json()["choices"][0]["message"]["content"]
    assert same(text, expected), f"{function} returned {{text!r}}; the API's reply text was {{expected!r}}"
'''

HIDDEN = '''"""Hidden checks of {name}: official grading only (assert without messages)."""

import pytest

from grader.judge.expect import same

PROMPT = "Name one primary colour."


@pytest.mark.points({points})
@pytest.mark.hint("Send exactly one request, with the prompt as the user message.")
def test_{function}_sends_the_prompt_once(exercise, {client}, replay):
    """{function} sends the prompt in exactly one request"""
    text = exercise.{function}({client}, PROMPT)
    assert same(text, replay.response_json()["choices"][0]["message"]["content"])
    assert len(replay.sent) == 1
'''

MUTANTS = '''# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise {name}: add one Mutant per mistake its checks must catch."""

from tests.wrong.catalogue import Mutant

MUTANTS: tuple[Mutant, ...] = ()
'''

DEMO = """    "{name}": Demo(
        "{name}",
        {prompt!r},
        ({step},),
    ),
"""


@dataclass(frozen=True)
class Function:
    name: str
    signature: str  # "def name(...) -> ...:" as written
    doc: str
    provider: str  # the client its first parameter takes: "openai" or "anthropic"


@dataclass(frozen=True)
class Plan:
    """Every file the scaffold writes (path -> text) and the two it edits."""

    files: dict[Path, str]
    course_entry: str
    demo_entry: str
    clauses_entry: str = ""


def _functions(tree: ast.Module, source: str) -> list[Function]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            header_end = node.body[0].lineno - 1
            lines = source.splitlines()[node.lineno - 1 : header_end]
            signature = "\n".join(lines).strip()
            annotation = node.args.args[0].annotation if node.args.args else None
            first = ast.get_source_segment(source, annotation) if annotation is not None else None
            provider = "anthropic" if first and "anthropic" in first.lower() else "openai"
            found.append(Function(node.name, signature, ast.get_docstring(node) or "", provider))
    return found


def stub_of(source: str, where: str) -> str:
    """The module with every top-level function's body (after its docstring) replaced by NotImplementedError."""
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as exc:
        raise UsageError(f"{where} does not parse (line {exc.lineno}): {exc.msg}") from None
    lines = source.splitlines(keepends=True)
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in reversed(nodes):  # bottom up: earlier line numbers stay right
        body = node.body
        has_doc = ast.get_docstring(node, clean=False) is not None
        start = (body[1].lineno if len(body) > 1 else None) if has_doc else body[0].lineno
        indent = " " * (body[0].col_offset)
        raise_line = f'{indent}raise NotImplementedError("{node.name}: your code here")\n'
        end = node.end_lineno or node.lineno
        if start is None:  # only a docstring: add the raise after it
            lines[end:end] = [raise_line]
        else:
            lines[start - 1 : end] = [raise_line]
    return "".join(lines)


def _contract(name: str, title: str, points: int, source: str, functions: list[Function]) -> str:
    tree = ast.parse(source)
    given = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            doc = (ast.get_docstring(node) or "").strip()
            given.append(f"- class `{node.name}`" + (f": {doc.splitlines()[0]}" if doc else ""))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    given.append(f"- `{ast.get_source_segment(source, node)}`")
    parts = [f"## {title} (`exercises/{name}.py`, {points} points)", ""]
    if given:
        parts += ["Given (do not change):", "", *given, ""]
    for function in functions:
        parts += ["```python", function.signature, "```", "", function.doc or "(describe what it must do)", ""]
    return "\n".join(parts)


UNGRADED = "written by the scaffold: name the checks and the mutant that grade it, or say why it is not graded"


def _clauses(name: str, contract: str) -> str:
    """The new exercise's entries for tests/contract_clauses.toml: each line of its contract, not graded yet.

    validate then passes and reports the exercise's clauses as not graded, until staff name what grades them.
    """
    lines = [line.strip() for line in contract.splitlines() if line.strip()]
    entries = [f"[[{name}]]\ntext = {json.dumps(line)}\nnot_graded = {json.dumps(UNGRADED)}\n" for line in lines]
    return f"\n# --- {name} " + "-" * max(3, 95 - len(name)) + "\n\n" + "\n".join(entries)


def plan(project: Path, name: str, title: str, points: int, spec: Path | None = None) -> Plan:
    """What `new-exercise` will write; UsageError (nothing written) when the name, points or a target is wrong."""
    if not NAME_RE.fullmatch(name) or keyword.iskeyword(name):
        raise UsageError(f"exercise name {name!r}: use a Python module name (lower case, digits, underscores)")
    if points < 2:
        raise UsageError(f"--points {points}: an exercise needs at least 2 (one for each example check)")
    reference = project / "tests" / "reference" / f"{name}.py"
    if spec is not None:
        if not spec.is_file():
            raise UsageError(f"--spec {spec}: no such file")
        source = spec.read_text(encoding="utf-8")
    elif reference.is_file():
        source = reference.read_text(encoding="utf-8")
    elif (project / TEMPLATE).is_file():
        source = (project / TEMPLATE).read_text(encoding="utf-8").format(name=name, title=title)
    else:
        raise UsageError(f"no {reference} and no example to start from ({TEMPLATE}): pass --spec FILE")
    stub = stub_of(source, str(spec or reference))
    functions = _functions(ast.parse(source), source)
    if not functions:
        raise UsageError(f"{spec or reference} defines no public function for students to write")
    first = functions[0]
    client = f"{first.provider}_client"
    public_points = points // 2
    files = {
        project / "exercises" / f"{name}.py": stub,
        project / "grader" / "suites" / name / "test_public.py": PUBLIC.format(
            name=name, points=public_points, function=first.name, client=client
        ),
        project / "grader" / "suites" / name / "test_hidden.py": HIDDEN.format(
            name=name, points=points - public_points, function=first.name, client=client
        ),
        project / "tests" / "wrong" / f"{name}.py": MUTANTS.format(name=name),
        project / "grader" / "contract" / f"{name}.md": (contract := _contract(name, title, points, source, functions)),
    }
    if not reference.is_file():
        files[reference] = source
    existing = [str(p.relative_to(project)) for p in files if p.exists()]
    course_text = (project / "grader" / "course.py").read_text(encoding="utf-8")
    if re.search(rf'Exercise\(\s*"{name}"', course_text):
        existing.append(f"grader/course.py (an entry for {name})")
    if existing:
        raise UsageError(f"{name} exists already, so nothing was written: {', '.join(existing)}")
    prompt = "In one sentence, what is a token?"
    call = f"lambda m, client: m.{first.name}(client, {prompt!r})"
    step = f'Step("{first.name}(client, prompt)", "{first.provider}", {call})'
    return Plan(
        files,
        course_entry=f"    Exercise({json.dumps(name)}, {json.dumps(title)}, {points}),\n",
        demo_entry=DEMO.format(name=name, prompt=prompt, step=step),
        clauses_entry=_clauses(name, contract),
    )


def _insert_before_closing(path: Path, opener: str, entry: str, closing: str) -> None:
    """Add `entry` as the last item of the literal that starts at `opener` and ends at the next `closing` line."""
    text = path.read_text(encoding="utf-8")
    start = text.find(opener)
    end = text.find(closing, start) if start >= 0 else -1
    if end < 0:
        raise UsageError(f"{path}: cannot find {opener!r} ... {closing.strip()!r} to add the new entry to")
    path.write_text(text[: end + 1] + entry + text[end + 1 :], encoding="utf-8")


def write(project: Path, planned: Plan) -> list[Path]:
    """Write the plan: new files first (refused if one appeared meanwhile), then the two entries."""
    written = []
    for path, text in planned.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    course_file, demos_file = project / "grader" / "course.py", project / "grader" / "live" / "demos.py"
    _insert_before_closing(course_file, "COURSE: tuple[Exercise, ...] = (", planned.course_entry, "\n)\n")
    _insert_before_closing(demos_file, "DEMOS: dict[str, Demo] = {", planned.demo_entry, "\n}\n")
    table = project / "tests" / "contract_clauses.toml"
    if planned.clauses_entry and table.is_file():
        with table.open("a", encoding="utf-8") as handle:
            handle.write(planned.clauses_entry)
    return written
