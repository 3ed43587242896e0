"""The functions a submission still leaves as stubs, read with `ast` before any of its code runs.

A function that only hidden checks call is never reached in the student's copy of the grader, so no
failure names it; the report names it from here instead ("graded after you submit"). The source is
only parsed, never run, and a file too big or not Python gives no names: its checks say why.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

MAX_SOURCE = 1_000_000  # bytes; a stub file is a few kB, and parsing must stay cheap whatever is handed in


def _raises_not_implemented(body: list[ast.stmt]) -> bool:
    for statement in body:
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                return True
    return False


def _functions(tree: ast.Module) -> Iterable[tuple[str, list[ast.stmt]]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node.body
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{member.name}", member.body


def unwritten(submission: Path, exercise_id: str) -> tuple[str, ...]:
    """Names of the functions (`UsageTracker.record` for a method) that still raise NotImplementedError."""
    path = submission / f"{exercise_id}.py"
    try:
        if not path.is_file() or path.stat().st_size > MAX_SOURCE:
            return ()
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    return tuple(name for name, body in _functions(tree) if _raises_not_implemented(body))


def every_unwritten(submission: Path, exercise_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """`unwritten` of each exercise that has any."""
    found = {e: unwritten(submission, e) for e in exercise_ids}
    return {e: names for e, names in found.items() if names}


def names_in_code(paths: Iterable[Path]) -> frozenset[str]:
    """Every name and attribute the code of `paths` uses (not its strings): what the suites present call."""
    used: set[str] = set()
    for path in paths:
        stat = path.stat()
        used |= _names_in_file(path, stat.st_mtime_ns, stat.st_size)
    return frozenset(used)


@functools.lru_cache(maxsize=256)  # per version of the file: a batch asks once per submission
def _names_in_file(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
    return frozenset(used)


def hidden_only(functions: Iterable[str], used: frozenset[str]) -> tuple[str, ...]:
    """The functions (methods by their own name) that no suite present calls: only absent hidden checks do."""
    return tuple(name for name in functions if name.rpartition(".")[2] not in used)
