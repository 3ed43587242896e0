"""The catalogue of known-wrong implementations the suites must catch.

Each mutant is the reference solution (`tests/reference/`) with one mistake made by text edits,
so it differs from a correct submission in exactly the way its description says, and names the
check(s) that must fail because of it.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


@dataclass(frozen=True)
class Mutant:
    exercise: str
    name: str
    description: str
    # Exactly the checks this mistake fails (ids relative to the exercise's suite dir); every other passes.
    caught_by: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in exercises/<exercise>.py

    @property
    def check_ids(self) -> tuple[str, ...]:
        return tuple(f"{self.exercise}/{c}" for c in self.caught_by)

    def write(self, directory: Path) -> Path:
        """A full submission in `directory`: the reference with this mutant's module."""
        shutil.copytree(REFERENCE, directory, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        module = directory / f"{self.exercise}.py"
        source = module.read_text(encoding="utf-8")
        for old, new in self.edits:
            if source.count(old) != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {source.count(old)} times in {module.name}")
            source = source.replace(old, new)
        module.write_text(source, encoding="utf-8")
        return directory


def all_mutants() -> tuple[Mutant, ...]:
    """Every mutant, from the modules beside this one (one module per exercise, named after it)."""
    found: list[Mutant] = []
    package = Path(__file__).resolve().parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda i: i.name):
        if info.name != "catalogue":
            found.extend(importlib.import_module(f"tests.wrong.{info.name}").MUTANTS)
    return tuple(found)
