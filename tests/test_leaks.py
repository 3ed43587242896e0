"""The key-leak guard: unit tests of grader/judge/leaks.py, and end to end through the CLI."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest

from grader.judge import leaks

SUBMISSION = Path("/nonexistent/submission")


def _keys() -> dict[str, str]:
    # Made up at run time, in the planted keys' shape (grader/judge/session.py), so no key is ever committed.
    return {
        "OPENAI_API_KEY": f"sk-proj-UNIT-FAKE-{secrets.token_urlsafe(24)}",
        "ANTHROPIC_API_KEY": f"sk-ant-api03-UNIT-FAKE-{secrets.token_urlsafe(24)}",
    }


def _assert_no_key(texts: list[str], keys: dict[str, str]) -> None:
    for text in texts:
        for key in keys.values():
            assert key not in text


def test_captured_output_of_each_phase_is_inspected_once_and_named():
    keys = _keys()
    watch = leaks.LeakWatch(keys, SUBMISSION)
    sections = [
        ("Captured stdout setup", "nothing here"),
        ("Captured stdout call", f"your key is {keys['OPENAI_API_KEY']}\n"),
        ("Captured stderr call", f"warning: {keys['ANTHROPIC_API_KEY']}"),
    ]
    watch.inspect_phase("setup", sections[:1], None)
    watch.inspect_phase("call", sections, None)
    watch.inspect_phase("teardown", sections, None)  # earlier phases' sections ride along; not counted again
    notes = watch.notes()
    assert len(notes) == 2
    assert "OPENAI_API_KEY" in notes[0] and "standard output" in notes[0] and "call" in notes[0]
    assert "ANTHROPIC_API_KEY" in notes[1] and "standard error" in notes[1]
    _assert_no_key(notes, keys)


def test_part_of_a_key_or_a_masked_key_is_no_leak():
    keys = _keys()
    watch = leaks.LeakWatch(keys, SUBMISSION)
    key = keys["OPENAI_API_KEY"]
    watch.inspect_phase("call", [("Captured stdout call", f"{key[:-1]} {key[:3]}...{key[-4:]}")], None)
    assert watch.notes() == []


def _raise_from_student(message: str, tmp_path: Path) -> BaseException:
    """An exception whose traceback passes through a file of the submission directory."""
    module = tmp_path / "student.py"
    module.write_text(f"def fail():\n    raise ValueError({message!r})\n")
    namespace: dict[str, object] = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    try:
        namespace["fail"]()  # type: ignore[operator]
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def test_exception_messages_along_the_chain_are_inspected(tmp_path: Path):
    keys = _keys()
    student_error = _raise_from_student(f"bad key {keys['ANTHROPIC_API_KEY']}", tmp_path)
    try:
        raise RuntimeError("wrapped") from student_error
    except RuntimeError as exc:
        outer = exc
    watch = leaks.LeakWatch(keys, tmp_path)
    watch.inspect_phase("call", [], outer)
    notes = watch.notes()
    assert len(notes) == 1 and "ANTHROPIC_API_KEY" in notes[0] and "ValueError" in notes[0]
    _assert_no_key(notes, keys)


def test_the_checks_own_assertion_is_not_a_leak_but_what_it_wraps_is(tmp_path: Path):
    keys = _keys()
    try:
        raise AssertionError(f"expected {keys['OPENAI_API_KEY']}")  # the suite's verdict, shown redacted
    except AssertionError as exc:
        verdict = exc
    watch = leaks.LeakWatch(keys, tmp_path)
    watch.inspect_phase("call", [], verdict)
    assert watch.notes() == []

    student_error = _raise_from_student(f"key {keys['OPENAI_API_KEY']}", tmp_path)
    try:
        try:
            raise student_error
        except ValueError:
            raise AssertionError("the check failed") from None
    except AssertionError as exc:
        exc.__context__ = student_error
        verdict = exc
    watch.inspect_phase("call", [], verdict)
    assert len(watch.notes()) == 1


def test_emitted_log_records_are_watched_with_the_logger_named():
    keys = _keys()
    watch = leaks.LeakWatch(keys, SUBMISSION)
    logger = logging.getLogger("exercises.api_keys")
    with watch.watching_logs():
        logger.warning("loaded %s", keys["OPENAI_API_KEY"])
        try:
            raise KeyError(keys["ANTHROPIC_API_KEY"])
        except KeyError:
            logger.exception("lookup failed")
    logger.warning("after the check: %s", keys["OPENAI_API_KEY"])  # the handler is gone by now
    assert watch.log not in logging.getLogger().handlers
    # A student's bad format string is no crash of the guard, and the key in its arguments is still seen.
    broken = logging.LogRecord("exercises.x", logging.WARNING, __file__, 1, "%s %s", (keys["OPENAI_API_KEY"],), None)
    watch.log.emit(broken)
    notes = watch.notes()
    assert len(notes) == 2  # one note per channel (here: per logger), naming every key leaked there
    assert all("log record" in n for n in notes)
    assert "OPENAI_API_KEY, ANTHROPIC_API_KEY" in notes[0] and "'exercises.api_keys'" in notes[0]
    assert "OPENAI_API_KEY" in notes[1] and "'exercises.x'" in notes[1]
    _assert_no_key(notes, keys)


def test_keys_a_check_makes_up_are_watched_and_redacted():
    keys = _keys()
    watch = leaks.LeakWatch(keys, SUBMISSION)
    extra = f"sk-proj-CHECK-FAKE-{secrets.token_urlsafe(20)}"
    watch.watch("the openai test key 'env'", extra)
    watch.inspect_phase("call", [("Captured stdout call", extra)], None)
    assert "the openai test key 'env'" in watch.notes()[0]
    text = f"got {extra} and {keys['ANTHROPIC_API_KEY']}"
    assert leaks.redact(text, watch.keys) == "got <the openai test key 'env' hidden> and <ANTHROPIC_API_KEY hidden>"


def test_empty_and_short_keys_are_not_watched():
    watch = leaks.LeakWatch({"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "sk-ant-x"}, SUBMISSION)
    watch.inspect_phase("call", [("Captured stdout call", "sk-ant-x")], None)
    assert watch.keys == {} and watch.notes() == []


# -- end to end: a submission that leaks the planted keys, graded by the CLI ---------------------------------


def _insert_after(path: Path, anchor: str, code: str) -> None:
    source = path.read_text()
    assert source.count(anchor) == 1, anchor
    path.write_text(source.replace(anchor, anchor + code))


@pytest.mark.slow
def test_leaks_fail_the_check_naming_the_channel_and_never_show_the_key(grade, reference_copy: Path):
    basic = reference_copy / "basic_call.py"
    _insert_after(
        basic,
        '    """Send one Chat Completions request and return the reply\'s text."""\n',
        "    print('using key', client.api_key)\n",
    )
    _insert_after(
        basic,
        '    """Send one Messages request and return the text of all its `text` blocks, in order."""\n',
        "    import logging, os\n    logging.getLogger(__name__).warning('key %s', os.environ['ANTHROPIC_API_KEY'])\n",
    )
    temperature = reference_copy / "temperature.py"
    _insert_after(
        temperature,
        '    """Ask for `n` choices in one request; return their texts ordered by choice index."""\n',
        "    raise RuntimeError(f'refusing to sample with {client.api_key}')\n",
    )
    run = grade(reference_copy, "basic_call", "temperature")
    assert run.returncode == 0, run.output

    printed = run.check("basic_call/test_public.py::test_ask_openai_returns_reply_text")
    assert printed["status"] == "failed"
    assert "OPENAI_API_KEY" in printed["feedback"] and "standard output" in printed["feedback"]
    logged = run.check("basic_call/test_public.py::test_ask_anthropic_returns_reply_text")
    assert logged["status"] == "failed"
    assert "ANTHROPIC_API_KEY" in logged["feedback"] and "log record" in logged["feedback"]
    assert "'exercises.basic_call'" in logged["feedback"]
    raised = run.check("temperature/test_public.py::test_sample_completions_returns_n_texts")
    assert raised["status"] == "failed"
    assert "message of a RuntimeError" in raised["feedback"] and "<OPENAI_API_KEY hidden>" in raised["feedback"]
    untouched = run.check("temperature/test_public.py::test_compare_temperatures_returns_text_per_temperature")
    assert untouched["status"] == "passed"

    report_text = json.dumps(run.report)
    for text in (report_text, run.output):
        assert "GRADER-FAKE" not in text, "a planted key reached the report or the terminal"
