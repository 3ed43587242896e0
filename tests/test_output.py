"""What a student reads: bounded output, failures grouped, the table and total last, -v, --failed, progress."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import course
from tests.conftest import STUBS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def grade_cli(cwd: Path, *args: str, columns: int = 80, terminal: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    env["COLUMNS"] = str(columns)
    if terminal:  # rich treats the output as a terminal, as when a student runs it
        env.update(FORCE_COLOR="1", TTY_COMPATIBLE="1")
    process = subprocess.run(
        [sys.executable, "-m", "grader", "grade", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    return process.returncode, process.stdout + process.stderr


@pytest.mark.slow
def test_stubs_output_is_short_grouped_and_ends_with_the_table_and_total(tmp_path: Path):
    """At 80 columns the stubs' run fits in 30 lines without trailing spaces, one per exercise, table and total last."""
    code, output = grade_cli(tmp_path, "--submission", str(STUBS), "--json", "r.json")
    assert code == 0, output
    lines = output.rstrip("\n").splitlines()
    assert len(lines) <= 30, output
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines), output
    assert lines[1] in ("Sandbox: full", "Sandbox: strong") or lines[1].startswith("Sandbox: partial (normal"), output
    assert lines[-1].startswith(f"Total: 0/{course.COURSE_MAX}"), output
    table_start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Exercise"))
    assert all("✗" not in line for line in lines[table_start:]), "something follows the table but the total"
    entries = [line for line in lines if line.startswith("✗")]
    assert len(entries) == len(course.gradable()) and all("not started; write" in line for line in entries), output
    assert "ask_openai, ask_anthropic" in output
    assert "hint:" not in output and "Report written to" in "\n".join(lines[:table_start])
    # batch's feedback file for the stubs reads as the terminal does: one entry per exercise, a few kB
    from grader.reports import markdown

    feedback = markdown.render(json.loads((tmp_path / "r.json").read_text()))
    assert feedback.count("not started; write") == len(course.gradable()) and len(feedback.encode()) < 4000, feedback


def _basic_call_checks() -> int:
    """How many checks basic_call has (the suites grow; the count is theirs, not this file's)."""
    from grader import rubric

    return len(rubric.load(next(e for e in course.gradable() if e.id == "basic_call")).checks)


@pytest.mark.slow
def test_reference_hides_passing_checks_unless_verbose_and_junit_has_real_times(tmp_path: Path, reference_copy: Path):
    """Passing checks are listed only with -v; JUnit carries each check's measured time."""
    quiet_code, quiet = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy))
    junit = tmp_path / "j.xml"
    loud_code, loud = grade_cli(
        tmp_path, "basic_call", "--submission", str(reference_copy), "-v", "--junit", str(junit)
    )
    assert quiet_code == loud_code == 0, quiet + loud
    assert "✓" not in quiet and "To fix" not in quiet and quiet.rstrip().endswith("Total: 10/10 (100.0%)")
    checks = _basic_call_checks()
    assert loud.count("✓") == checks and loud.rstrip().endswith("Total: 10/10 (100.0%)")
    times = [float(case.get("time", "x")) for case in ET.parse(junit).getroot().iter("testcase")]
    assert len(times) == checks and all(t >= 0 for t in times) and sum(times) > 0


@pytest.mark.slow
def test_one_cause_is_one_entry_with_its_hint_and_feedback(tmp_path: Path, reference_copy: Path):
    """Checks failing for one reason (a module that does not import) are one entry, the reason shown once."""
    (reference_copy / "basic_call.py").write_text("def broken(:\n")
    code, output = grade_cli(tmp_path, "basic_call", "temperature", "--submission", str(reference_copy))
    assert code == 0, output
    entries = [line for line in output.splitlines() if line.startswith("✗")]
    # The file, line and error first, then what it costs.
    assert len(entries) == 1 and entries[0].startswith("✗ basic_call: exercises/basic_call.py, line 1: SyntaxError")
    assert entries[0].endswith(f"{_basic_call_checks()} checks, 10 pt"), output
    assert output.count("SyntaxError") == 1, output


@pytest.mark.slow
def test_failed_regrades_only_what_failed_last_time(tmp_path: Path, reference_copy: Path):
    """--failed reads the previous report, re-runs only its failed checks and carries the passes over."""
    module = reference_copy / "basic_call.py"
    good = module.read_text()
    module.write_text(good + "\n\ndef ask_anthropic(*args, **kwargs):\n    raise RuntimeError('oops')\n")
    report = tmp_path / "grade-report.json"
    code, first = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy))
    assert code == 0, first
    before = json.loads(report.read_text())
    failed = [t["id"] for e in before["exercises"] for t in e["tests"] if t["status"] != "passed"]
    assert 0 < len(failed) < _basic_call_checks()
    module.write_text(good)
    code, second = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy), "--failed")
    assert code == 0, second
    assert f"re-grading {len(failed)} check(s); {_basic_call_checks() - len(failed)} that passed" in second
    after = json.loads(report.read_text())
    tests = {t["id"]: t for e in after["exercises"] for t in e["tests"]}
    assert after["score"] == 10
    carried = [i for i, t in tests.items() if "not run again (--failed)" in t["feedback"]]
    assert sorted(carried) == sorted(set(tests) - set(failed))


def test_failed_after_a_full_pass_regrades_nothing_and_keeps_the_score(tmp_path: Path, reference_copy: Path):
    """--failed when every check passed last time runs none, and is no grader error."""
    code, first = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy))
    assert code == 0, first
    code, second = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy), "--failed")
    assert code == 0, second
    assert f"re-grading 0 check(s); {_basic_call_checks()} that passed" in second and "grader:" not in second
    assert json.loads((tmp_path / "grade-report.json").read_text())["score"] == 10


def test_failed_without_a_previous_report_says_what_to_do(tmp_path: Path):
    """--failed with no report to read exits 2 and says to grade once without it."""
    code, output = grade_cli(tmp_path, "basic_call", "--submission", str(STUBS), "--failed", columns=200)
    assert code == 2 and "grade-report.json does not exist; grade once without --failed first" in output


def test_mistyped_exercise_gets_did_you_mean(tmp_path: Path):
    """A near miss names the exercise meant."""
    code, output = grade_cli(tmp_path, "basic_cal", "--submission", str(STUBS), columns=200)
    assert code == 2 and "Did you mean 'basic_call'?" in output


@pytest.mark.slow
def test_progress_line_on_a_terminal_only(tmp_path: Path):
    """A terminal gets a live progress line; a file or a pipe gets none."""
    args = ("basic_call", "--submission", str(STUBS))
    _, piped = grade_cli(tmp_path, *args)
    _, tty = grade_cli(tmp_path, *args, terminal=True)
    assert "Grading" not in piped and "━" not in piped
    plain = ANSI.sub("", tty)
    assert "Grading" in plain and re.search(rf"\d+/{_basic_call_checks()} checks", plain), plain[:2000]
    assert plain.rstrip().endswith("Total: 0/10 (0.0%)")


def test_a_hung_functions_timeouts_are_one_entry():
    """The first timeout of a function and its fail-fast repeats are one entry naming the function once."""
    from rich.console import Console

    from grader import course, rubric, scoring
    from grader.reports import terminal

    loaded = rubric.load(course.exercise("basic_call"))
    base = "This check ran out of time and was stopped: look for an endless loop."
    again = " ask_openai() ran out of time in an earlier check, so it was not run again."
    feedback = [base, base + again, base + again] + [""] * (len(loaded.checks) - 3)
    outcomes = {
        c.id: scoring.Outcome(c.id, "timeout" if text else "passed", text)
        for c, text in zip(loaded.checks, feedback, strict=True)
    }
    console = Console(width=80, record=True, file=io.StringIO())
    terminal.print_report(scoring.grade([loaded], outcomes), console)
    text = console.export_text()
    assert next(line for line in text.splitlines() if line.startswith("✗")).count("3 checks, one cause") == 1
    assert text.count("ran out of time in an earlier check") == 0 and "ask_openai()" in text
    assert text.count("✗") == 1
