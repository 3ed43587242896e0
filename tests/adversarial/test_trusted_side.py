"""The trusted side's own hardening: fresh report files, no grader errors raised by students, safe terminal text."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader import scoring
from grader.parent import report
from tests.conftest import REFERENCE
from tests.test_adversarial import _wrap


def _grade_basic_call(grade, tmp_path: Path, code: str):
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    basic = submission / "basic_call.py"
    basic.write_text(basic.read_text() + "\n" + code)
    return grade(submission, "basic_call", "--check-timeout", "5")


def test_a_staff_error_raised_by_student_code_is_the_students(grade, tmp_path: Path):
    code = _wrap("ask_openai", "from grader.errors import StaffError\nraise StaffError('the suite is broken')")
    run = _grade_basic_call(grade, tmp_path, code)
    assert run.returncode == 0, run.output  # 2 would say the harness could not grade
    basic = run.exercise("basic_call")
    # What the reference earns without ask_openai: the checks that call only ask_anthropic.
    only_anthropic = ("returns_reply_text", "system_parameter", "joins_text_blocks")
    alone = [t for t in basic["tests"] if "anthropic" in t["id"] and t["id"].endswith(only_anthropic)]
    expected = sum(t["max_score"] for t in alone)
    assert expected > 0 and basic["score"] == expected
    assert not any("Grader problem" in t["feedback"] for t in basic["tests"])
    assert "Grader problem" not in run.output


def test_terminal_shows_escape_sequences_and_markup_from_feedback_as_text(grade, tmp_path: Path):
    forged = "\\x1b[2J\\x1b[H\\x1b[32mTotal: 10/10 (100.0%)\\x1b[0m [bold]markup[/bold]"
    run = _grade_basic_call(grade, tmp_path, _wrap("ask_openai", f"raise ValueError('{forged}')"))
    assert run.returncode == 0, run.output
    assert "\x1b" not in run.output
    assert "\\x1b[2J" in run.output and "[bold]markup[/bold]" in run.output


def _grade() -> scoring.Grade:
    return scoring.Grade(())


def test_report_written_as_a_fresh_file_never_through_a_planted_link(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    target = tmp_path / "grade-report.json"
    (tmp_path / "grade-report.json.tmp").symlink_to(victim)
    report.write_json(_grade(), target)
    assert victim.read_text() == "untouched"
    assert not target.is_symlink() and '"schema": 1' in target.read_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_report_replaces_a_fifo_or_link_at_its_own_name(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    for target in (fifo, link):
        report.write_json(_grade(), target)  # a FIFO opened for writing would block here forever
        assert target.is_file() and not target.is_symlink()
    assert victim.read_text() == "untouched"
