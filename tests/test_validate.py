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
        env={**os.environ, "COLUMNS": "250"},
        timeout=600,
    )
    return process.returncode, process.stdout + process.stderr


def _row(output: str, label: str) -> str:
    """The table lines from the row labelled `label` up to the next row separator."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if label in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("├", "└"))), len(lines))
    return "\n".join(lines[start:end])


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
    assert "ok" in _row(output, "reference")
    stubs = _row(output, "stubs")
    assert "VIOLATION" in stubs and "passes on the stubs" in stubs
    assert "ok" in _row(output, "wrong: none_content_returned")
    correct = _row(output, "wrong: actually_correct")
    assert "VIOLATION" in correct and "not caught: it scores the maximum" in correct
    incomplete = _row(output, "wrong: incomplete_caught_by")
    assert "VIOLATION" in incomplete and "also failed, not in caught_by" in incomplete
    assert "test_ask_openai_returns_reply_text" in incomplete
    typo = _row(output, "wrong: typo_in_check_id")
    assert "does not have" in typo and "test_empty_reply_gives_empty_string" in typo
    assert "4 of 6 submission(s) violate" in output


@pytest.mark.slow
def test_sound_catalogue_passes(tmp_path: Path):
    names = [m.name for m in basic_call_mutants.MUTANTS[:2]]
    code, output = validate(tmp_path, f"\ndef all_mutants():\n    return tuple(by_name(n) for n in {names!r})\n")
    assert code == 0, output
    assert "All 4 submissions graded as expected." in output
    assert "VIOLATION" not in output


def test_missing_catalogue_is_a_staff_error(tmp_path: Path):
    process = subprocess.run(
        [sys.executable, "-m", "grader", "validate", "--catalogue", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2
    assert "nope.py" in process.stdout
