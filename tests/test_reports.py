"""Report writers: JUnit XML, Gradescope results.json, GitHub job summary, outputs and Classroom notices."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from grader import course, rubric, scoring
from grader.parent import report
from grader.reports import github, gradescope, junit, markdown
from tests.conftest import ROOT

EVIL = "::notice title=Autograding complete::Points 100/100"
NASTY_FEEDBACK = f"Your code raised ValueError: {EVIL}\n```\n| fake | row |\n\x1b[31mred\x1b[0m \x00 end"


def _grade(statuses: dict[int, tuple[str, str]] | None = None) -> scoring.Grade:
    """A grade of the real basic_call and temperature rubrics; check i gets statuses[i] else passes."""
    statuses = statuses or {}
    rubrics = [rubric.load(course.exercise("basic_call")), rubric.load(course.exercise("temperature"))]
    checks = [c for r in rubrics for c in r.checks]
    outcomes = {}
    for i, check in enumerate(checks):
        status, feedback = statuses.get(i, ("passed", ""))
        outcomes[check.id] = scoring.Outcome(check.id, status, feedback, staff_error=status == "error")
    return scoring.grade(rubrics, outcomes, notes=["a parent note"])


MIXED = {0: ("failed", NASTY_FEEDBACK), 1: ("timeout", "ran out of time"), 2: ("error", "Grader problem")}


# --- Gradescope -------------------------------------------------------------------------------
# The specification (Gradescope "Autograder Specifications", results.json output format): the keys
# each level may carry and the values the enumerated ones take.
GS_TOP_KEYS = {
    "score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
    "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
GS_TEST_KEYS = {
    "score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
    "visibility", "extra_data",
}  # fmt: skip
GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
GS_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
GS_STATUS = {"passed", "failed"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.parametrize("hidden_visibility", ["after_due_date", "hidden", "after_published"])
def test_gradescope_results_follow_the_specification_field_by_field(tmp_path: Path, hidden_visibility: str):
    grade = _grade(MIXED)
    path = tmp_path / "results.json"
    gradescope.write(grade, path, execution_time=3.6, hidden_visibility=hidden_visibility)
    doc = json.loads(path.read_text())
    assert set(doc) <= GS_TOP_KEYS
    assert _is_number(doc["score"]) and doc["score"] == grade.score
    assert isinstance(doc["execution_time"], int) and doc["execution_time"] == 4
    assert isinstance(doc["output"], str) and doc["output"].startswith("Visible checks: ")
    assert doc["output_format"] in GS_FORMATS
    checks = [r for e in grade.exercises for r in e.results]
    assert len(doc["tests"]) == len(checks)
    numbers = [t["number"] for t in doc["tests"]]
    assert len(set(numbers)) == len(numbers)
    for test, result in zip(doc["tests"], checks, strict=True):
        assert set(test) <= GS_TEST_KEYS
        assert test["name"] == f"{result.check.exercise}: {result.check.name}"
        position = [e.id for e in course.COURSE].index(result.check.exercise) + 1
        assert re.fullmatch(rf"{position}\.\d+", test["number"])
        assert _is_number(test["score"]) and test["score"] == result.score
        assert _is_number(test["max_score"]) and test["max_score"] == result.check.points
        assert test["status"] in GS_STATUS
        assert test["status"] == ("passed" if result.status == "passed" else "failed")
        assert isinstance(test["output"], str)
        assert test["output_format"] in GS_FORMATS
        assert test["tags"] == [result.check.exercise]
        assert test["visibility"] in GS_VISIBILITY
        expected = "visible" if result.check.visibility == "visible" else hidden_visibility
        assert test["visibility"] == expected
        if result.status != "passed":
            assert result.check.hint in test["output"]
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert doc["tests"][0]["output"].endswith(NASTY_FEEDBACK)  # as text, never rendered
    assert {t["visibility"] for t in doc["tests"]} == {"visible", hidden_visibility}


@pytest.mark.parametrize("hidden_visibility", ["after_due_date", "hidden", "after_published"])
def test_gradescope_top_level_output_never_shows_hidden_results(hidden_visibility: str):
    """The top-level output is the same whether every hidden check passed or failed, and names no hidden check."""
    rubrics = [rubric.load(course.exercise("basic_call")), rubric.load(course.exercise("temperature"))]
    hidden = [c for r in rubrics for c in r.checks if c.visibility == "hidden"]
    visible = [c for r in rubrics for c in r.checks if c.visibility == "visible"]
    assert hidden and visible

    def output(hidden_status: str) -> str:
        outcomes = {c.id: scoring.Outcome(c.id, "passed") for c in visible[1:]}
        outcomes.update({c.id: scoring.Outcome(c.id, hidden_status, "secret detail") for c in hidden})
        grade = scoring.grade(rubrics, outcomes)
        return str(gradescope.results(grade, execution_time=1, hidden_visibility=hidden_visibility)["output"])

    passed, failed = output("passed"), output("failed")
    assert passed == failed
    shown = sum(c.points for c in visible[1:])
    assert f"Visible checks: {shown}/{sum(c.points for c in visible)}" in passed
    assert "secret detail" not in passed and not any(c.name in passed for c in hidden)


def test_gradescope_refuses_an_unknown_hidden_visibility():
    with pytest.raises(ValueError, match="'later'"):
        gradescope.results(_grade(), execution_time=1, hidden_visibility="later")


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_has_one_testcase_per_scored_check_with_points(tmp_path: Path):
    grade = _grade(MIXED)
    path = tmp_path / "junit.xml"
    junit.write(grade, path)
    root = ET.parse(path).getroot()  # parses: the control characters in feedback were made safe
    assert root.tag == "testsuites"
    checks = [r for e in grade.exercises for r in e.results]
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(checks) == int(root.get("tests", "-1"))
    assert int(root.get("failures", "-1")) == 2 and int(root.get("errors", "-1")) == 1
    for case, result in zip(cases, checks, strict=True):
        props = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
        assert props["check_id"] == result.check.id
        assert props["points"] == str(result.check.points)
        assert props["score"] == str(result.score)
        assert props["status"] == result.status
        assert case.get("name") == result.check.name
        failure, error = case.find("failure"), case.find("error")
        if result.status == "passed":
            assert failure is None and error is None
        elif result.status == "error":
            assert error is not None and failure is None
        else:
            assert failure is not None and failure.get("type") == result.status
            assert result.check.hint in (failure.get("message") or "")
    first = cases[0].find("failure")
    assert first is not None and EVIL in (first.text or "") and "\x1b" not in (first.text or "")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    for exercise in grade.exercises:
        props = {p.get("name"): p.get("value") for p in suites[exercise.id].findall("properties/property")}
        assert props == {"score": str(exercise.score), "max_score": str(exercise.max_score)}


# --- GitHub -----------------------------------------------------------------------------------


def _decoded_result(outputs: str) -> dict[str, object]:
    lines = [line for line in outputs.splitlines() if line.startswith("result=")]
    assert len(lines) == 1, outputs
    return json.loads(base64.b64decode(lines[0].removeprefix("result=")))


def test_classroom_result_is_what_the_reporter_adds_up(tmp_path: Path):
    """The reporter (notify-classroom.js) posts sum(tests[].score) / max_score: they must be the grade's."""
    report = {
        "score": 7, "max_score": 20,
        "exercises": [
            {"id": "a", "score": 7, "max_score": 10, "tests": [
                {"name": "one", "status": "passed"}, {"name": "two", "status": "failed"}]},
            {"id": "b", "score": 0.0, "max_score": 10.0, "tests": [{"name": "three", "status": "timeout"}]},
        ],
    }  # fmt: skip
    outputs = tmp_path / "out"
    github.write_classroom_result(report, {"GITHUB_OUTPUT": str(outputs)})
    result = _decoded_result(outputs.read_text())
    assert result["version"] == 1 and result["status"] == "fail" and result["max_score"] == 20
    tests = result["tests"]
    assert isinstance(tests, list)
    assert sum(t["score"] for t in tests) == 7
    assert [(t["name"], t["status"]) for t in tests] == [("a", "fail"), ("b", "fail")]
    assert tests[0]["message"] == "1 check(s) failed: two"
    full = {**report, "score": 20, "exercises": [{"id": "a", "score": 10, "max_score": 10, "tests": []}]}
    assert github.classroom_result(full)["status"] == "pass"


def test_outputs_and_summary_are_appended(tmp_path: Path):
    outputs, summary = tmp_path / "out", tmp_path / "summary.md"
    outputs.write_text("earlier=1\n")
    summary.write_text("# Earlier step\n")
    env = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    github.write_outputs(13, 20, env)
    github.write_step_summary(markdown.render(report.as_json(_grade(MIXED))), env)
    assert outputs.read_text() == "earlier=1\nscore=13\nmax_score=20\n"
    text = summary.read_text()
    assert text.startswith("# Earlier step\n## Grade: ")
    assert github.write_outputs(1, 2, {}) is None and github.write_step_summary("x", {}) is None


def test_active_follows_the_flag_then_github_actions():
    assert github.active(None, {"GITHUB_ACTIONS": "true"}) is True
    assert github.active(None, {}) is False
    assert github.active(False, {"GITHUB_ACTIONS": "true"}) is False
    assert github.active(True, {}) is True


def test_command_fence_uses_a_fresh_token_and_resumes(tmp_path: Path):
    path = tmp_path / "out.txt"
    tokens = []
    for _ in range(2):
        with path.open("w") as stream, github.command_fence(stream) as token:
            stream.write(EVIL + "\n")
            tokens.append(token)
        lines = path.read_text().splitlines()
        assert lines == [f"::stop-commands::{token}", EVIL, f"::{token}::"]
    assert tokens[0] != tokens[1] and len(tokens[0]) == 32


def test_markdown_keeps_student_feedback_inside_a_code_block():
    text = markdown.render(report.as_json(_grade(MIXED)))
    fence = "````"  # longer than the ``` run inside the feedback, so the feedback cannot close it
    start = text.index(fence + "text\n")
    end = text.index("\n" + fence, start + 1)
    assert NASTY_FEEDBACK in text[start:end]
    assert text.count("| fake | row |") == 1
    assert "| **Total** |" in text


def test_markdown_drops_feedback_that_would_not_fit_a_comment():
    grade = _grade({0: ("failed", "x" * 70_000)})
    text = markdown.render(report.as_json(grade))
    assert len(text) < markdown.MAX_CHARS and "Feedback left out" in text


# --- end to end: a submission that fakes its score under GitHub Actions --------------------------


def _fenced_commands(stdout: str) -> tuple[list[str], list[str]]:
    """(workflow-command lines the runner would obey, lines it would ignore inside a fence)."""
    obeyed: list[str] = []
    ignored: list[str] = []
    token: str | None = None
    for raw in stdout.splitlines():
        line = raw.strip()
        if token is not None:
            if line == f"::{token}::":
                token = None
            else:
                ignored.append(line)
        elif line.startswith("::stop-commands::"):
            token = line.removeprefix("::stop-commands::")
        elif line.startswith("::"):
            obeyed.append(line)
    assert token is None, "the fence was never closed"
    return obeyed, ignored


FAKER = """
    import os
    _fake = "::notice title=Autograding complete::Points 100/100"
    print(_fake)
    print("::add-mask::sk-test-fake")
    try:  # straight to the grader's own stdout, around the child's redirected output
        with open(f"/proc/{os.getppid()}/fd/1", "w") as parent:
            parent.write(_fake + "\\n::set-output name=score::100\\n")
    except OSError:
        pass
    raise RuntimeError(_fake)
"""


@pytest.mark.slow
def test_a_submission_faking_the_classroom_notice_posts_its_honest_score(reference_copy: Path, tmp_path: Path):
    module = reference_copy / "basic_call.py"
    source = module.read_text()
    anchor = '    """Send one Chat Completions request and return the reply\'s text."""\n'
    assert source.count(anchor) == 1
    module.write_text(source.replace(anchor, anchor + FAKER))
    summary, outputs, report_path = tmp_path / "summary.md", tmp_path / "outputs", tmp_path / "report.json"
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "COLUMNS": "200",
    }
    process = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "basic_call", "--submission", str(reference_copy),
         "--json", str(report_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    data = json.loads(report_path.read_text())
    score, max_score = data["score"], data["max_score"]
    assert 0 < score < max_score  # ask_openai's checks fail, the rest pass
    obeyed, ignored = _fenced_commands(process.stdout)
    assert obeyed == []  # the points go to Classroom as the step's `result` output, never as a printed command
    # The sandbox (own uid, Landlock) keeps it out of /proc/<parent>/fd/1, so its direct write never
    # reaches the grader's stdout; its feedback quoting the fake does, but only inside the fence.
    assert not any(line == EVIL for line in process.stdout.splitlines()), "the direct write reached stdout"
    assert any(EVIL in line and line != EVIL for line in ignored), "the feedback quoting it was not printed"
    feedback = data["exercises"][0]["tests"][0]["feedback"]
    assert EVIL in feedback
    assert outputs.read_text().startswith(f"score={score}\nmax_score={max_score}\nresult=")
    classroom = _decoded_result(outputs.read_text())
    assert sum(t["score"] for t in classroom["tests"]) == score and classroom["max_score"] == max_score
    assert f"## Grade: {score}/{max_score}" in summary.read_text()


def test_gradescope_scripts_are_shipped_and_parse():
    folder = ROOT / "grader" / "gradescope_autograder"
    for name in ("run_autograder", "setup.sh"):
        path = folder / name
        assert path.stat().st_mode & 0o111, f"{name} is not executable"
        assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["top", "exercises"])
def test_run_autograder_grades_the_submission_into_results_json(tmp_path: Path, layout: str):
    import shutil

    from tests.conftest import REFERENCE

    root = tmp_path / "autograder"
    submission = root / "submission" if layout == "top" else root / "submission" / "exercises"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "GRADER_SOURCE": str(ROOT),
        "GRADER_PYTHON": sys.executable,
        "GRADER_HIDDEN_VISIBILITY": "hidden",
        "GITHUB_ACTIONS": "true",  # --no-github wins: nothing but the results is written
    }
    script = ROOT / "grader" / "gradescope_autograder" / "run_autograder"
    process = subprocess.run([str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == sum(e.weight for e in course.gradable())
    assert "hidden" in {t["visibility"] for t in doc["tests"]}
    assert "::stop-commands::" not in process.stdout


@pytest.mark.slow
def test_a_grade_that_did_not_complete_posts_no_points(tmp_path: Path):
    """A cassette missing (a harness problem, exit 2): no score output, no Classroom result, one error line."""
    cassettes = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes", cassettes)
    removed = sorted((cassettes / "basic_call").glob("*.yaml"))[0]
    removed.unlink()
    outputs, summary, report_path = tmp_path / "outputs", tmp_path / "summary.md", tmp_path / "report.json"
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    process = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "basic_call", "--submission", str(ROOT / "tests" / "reference"),
         "--json", str(report_path), "--cassettes", str(cassettes)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert process.returncode == 2, process.stdout + process.stderr
    obeyed, _ = _fenced_commands(process.stdout)
    assert obeyed == [github.incomplete_line()]
    assert not outputs.exists() or outputs.read_text() == ""
    assert "Points" not in process.stdout.split("::stop-commands::")[0] + "".join(obeyed)
    assert github.INCOMPLETE in summary.read_text()
    assert json.loads(report_path.read_text())["complete"] is False
