"""Submissions whose functions never return: every function and method of every module in `exercises/`
(or only those of some exercises) gets a body that hangs, its signature kept.

`loop`: a busy loop (`while True: pass`), which burns a core; `block`: a wait on an event nobody sets,
which the grader's frozen clock cannot skip (a `time.sleep` would be skipped: the clock is simulated).
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "exercises"
REFERENCE = ROOT / "tests" / "reference"

BODIES = {
    "loop": "while True:\n    pass\n",
    "block": "import threading\nthreading.Event().wait()\n",
}


class _Hang(ast.NodeTransformer):
    def __init__(self, body: str) -> None:
        self.body = ast.parse(body).body
        self.functions: list[str] = []

    def _hang(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self.functions.append(node.name)
        docstring = node.body[:1] if ast.get_docstring(node) is not None else []
        node.body = [*docstring, *self.body]
        return node

    visit_FunctionDef = _hang
    visit_AsyncFunctionDef = _hang


def hang_module(source: str, how: str = "loop") -> tuple[str, list[str]]:
    """The module with every function's body replaced by one that never returns; and those functions' names."""
    transformer = _Hang(BODIES[how])
    tree = ast.fix_missing_locations(transformer.visit(ast.parse(source)))
    return ast.unparse(tree) + "\n", transformer.functions


def write(
    dest: Path, *, how: str = "loop", base: Path = STUBS, only: Collection[str] | None = None
) -> dict[str, list[str]]:
    """A copy of `base` at `dest` whose exercises (all, or `only` these) hang in every function; the
    functions made to hang, per exercise."""
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    hung: dict[str, list[str]] = {}
    for module in sorted(dest.glob("*.py")):
        if module.stem == "__init__" or (only is not None and module.stem not in only):
            continue
        text, functions = hang_module(module.read_text(encoding="utf-8"), how)
        module.write_text(text, encoding="utf-8")
        hung[module.stem] = functions
    return hung
