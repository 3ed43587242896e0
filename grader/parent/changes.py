"""Which exercises a `grade --watch` round re-grades, from the modules saved since the last round.

A saved `<id>.py` re-grades that exercise and every exercise whose module imports it (`providers` uses
`token_counter`'s `Usage`), read with `ast`, never run; any other module (`__init__.py`, a helper the
student added, a module in a sub-folder) may be imported by any exercise, so it re-grades them all.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.parent import stubs

PACKAGE = "exercises"  # the name the sandbox imports the submission as


@dataclass(frozen=True)
class Plan:
    saved: tuple[str, ...]  # the modules saved, relative to the submission folder (posix), sorted
    regrade: tuple[str, ...]  # the exercises to grade this round, in the order watched; () when none
    why: str  # "modules", "shared" (a module every exercise may import) or "all" (--all)

    def header(self, watched: Sequence[str]) -> str:
        """One line: what was saved and what this round re-grades."""
        names = ", ".join(self.saved)
        if not self.regrade:
            return f"Saved {names}: nothing to re-grade (watching {', '.join(watched)} only)"
        if self.why == "all":
            return f"Saved {names}: re-grading all {len(self.regrade)} exercise(s) (--all)"
        if self.why == "shared":
            return f"Saved {names} (any exercise may import it): re-grading all {len(self.regrade)} exercise(s)"
        return f"Saved {names}: re-grading {', '.join(self.regrade)}"


def plan(
    saved: Iterable[str],
    watched: Sequence[str],
    exercise_ids: Collection[str],
    imports: Mapping[str, frozenset[str]],
    *,
    every_time: bool = False,
) -> Plan:
    """What to re-grade after `saved` (paths relative to the submission folder).

    `watched`: the exercises this watch grades; `exercise_ids`: every exercise of the course (a saved module
    of an exercise not watched is still an exercise's module, not a shared one); `imports`: exercise id to
    the exercises its module imports (`imports_of`); `every_time`: --all.
    """
    names = tuple(sorted(set(saved)))
    if every_time:
        return Plan(names, tuple(watched), "all")
    modules = {name[: -len(".py")] for name in names if "/" not in name and name.endswith(".py")}
    if any(module not in exercise_ids for module in modules) or len(modules) < len(names):
        return Plan(names, tuple(watched), "shared")
    affected = set(modules)
    grew = True
    while grew:  # the exercises that import an affected one, however indirectly
        dependents = {e for e, used in imports.items() if used & affected} - affected
        affected |= dependents
        grew = bool(dependents)
    return Plan(names, tuple(e for e in watched if e in affected), "modules")


def imports_of(folder: Path, exercise_ids: Collection[str]) -> dict[str, frozenset[str]]:
    """Each exercise's module in `folder` to the other exercises' modules it imports; a module that cannot be
    read or parsed imports nothing (it fails to import when graded, whatever it would have used)."""
    return {e: frozenset(_imported(folder / f"{e}.py") & set(exercise_ids)) - {e} for e in exercise_ids}


def _imported(path: Path) -> set[str]:
    try:
        if not path.is_file() or path.stat().st_size > stubs.MAX_SOURCE:
            return set()
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 or (node.level == 0 and module.split(".")[0] == PACKAGE):
                inside = module.split(".")[1:] if node.level == 0 else module.split(".")
                if inside and inside[0]:
                    found.add(inside[0])  # from .token_counter import Usage / from exercises.token_counter import
                else:
                    found.update(alias.name for alias in node.names)  # from . import token_counter
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])  # import exercises.token_counter
    return found
