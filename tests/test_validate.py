"""`grader validate` fails on every kind of violation and passes on a sound catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REFERENCE
from tests.wrong import basic_call as basic_call_mutants

CATALOGUE_HEADER = """
from tests.wrong.catalogue import Mutant
from tests.wrong.basic_call import MUTANTS


def by_name(name):
    return next(m for m in MUTANTS if m.name == name)
"""


def validate(tmp_path: Path, catalogue_body: str, *args: str) -> tuple[int, str]:
    catalogue = tmp_path / "catalogue.py"
    catalogue.write_text(CATALOGUE_HEADER + catalogue_body)
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
