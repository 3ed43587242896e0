"""Feedback a student can act on (issue 22): what their code printed, the cause first, one entry per cause,
every function still to write, public and hidden points apart, quiet headers, the check that runs."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from grader import course, rubric, scoring
from grader.judge import captured
from grader.judge.outcomes import CheckRecord, PhaseResult, phase_result
from grader.parent import stubs
from grader.reports import gradescope, markdown, terminal
from tests.conftest import STUBS, run_grade
from tests.test_output import ANSI, grade_cli


def _replace(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert source.count(old) == 1, old
    path.write_text(source.replace(old, new))


def _render(grade: scoring.Grade, *, verbose: bool = False, width: int = 80) -> str:
    out = io.StringIO()
    terminal.print_report(grade, Console(file=out, width=width, color_system=None), verbose=verbose)
    return out.getvalue()


def _failing(exercise_id: str, how: dict[int, scoring.Outcome | None]) -> scoring.Grade:
    """A grade of `exercise_id` where the checks at the given positions have the given outcomes (the rest pass)."""
    loaded = rubric.load(course.exercise(exercise_id))
    outcomes = {}
    for i, c in enumerate(loaded.checks):
        given = how.get(i)
        outcomes[c.id] = dataclasses.replace(given, check_id=c.id) if given else scoring.Outcome(c.id, "passed")
    return scoring.grade([loaded], outcomes)


# -- captured output ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_failing_check_that_printed_shows_the_print(tmp_path: Path, reference_copy: Path):
    """The student's print in a failing check reaches the terminal under that check and the JSON `output`."""
    _replace(
        reference_copy / "basic_call.py",
        '    return response.choices[0].message.content or ""\n',
        '    print("DEBUG prompt=", prompt, "\\x1b[2J")\n    return "wrong"\n',
    )
    code, output = grade_cli(tmp_path, "basic_call", "--submission", str(reference_copy), "--json", "r.json")
    assert code == 0, output
    assert "DEBUG prompt=" in output and "\\x1b[2J" in output and "\x1b[2J" not in output, output
    report = json.loads((tmp_path / "r.json").read_text())
    tests = {t["name"]: t for e in report["exercises"] for t in e["tests"]}
    failed = [t for t in tests.values() if t["status"] != "passed"]
    assert failed and all("Captured stdout:\nDEBUG prompt=" in t["output"] for t in failed), failed
    assert all(t["output"] == "" for t in tests.values() if t["status"] == "passed")
    assert all(t["cause"] for t in failed) and all(t["cause"] == "" for t in tests.values() if t["status"] == "passed")


def test_captured_output_keeps_the_last_lines_and_says_what_was_cut():
    """Stdout, stderr and log records in sections, each its last 20 lines with a note of what was cut."""
    text = captured.render(
        "".join(f"line {i}\n" for i in range(50)), "oops\n", [{"name": "root", "levelno": 30, "message": "careful"}]
    )
    lines = text.splitlines()
    assert lines[0] == "Captured stdout:" and lines[1] == "... (30 earlier lines cut)" and lines[2] == "line 30"
    assert "line 29" not in text and lines[21] == "line 49"
    assert lines[22:] == ["Captured stderr:", "oops", "Captured log:", "WARNING root: careful"]
    assert captured.render("", "  \n", []) == ""
    assert len(captured.render("x" * 10_000, "", [])) < 400  # one endless line is cut too


def test_a_hidden_checks_output_never_shows_before_its_results_are_released():
    """Terminal and Markdown show no hidden check's output; Gradescope puts it only in that hidden test."""
    loaded = rubric.load(course.exercise("basic_call"))
    hidden = next(i for i, c in enumerate(loaded.checks) if c.visibility == "hidden")
    visible = next(i for i, c in enumerate(loaded.checks) if c.visibility == "visible")
    secret = scoring.Outcome("", "failed", "f1", cause="c-hidden", output="Captured stdout:\nHIDDEN-PRINT")
    shown = scoring.Outcome("", "failed", "f2", cause="c-visible", output="Captured stdout:\nVISIBLE-PRINT")
    grade = _failing("basic_call", {hidden: secret, visible: shown})
    text = _render(grade)
    assert "VISIBLE-PRINT" in text and "HIDDEN-PRINT" not in text, text
    md = markdown.render(json.loads(json.dumps(_report(grade))))
    assert "VISIBLE-PRINT" in md and "HIDDEN-PRINT" not in md
    results = gradescope.results(grade, execution_time=1.0, hidden_visibility="after_due_date")
    for test in results["tests"]:
        if test["visibility"] == "visible":
            assert "HIDDEN-PRINT" not in json.dumps(test)
    assert "HIDDEN-PRINT" not in results["output"]
    assert any("HIDDEN-PRINT" in t["output"] for t in results["tests"] if t["visibility"] == "after_due_date")


def _report(grade: scoring.Grade) -> dict[str, object]:
    from grader.parent import report

    return report.as_json(grade)


# -- the cause first ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_wrong_requests_feedback_starts_with_the_field_that_differed(grade, reference_copy: Path):
    """One field too many: the feedback names the field first, the SDK's error after it as the consequence."""
    _replace(
        reference_copy / "basic_call.py",
        "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n",
        "    response = client.chat.completions.create(\n"
        "        model=model, messages=messages, max_tokens=max_tokens, temperature=0.7\n"
        "    )\n",
    )
    run = grade(reference_copy, "basic_call")
    assert run.returncode == 0, run.output
    failed = [t for t in run.exercise("basic_call")["tests"] if t["status"] != "passed"]
    assert failed, run.output
    for test in failed:
        assert test["feedback"].startswith("Request field `temperature` differs"), test["feedback"]
        assert test["cause"] == "request field `temperature` differs", test
        if "raised" in test["feedback"]:
            first_sdk = test["feedback"].index("So the SDK raised openai.")
            assert test["feedback"].index("`temperature`") < first_sdk, test["feedback"]
            assert "Your code raised openai." not in test["feedback"]
    entries = [line for line in run.output.splitlines() if line.startswith("✗")]
    assert len(entries) == 1 and "request field `temperature` differs" in entries[0], run.output


def test_the_sdks_error_after_a_wrong_request_is_named_as_its_consequence():
    """Judge side: a replay miss leads; the SDK's exception follows as "So the SDK raised ..."; cause is the field."""
    record = CheckRecord("basic_call/test_public.py::test_x", hidden=False)
    record.phases.append(
        PhaseResult(
            "call",
            "failed",
            "Your code raised openai.APIConnectionError at exercises/basic_call.py, line 22: Connection error.",
            cause="raised openai.APIConnectionError at exercises/basic_call.py, line 22",
            sdk_error="openai.APIConnectionError at exercises/basic_call.py, line 22",
        )
    )
    record.misses.append(
        ("Request field `temperature` differs from what this check expects", "request field `temperature` differs")
    )
    record.output = "Captured stdout:\nhi"
    outcome = record.outcome()
    assert outcome.feedback.splitlines()[0].startswith("Request field `temperature` differs")
    assert (
        outcome.feedback.splitlines()[1]
        == "So the SDK raised openai.APIConnectionError at exercises/basic_call.py, line 22."
    )
    assert outcome.cause == "request field `temperature` differs" and outcome.output == "Captured stdout:\nhi"


def test_causes_are_free_of_the_values_of_one_run(tmp_path: Path):
    """Two students with the same mistake get the same cause: quoted values and addresses are left out."""

    def cause(message: str) -> str:
        with pytest.raises(AssertionError) as info:
            raise AssertionError(message)
        return phase_result("call", info, hidden=False, submission=tmp_path).cause

    first = cause("ask_openai returned 'abc'; the API's reply text was 'xyz'")
    assert first == cause("ask_openai returned 'hello there'; the API's reply text was 'xyz'")
    assert first.startswith("ask_openai returned")
    assert "0x7f" not in cause("got <object at 0x7f00aa12>")


# -- one entry per cause ----------------------------------------------------------------------------


@pytest.mark.slow
def test_one_mistake_in_chat_loop_is_one_entry(grade, reference_copy: Path):
    """Sending only the last turn fails many checks for one cause: one entry naming them, one shared cause."""
    _replace(
        reference_copy / "streaming_chat.py",
        "        sent = [dict(message) for message in history]  # a snapshot: later turns must not alter it\n",
        "        sent = [dict(history[-1])]\n",
    )
    run = grade(reference_copy, "streaming_chat")
    assert run.returncode == 0, run.output
    failed = [t for t in run.exercise("streaming_chat")["tests"] if t["status"] != "passed"]
    causes = {t["cause"] for t in failed}
    assert len(failed) >= 3 and causes == {"request field `messages` differs"}, (causes, run.output)
    entries = [line for line in run.output.splitlines() if line.startswith("✗")]
    assert len(entries) == 1 and "request field `messages` differs" in entries[0], run.output
    assert f"{len(failed)} checks" in entries[0]
    flat = " ".join(run.output.split())
    assert all(t["name"] in flat for t in failed), run.output


def test_feedback_files_use_the_terminals_grouping():
    """The Markdown of batch's feedback files: checks with one cause are one entry, the block said once."""
    loaded = rubric.load(course.exercise("basic_call"))
    same = scoring.Outcome(
        "", "failed", "Request field `model` differs ...\nlong block", cause="request field `model` differs"
    )
    grade = _failing("basic_call", {i: same for i in range(5)})
    md = markdown.render(_report(grade))
    assert md.count("long block") == 1 and md.count("request field `model` differs") == 1, md
    assert all(c.name in md for c in loaded.checks[:5])
    assert "5 checks" in md


# -- the template tells the whole story --------------------------------------------------------------


def _public_only(exercise_id: str) -> rubric.ExerciseRubric:
    loaded = rubric.load(course.exercise(exercise_id))
    return dataclasses.replace(loaded, checks=tuple(c for c in loaded.checks if c.visibility == "visible"))


def test_stubs_are_read_from_the_source_without_running_it(tmp_path: Path):
    """Every function and method that still raises NotImplementedError is named; a written one is not."""
    assert stubs.unwritten(STUBS, "error_handler") == (
        "is_retryable", "retry_after_seconds", "backoff_delay", "call_with_retry", "acall_with_retry",
    )
    assert "UsageTracker.record" in stubs.unwritten(STUBS, "token_counter")
    (tmp_path / "basic_call.py").write_text(
        "def ask_openai():\n    return 1\n\ndef ask_anthropic():\n    raise NotImplementedError\n"
    )
    assert stubs.unwritten(tmp_path, "basic_call") == ("ask_anthropic",)
    (tmp_path / "temperature.py").write_text("def broken(:\n")
    assert stubs.unwritten(tmp_path, "temperature") == ()
    # Which of them only hidden checks call: names in the public suite's code (not its hint strings)
    public = stubs.names_in_code([p for p in rubric.suite_files("error_handler") if p.name == "test_public.py"])
    later = stubs.hidden_only(stubs.unwritten(STUBS, "error_handler"), public)
    assert later == ("is_retryable", "acall_with_retry"), later


def test_a_function_only_hidden_checks_call_is_named_while_it_is_a_stub():
    """Public checks all pass, acall_with_retry still raises: "To fix" names it, graded after you submit."""
    public = _public_only("error_handler")
    grade = scoring.grade([public], {c.id: scoring.Outcome(c.id, "passed") for c in public.checks})
    grade = dataclasses.replace(
        grade, unwritten={"error_handler": ("acall_with_retry",)}, hidden_only={"error_handler": ("acall_with_retry",)}
    )
    text = _render(grade, width=200)
    assert "error_handler: still to write: acall_with_retry (graded after you submit)" in text, text
    stubbed = scoring.grade(
        [public],
        {
            c.id: scoring.Outcome(
                c.id,
                "failed",
                "Not implemented yet: is_retryable: your code here (exercises/error_handler.py, line 58).",
            )
            for c in public.checks
        },
    )
    stubbed = dataclasses.replace(
        stubbed,
        unwritten={"error_handler": ("is_retryable", "backoff_delay", "acall_with_retry")},
        hidden_only={"error_handler": ("is_retryable", "acall_with_retry")},
    )
    line = " ".join(_render(stubbed, width=200).split())
    # is_retryable raised in a public check here, so it is not "later"; backoff_delay is reached by none, yet named
    assert "not started; write is_retryable, backoff_delay; graded after you submit: acall_with_retry" in line, line


def test_public_and_hidden_points_are_apart_in_the_table_and_total():
    """A perfect public run reads "43/43 in public checks; 57 pt more ...", never a bare 43/100."""
    rubrics = [_public_only(e.id) for e in course.gradable()]
    grade = scoring.grade(rubrics, {c.id: scoring.Outcome(c.id, "passed") for r in rubrics for c in r.checks})
    public = sum(r.present_points for r in rubrics)
    hidden = grade.max_score - public
    assert 0 < hidden
    text = _render(grade, width=200)
    last = text.rstrip().splitlines()[-1]
    assert (
        last
        == f"Total: {public}/{public} in public checks; {hidden} pt more are graded by hidden checks when you submit"
    )
    assert "Hidden" in text and f"/{grade.max_score}" not in text, text


# -- one line for one problem ------------------------------------------------------------------------


def test_a_module_that_does_not_import_gives_file_line_and_error_first():
    """The entry starts with the file, line and error, then the checks it costs; no list of check names."""
    loaded = rubric.load(course.exercise("basic_call"))
    message = (
        "exercises/basic_call.py, line 17: SyntaxError: invalid syntax. The module could not be imported, "
        "so every check of basic_call scores 0."
    )
    broken = scoring.Outcome("", "failed", message, cause="exercises/basic_call.py, line 17: SyntaxError")
    text = _render(_failing("basic_call", dict.fromkeys(range(len(loaded.checks)), broken)))
    entry = next(line for line in text.splitlines() if line.startswith("✗"))
    assert entry.startswith("✗ basic_call: exercises/basic_call.py, line 17: SyntaxError"), text
    assert f"{len(loaded.checks)} checks, 10 pt" in entry
    assert not any(c.name in text for c in loaded.checks), text


@pytest.mark.parametrize("kind", ["empty", "file", "zip"])
def test_submission_that_is_not_a_folder_of_modules_is_one_line(tmp_path: Path, kind: str):
    """An empty folder, a file or an archive: exit 2 and one line saying what to pass instead."""
    target = tmp_path / {"empty": "empty", "file": "basic_call.py", "zip": "work.zip"}[kind]
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("def ask_openai(): ...\n")
    else:
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("basic_call.py", "")
    run = run_grade(tmp_path, target)
    lines = run.output.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.output
    assert "pass the folder that holds your exercise modules" in lines[0], lines
    assert "no such directory" not in lines[0]
    if kind == "zip":
        assert "archive" in lines[0] and "unpack it" in lines[0]


# -- progress and a quiet header ---------------------------------------------------------------------


@pytest.mark.slow
def test_progress_names_the_check_and_says_when_it_runs_long(tmp_path: Path, reference_copy: Path):
    """A check running into its time limit: the progress line names it and counts its seconds."""
    _replace(
        reference_copy / "basic_call.py",
        '    """Send one Chat Completions request and return the reply\'s text."""\n',
        '    """Send one Chat Completions request and return the reply\'s text."""\n    while True:\n        pass\n',
    )
    args = ("basic_call", "--submission", str(reference_copy), "--check-timeout", "5")
    _, tty = grade_cli(tmp_path, *args, terminal=True, columns=120)
    plain = ANSI.sub("", tty)
    checks = len(rubric.load(course.exercise("basic_call")).checks)
    assert f"(check 1 of {checks})" in plain, plain[:3000]
    assert "s of its 5 s" in plain, plain[:3000]


def test_the_sandbox_takes_one_short_line_and_partial_needs_no_action():
    """Default: the level only ("partial" says it is normal); -v adds the layers and what is missing."""
    sandbox = {"level": "partial", "layers": ["seccomp", "landlock", "netns"], "missing": {"uid": "not root"}}
    grade = dataclasses.replace(_failing("basic_call", {}), sandbox=sandbox)
    quiet = _render(grade).splitlines()[0]
    assert quiet.startswith("Sandbox: partial") and "nothing to do" in quiet and "missing" not in quiet
    assert len(quiet) <= 80
    loud = " ".join(_render(grade, verbose=True).split())
    assert "seccomp, landlock, netns" in loud and "missing: uid" in loud
    out = io.StringIO()  # official grading below full is staff's concern: the detail, and no "nothing to do"
    terminal.print_report(grade, Console(file=out, width=80, color_system=None), official=True)
    assert "missing: uid" in " ".join(out.getvalue().split()) and "nothing to do" not in out.getvalue()


def test_no_line_ends_in_spaces():
    """Wrapped entries, feedback and the table carry no trailing spaces."""
    long = scoring.Outcome("", "failed", "word " * 60 + "\n" + "more " * 40, cause="c")
    text = _render(_failing("basic_call", {0: long, 1: dataclasses.replace(long, cause="d")}))
    assert text.count("\n") > 10
    assert all(line == line.rstrip() for line in text.splitlines()), [
        ln for ln in text.splitlines() if ln != ln.rstrip()
    ]
