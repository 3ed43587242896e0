"""`grader validate` fails on every kind of violation and passes on a sound catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import course, rubric
from grader.errors import StaffError
from grader.staff import clauses
from tests.conftest import REFERENCE, ROOT
from tests.wrong import basic_call as basic_call_mutants
from tests.wrong.catalogue import all_mutants

CATALOGUE_HEADER = """
from tests.wrong.catalogue import Mutant
from tests.wrong.basic_call import MUTANTS


def by_name(name):
    return next(m for m in MUTANTS if m.name == name)
"""


# A contract of two sentences and its table, for the catalogues these tests make up.
SMALL_CONTRACT = {"basic_call.md": "## Basic call\n\nOne Chat Completions request.\n", "common.md": "# Rules\n"}
SMALL_TABLE = """
[[basic_call]]
text = "## Basic call"
not_behavioural = "a heading"

[[basic_call]]
text = "One Chat Completions request."
not_graded = "the catalogues of these tests vary"

[[common]]
text = "# Rules"
not_behavioural = "a heading"
"""


def small_contract(tmp_path: Path, table: str = SMALL_TABLE) -> list[str]:
    """The --contract and --clauses arguments of a two-sentence contract written under tmp_path."""
    contract = tmp_path / "contract"
    contract.mkdir(exist_ok=True)
    for name, text in SMALL_CONTRACT.items():
        (contract / name).write_text(text)
    (tmp_path / "clauses.toml").write_text(table)
    return ["--contract", str(contract), "--clauses", str(tmp_path / "clauses.toml")]


def validate(tmp_path: Path, catalogue_body: str, *args: str) -> tuple[int, str]:
    catalogue = tmp_path / "catalogue.py"
    catalogue.write_text(CATALOGUE_HEADER + catalogue_body)
    if "--clauses" not in args:
        args = (*args, *small_contract(tmp_path))
    process = subprocess.run(
        [sys.executable, "-m", "grader", "validate", "basic_call", "--catalogue", str(catalogue), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=600,
    )
    return process.returncode, process.stdout + process.stderr


def _squashed(text: str) -> str:
    """The text without whitespace or table borders, so wrapping at 80 columns cannot split what is asserted."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│┃─━┏┓┗┛┡┩└┘├┤┼╇╈┬┴┌┐")


@pytest.mark.slow
def test_broken_catalogue_and_stubs_make_validate_fail_naming_each_violation(tmp_path: Path):
    code, output = validate(
        tmp_path,
        """
def all_mutants():
    return (
        by_name("none_content_returned"),
        # Not wrong at all: the edit only changes how a constant is quoted, so every check passes.
        Mutant("basic_call", "actually_correct", "quotes a constant differently",
               ("test_hidden.py::test_exactly_one_request_each",),
               (('DEFAULT_OPENAI_MODEL = "gpt-4o-mini"', "DEFAULT_OPENAI_MODEL = 'gpt-4o-mini'"),)),
        # Wrong, but its caught_by list misses some of the checks that fail.
        Mutant(by_name("two_requests").exercise, "incomplete_caught_by", "two requests",
               ("test_hidden.py::test_exactly_one_request_each",), by_name("two_requests").edits),
        Mutant("basic_call", "typo_in_check_id", "as none_content_returned",
               ("test_hidden.py::test_empty_reply_gives_empty_string",), by_name("none_content_returned").edits),
    )
""",
        "--stubs",
        str(REFERENCE),  # "stubs" that solve everything must be reported
    )
    assert code == 1, output
    lines = output.rstrip("\n").splitlines()
    assert all(len(line) <= 80 for line in lines), output
    assert "6/6 graded, 4 violation(s) so far" in output  # progress, in a log too
    squashed = _squashed(output)
    # Only the violations are listed; the submissions graded as expected are not.
    assert "none_content_returned" not in output and "reference" not in output.split("Violations")[1]
    blocks = squashed.split("wrong:")
    assert "passesonthestubs" in blocks[0]
    correct = next(b for b in blocks if b.startswith("actually_correct"))
    assert "notcaught:itscoresthemaximum" in correct
    incomplete = next(b for b in blocks if b.startswith("incomplete_caught_by"))
    assert "alsofailed,notincaught_by" in incomplete and "test_ask_openai_returns_reply_text" in incomplete
    typo = next(b for b in blocks if b.startswith("typo_in_check_id"))
    assert "doesnothave" in typo and "test_empty_reply_gives_empty_string" in typo
    assert _squashed(" ".join(lines[-3:])).endswith(
        _squashed(
            "4 of 6 submission(s) violate the expectations: stubs, wrong: actually_correct, "
            "wrong: incomplete_caught_by, wrong: typo_in_check_id"
        )
    )


@pytest.mark.slow
def test_sound_catalogue_passes(tmp_path: Path):
    names = [m.name for m in basic_call_mutants.MUTANTS[:2]]
    code, output = validate(tmp_path, f"\ndef all_mutants():\n    return tuple(by_name(n) for n in {names!r})\n")
    assert code == 0, output
    assert "All 4 submissions graded as expected." in output
    assert "Violations" not in output


def test_missing_catalogue_is_a_staff_error(tmp_path: Path):
    process = subprocess.run(
        [sys.executable, "-m", "grader", "validate", "--catalogue", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2
    assert "nope.py" in process.stdout


def test_violations_fit_80_columns_without_cutting_a_check_id():
    """Issue 25: the table wrapped check ids mid-word at 80 columns; each id must appear whole on one line."""
    from rich.console import Console

    from grader import course, rubric
    from grader.commands import validate as command

    every = sorted((c.id for e in course.gradable() for c in rubric.load(e).checks), key=len)
    ids = [every[-1], every[-2], "basic_call/test_hidden.py::test_model_and_max_tokens_passed_through"]
    assert len(ids[0]) > 80  # the longest id does not fit 80 columns whole: it is shown under its exercise
    rows = [
        command.Row(
            "wrong: a_rather_long_mutant_name_for_the_table",
            "basic_call, streaming_chat",
            "3/45",
            "below",
            tuple(f"{i} also failed, not in caught_by (expected to pass)" for i in ids),
        )
    ]
    console = Console(width=80, record=True, force_terminal=False)
    command._print_violations(rows, console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    for check_id in ids:
        exercise, relative = check_id.split("/", 1)
        assert any(relative in line for line in lines), f"{check_id} is cut:\n" + "\n".join(lines)
        assert f"  {exercise}:" in lines
    assert any("wrong: a_rather_long_mutant_name_for_the_table" in line for line in lines)


# --- the contract's clause table (tests/contract_clauses.toml, grader/staff/clauses.py) ------------------------

CONTRACT = {
    "basic_call": (
        "## Basic call\n\n- `ask_openai(...)`\n  One Chat Completions request. Returns the\n  reply's text.\n"
    ),
    clauses.COMMON: "# Rules\n",
}
KNOWN = {"basic_call": frozenset({"basic_call/test_public.py::test_a", "basic_call/test_hidden.py::test_b"})}
MUTANTS = [clauses.MutantFacts("basic_call", "two_requests", ("basic_call/test_public.py::test_a",))]
SOUND = [
    clauses.Clause("basic_call", "## Basic call", "basic_call", not_behavioural="a heading"),
    clauses.Clause("basic_call", "- `ask_openai(...)`", "basic_call", not_behavioural="the signature"),
    clauses.Clause(
        "basic_call", "One Chat Completions request.", "basic_call", ("test_public.py::test_a",), "two_requests"
    ),
    # Quoted across the line break the .md has: whitespace is compared collapsed.
    clauses.Clause("basic_call", "Returns the reply's text.", "basic_call", not_graded="no mutant yet"),
    clauses.Clause(clauses.COMMON, "# Rules", "basic_call", not_behavioural="a heading"),
]
SECTIONS = ["basic_call", clauses.COMMON]


def problems(table: list[clauses.Clause]) -> list[str]:
    return clauses.problems(table, CONTRACT, SECTIONS, KNOWN, MUTANTS)


def test_a_sound_table_has_no_problems_and_counts_its_coverage():
    assert problems(SOUND) == []
    coverage = clauses.coverage(SOUND)
    assert (coverage.graded, coverage.behavioural) == (1, 2)
    assert str(coverage) == "1/2 behavioural clauses graded (50.0%)"


def _with(index: int, **changes: object) -> list[clauses.Clause]:
    from dataclasses import replace

    table = list(SOUND)
    table[index] = replace(table[index], **changes)  # type: ignore[arg-type]
    return table


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param(_with(3, not_graded=None), "names no checks and a mutant", id="neither-graded-nor-excused"),
        pytest.param(_with(2, mutant=None), "names no a mutant", id="checks-without-mutant"),
        pytest.param(_with(2, checks=()), "names no checks", id="mutant-without-checks"),
        pytest.param(_with(3, not_behavioural="x"), "not both", id="two-excuses"),
        pytest.param(
            _with(0, checks=("test_public.py::test_a",)), "excuses a clause that names", id="excused-and-graded"
        ),
        pytest.param(
            _with(2, text="One Chat Completion request."), "not in grader/contract/basic_call.md", id="misquoted"
        ),
        pytest.param(SOUND[:2] + SOUND[3:], "'One Chat Completions request.' is in no clause", id="sentence-left-out"),
        pytest.param(
            _with(2, checks=("test_public.py::test_a", "test_hidden.py::test_c")),
            "names check(s) the suite does not have: basic_call/test_hidden.py::test_c",
            id="unknown-check",
        ),
        pytest.param(_with(2, mutant="three_requests"), "no mutant 'three_requests'", id="unknown-mutant"),
        pytest.param(
            _with(2, checks=("test_public.py::test_a", "test_hidden.py::test_b")),
            "mutant two_requests is caught by basic_call/test_public.py::test_a, not by exactly",
            id="mutant-caught-by-other-checks",
        ),
        pytest.param(
            _with(2, exercise="temperature"), "exercise 'temperature' has no suite", id="exercise-without-suite"
        ),
    ],
)
def test_each_kind_of_broken_table_is_named(table: list[clauses.Clause], expected: str):
    found = problems(table)
    assert any(expected in p for p in found), found


def test_a_missing_contract_file_is_named():
    found = clauses.problems(SOUND, {"basic_call": CONTRACT["basic_call"]}, SECTIONS, KNOWN, MUTANTS)
    assert "grader/contract/common.md is missing: the contract of 'common' has no text" in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[basic_call]]\ntext = 'x'\nmutant = 'm'\nchecks = 'test_a'\n", "`checks` must be a list"),
        ("[[basic_call]]\nnot_graded = 'why'\n", "`text` must be the clause's words"),
        ("[[basic_call]]\ntext = 'x'\nnot_graded = 'why'\nreason = 'typo'\n", "unknown field(s) reason"),
        ("basic_call = 3\n", "'basic_call' must be an array of tables"),
        ("[[basic_call]\n", "not valid TOML"),
    ],
)
def test_a_malformed_table_is_a_staff_error_naming_the_entry(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "clauses.toml"
    path.write_text(text)
    with pytest.raises(StaffError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        clauses.load(path)


def test_the_checked_in_table_covers_the_contract_with_known_checks_and_mutants():
    """The real table against the real contract, suites and catalogue (the mutants themselves are graded by
    `nox -s validate` and tests/test_grading.py)."""
    table = clauses.load(ROOT / "tests" / "contract_clauses.toml")
    sections = [e.id for e in course.COURSE] + [clauses.COMMON]
    known = {e.id: frozenset(c.id for c in rubric.load(e).checks) for e in course.gradable()}
    facts = [clauses.MutantFacts(m.exercise, m.name, m.check_ids) for m in all_mutants()]
    contract = clauses.read_contract(ROOT / "grader" / "contract", sections)
    assert clauses.problems(table, contract, sections, known, facts) == []
    coverage = clauses.coverage(table)
    assert coverage.graded == coverage.behavioural, f"every behavioural clause is graded; {coverage}"


def test_the_contract_files_hold_the_shared_contract_word_for_word_but_the_clarifications():
    """grader/contract/<exercise>.md is the exercise's section of the course's contract page, in course order
    (the student README is built from them)."""
    for exercise in course.COURSE:
        text = (ROOT / "grader" / "contract" / f"{exercise.id}.md").read_text()
        assert text.startswith(f"## {course.COURSE.index(exercise) + 1}. `exercises/{exercise.id}.py`"), exercise.id


@pytest.mark.slow
def test_validate_fails_on_a_broken_clause_table_and_prints_the_coverage(tmp_path: Path):
    broken = SMALL_TABLE.replace(
        'not_graded = "the catalogues of these tests vary"',
        'checks = ["test_hidden.py::test_exactly_one_request_each"]\nmutant = "no_such_mutant"',
    )
    code, output = validate(tmp_path, "\ndef all_mutants():\n    return ()\n", *small_contract(tmp_path, broken))
    assert code == 1, output
    squashed = _squashed(output)
    assert "nomutant'no_such_mutant'intests/wrong/basic_call.py" in squashed
    assert "Contract:1/1behaviouralclausesgraded(100.0%)" in squashed
    assert "Thecontract'sclausetablehas1problem(s)." in squashed
