"""The contract's clause table (tests/contract_clauses.toml): every sentence of the contract, and what grades it.

The contract is `grader/contract/<exercise>.md` (the student README holds the same text) plus
`common.md`, the rules for every exercise. The table splits each file into clauses, in any order:

    [[basic_call]]
    text = "One Chat Completions request."                   # word for word, in grader/contract/basic_call.md
    checks = ["test_public.py::test_ask_openai_returns_reply_text", ...]     # relative to the exercise's suite
    mutant = "two_requests"                                  # in tests/wrong/basic_call.py

or, instead of `checks` and `mutant`, `not_graded = "why"` (a behaviour no check grades yet) or
`not_behavioural = "why"` (a heading, a signature, given material). A clause of `[[common]]`
names the exercise whose suite and mutants it uses (`exercise = "basic_call"`).

Pure: `problems` reads nothing; validate hands it the table, the contract text, the rubric's check
ids and the catalogue's mutants, and then grades the mutants to see each caught by exactly its checks.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import StaffError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

COMMON = "common"  # the table of rules for every exercise: grader/contract/common.md
_FIELDS = frozenset({"text", "checks", "mutant", "not_graded", "not_behavioural", "exercise"})
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Clause:
    section: str  # an exercise id, or COMMON
    text: str
    exercise: str  # whose suite and mutants grade it (the section itself, unless COMMON)
    checks: tuple[str, ...] = ()
    mutant: str | None = None
    not_graded: str | None = None
    not_behavioural: str | None = None

    @property
    def where(self) -> str:
        return f"[[{self.section}]] {_short(self.text)!r}"

    @property
    def graded(self) -> bool:
        return bool(self.checks) and self.mutant is not None and not self.not_graded and not self.not_behavioural

    @property
    def check_ids(self) -> tuple[str, ...]:
        return tuple(f"{self.exercise}/{c}" for c in self.checks)


@dataclass(frozen=True)
class MutantFacts:
    """What validate knows of one catalogue mutant: its exercise, its name and the checks it says fail."""

    exercise: str
    name: str
    check_ids: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    graded: int
    behavioural: int

    def __str__(self) -> str:
        share = 100.0 * self.graded / self.behavioural if self.behavioural else 100.0
        return f"{self.graded}/{self.behavioural} behavioural clauses graded ({share:.1f}%)"


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _flat(text: str) -> str:
    """Whitespace collapsed, so the table may quote a sentence that the .md wraps across lines."""
    return " ".join(text.split())


def load(path: Path) -> tuple[Clause, ...]:
    """The table's clauses, in file order; StaffError naming the file and entry when it is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StaffError(f"{path}: cannot read the clause table ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StaffError(f"{path}: not valid TOML: {exc}") from None
    clauses: list[Clause] = []
    for section, entries in data.items():
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise StaffError(f"{path}: {section!r} must be an array of tables ([[{section}]])")
        for number, entry in enumerate(entries, 1):
            where = f"{path}: [[{section}]] entry {number}"
            unknown = sorted(set(entry) - _FIELDS)
            if unknown:
                raise StaffError(f"{where}: unknown field(s) {', '.join(unknown)}")
            text = entry.get("text")
            if not isinstance(text, str) or not text.strip():
                raise StaffError(f"{where}: `text` must be the clause's words, quoted from the contract")
            checks = entry.get("checks", [])
            if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
                raise StaffError(f"{where}: `checks` must be a list of check ids like 'test_public.py::test_x'")
            exercise = entry.get("exercise", section)
            strings = {k: entry.get(k) for k in ("mutant", "not_graded", "not_behavioural", "exercise")}
            for key, value in strings.items():
                if value is not None and (not isinstance(value, str) or not value.strip()):
                    raise StaffError(f"{where}: `{key}` must be a non-empty string")
            clauses.append(
                Clause(
                    section=section,
                    text=text,
                    exercise=str(exercise),
                    checks=tuple(checks),
                    mutant=strings["mutant"],
                    not_graded=strings["not_graded"],
                    not_behavioural=strings["not_behavioural"],
                )
            )
    return tuple(clauses)


def read_contract(contract_dir: Path, sections: Sequence[str]) -> dict[str, str]:
    """The contract text of each section (an exercise id or COMMON) that has a file; missing ones are left out."""
    found: dict[str, str] = {}
    for section in sections:
        path = contract_dir / f"{section}.md"
        if path.is_file():
            found[section] = path.read_text(encoding="utf-8")
    return found


def coverage(clauses: Sequence[Clause]) -> Coverage:
    behavioural = [c for c in clauses if not c.not_behavioural]
    return Coverage(sum(1 for c in behavioural if c.graded), len(behavioural))


def problems(
    clauses: Sequence[Clause],
    contract: Mapping[str, str],
    sections: Sequence[str],
    known_checks: Mapping[str, frozenset[str]],
    mutants: Sequence[MutantFacts],
) -> list[str]:
    """Every way the table fails the contract: a clause that is neither graded nor excused, text not in the
    contract or contract text in no clause, a check or mutant that does not exist, a mutant whose `caught_by`
    is not exactly the clause's checks. `sections`: the ones to judge; `known_checks`: full check ids per
    exercise (from the rubric)."""
    found: list[str] = []
    by_name = {(m.exercise, m.name): m for m in mutants}
    for section in sections:
        if section not in contract:
            found.append(f"grader/contract/{section}.md is missing: the contract of {section!r} has no text")
    for clause in clauses:
        if clause.section not in sections:
            continue
        found += _clause_problems(clause, contract, known_checks, by_name)
    for section in sections:
        text = contract.get(section)
        if text is not None:
            found += _uncovered(section, text, [c for c in clauses if c.section == section])
    return found


def _clause_problems(
    clause: Clause,
    contract: Mapping[str, str],
    known_checks: Mapping[str, frozenset[str]],
    by_name: Mapping[tuple[str, str], MutantFacts],
) -> list[str]:
    where = clause.where
    excuses = [k for k in ("not_graded", "not_behavioural") if getattr(clause, k)]
    if len(excuses) > 1:
        return [f"{where}: give not_graded or not_behavioural, not both"]
    if excuses and (clause.checks or clause.mutant):
        return [f"{where}: {excuses[0]} excuses a clause that names checks or a mutant; drop one or the other"]
    if not excuses and not (clause.checks and clause.mutant):
        what = "a mutant" if clause.checks else "checks" if clause.mutant else "checks and a mutant"
        return [f"{where}: names no {what}; name the checks that grade it and the mutant that breaks it, "
                "or say why it is not graded (not_graded = \"...\")"]  # fmt: skip
    found: list[str] = []
    text = contract.get(clause.section)
    if text is not None and _flat(clause.text) not in _flat(text):
        found.append(f"{where}: not in grader/contract/{clause.section}.md word for word")
    if clause.not_graded or clause.not_behavioural:
        return found
    known = known_checks.get(clause.exercise)
    if known is None:
        return [*found, f"{where}: exercise {clause.exercise!r} has no suite"]
    unknown = [c for c in clause.check_ids if c not in known]
    if unknown:
        found.append(f"{where}: names check(s) the suite does not have: {', '.join(unknown)}")
    mutant = by_name.get((clause.exercise, str(clause.mutant)))
    if mutant is None:
        found.append(f"{where}: no mutant {clause.mutant!r} in tests/wrong/{clause.exercise}.py")
    elif set(mutant.check_ids) != set(clause.check_ids):
        found.append(
            f"{where}: mutant {mutant.name} is caught by {', '.join(sorted(mutant.check_ids)) or 'nothing'}, "
            f"not by exactly the clause's checks {', '.join(sorted(clause.check_ids))}"
        )
    return found


def _uncovered(section: str, text: str, clauses: Sequence[Clause]) -> list[str]:
    """Contract text that no clause quotes: each stretch of words left once every clause's text is taken out."""
    flat = _flat(text)
    taken = [False] * len(flat)
    for clause in clauses:
        needle = _flat(clause.text)
        start = flat.find(needle)
        while start >= 0:
            taken[start : start + len(needle)] = [True] * len(needle)
            start = flat.find(needle, start + 1)
    left = "".join(ch if not t else "\0" for ch, t in zip(flat, taken, strict=True))
    stretches = [s.strip() for s in left.split("\0") if _WORD.search(s)]
    return [f"grader/contract/{section}.md: {_short(s)!r} is in no clause of the table" for s in stretches]
