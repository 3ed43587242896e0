"""Unit tests of the pure parts: request matching, rubric reading, scoring, the outcome channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import channel, course, matching, rubric, scoring
from grader.errors import StaffError

CHAT = matching.OPENAI_CHAT_PATH
MESSAGES = matching.ANTHROPIC_MESSAGES_PATH
BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


def test_max_completion_tokens_counts_as_max_tokens():
    sent = {**BASE, "max_completion_tokens": 100}
    del sent["max_tokens"]
    assert matching.differences(CHAT, sent, BASE) == []


def test_defaults_may_be_sent_explicitly_but_other_values_may_not():
    assert matching.differences(CHAT, {**BASE, "n": 1, "stream": False}, BASE) == []
    assert [d.field for d in matching.differences(CHAT, {**BASE, "n": 2}, BASE)] == ["n"]


def test_wrong_model_temperature_and_layout_are_rejected():
    assert [d.field for d in matching.differences(CHAT, {**BASE, "model": "gpt-4o"}, BASE)] == ["model"]
    assert [
        d.field for d in matching.differences(CHAT, {**BASE, "temperature": 0.5}, {**BASE, "temperature": 0.7})
    ] == ["temperature"]
    two = {**BASE, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}
    assert [d.field for d in matching.differences(CHAT, two, BASE)] == ["messages"]
    assert [d.field for d in matching.differences(CHAT, BASE, {**BASE, "temperature": 1.0})] == ["temperature"]


def test_text_block_lists_equal_plain_strings_and_null_system_is_absent():
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    blocks = {
        **body,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "system": None,
    }
    assert matching.differences(MESSAGES, blocks, body) == []
    assert [d.field for d in matching.differences(MESSAGES, {**body, "system": "be brief"}, body)] == ["system"]


def test_temperature_at_its_default_is_allowed_only_where_the_exercise_does_not_ask_for_one():
    assert matching.differences(CHAT, {**BASE, "temperature": 1}, BASE) == []
    assert matching.differences(CHAT, {**BASE, "temperature": 1.0}, {**BASE, "temperature": 1.0}) == []
    assert [d.field for d in matching.differences(CHAT, {**BASE, "temperature": 0.7}, BASE)] == ["temperature"]
    assert [d.field for d in matching.differences(CHAT, {**BASE, "temperature": 1}, {**BASE, "temperature": 0.2})] == [
        "temperature"
    ]


def test_an_empty_system_prompt_is_still_sent_one():
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert [d.field for d in matching.differences(MESSAGES, {**body, "system": ""}, body)] == ["system"]
    empty = {**BASE, "messages": [{"role": "system", "content": ""}, *BASE["messages"]]}
    assert [d.field for d in matching.differences(CHAT, empty, BASE)] == ["messages"]


def test_describe_names_the_field_and_both_values_unless_hidden():
    diffs = matching.differences(CHAT, {**BASE, "model": "gpt-4o"}, BASE)
    assert "`model`: you sent 'gpt-4o'; this check expects 'gpt-4o-mini'" in matching.describe(diffs)
    assert "gpt-4o-mini" not in matching.describe(diffs, show_expected=False)


def _suite(tmp_path: Path, body: str, name: str = "test_public.py") -> Path:
    (tmp_path / "basic_call").mkdir(exist_ok=True)
    (tmp_path / "basic_call" / name).write_text("import pytest\n" + body)
    return tmp_path


def test_rubric_reads_points_hints_and_visibility(tmp_path: Path):
    suites = _suite(
        tmp_path,
        '@pytest.mark.points(4)\n@pytest.mark.hint("h")\ndef test_a():\n    """checks a"""\n',
    )
    _suite(suites, '@pytest.mark.points(6)\n@pytest.mark.hint("g")\ndef test_b():\n    pass\n', "test_hidden.py")
    loaded = rubric.load(course.exercise("basic_call"), suites)
    assert [(c.id, c.points, c.visibility, c.name) for c in loaded.checks] == [
        ("basic_call/test_public.py::test_a", 4, "visible", "checks a"),
        ("basic_call/test_hidden.py::test_b", 6, "hidden", "b"),
    ]


def test_rubric_is_read_again_when_a_suite_file_changes_even_to_the_same_size(tmp_path: Path):
    import os

    from grader.parent import stubs

    suites = _suite(tmp_path, '@pytest.mark.points(4)\n@pytest.mark.hint("h")\ndef test_a():\n    ask(1)\n')
    path = suites / "basic_call" / "test_public.py"
    assert [c.points for c in rubric.load(course.exercise("basic_call"), suites).checks] == [4]
    assert "ask" in stubs.names_in_code([path])
    before = path.stat()
    _suite(suites, '@pytest.mark.points(5)\n@pytest.mark.hint("h")\ndef test_a():\n    say(1)\n')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))  # whatever the file system's clock did
    assert path.stat().st_size == before.st_size
    assert [c.points for c in rubric.load(course.exercise("basic_call"), suites).checks] == [5]
    assert "say" in stubs.names_in_code([path]) and "ask" not in stubs.names_in_code([path])


@pytest.mark.parametrize(
    "body, message",
    [
        ("@pytest.mark.points(4)\ndef test_a():\n    pass\n", "needs @pytest.mark.points"),
        ('@pytest.mark.points(0)\n@pytest.mark.hint("h")\ndef test_a():\n    pass\n', "positive integer"),
        ('@pytest.mark.points(11)\n@pytest.mark.hint("h")\ndef test_a():\n    pass\n', "add up to 11"),
    ],
)
def test_rubric_refuses_malformed_suites(tmp_path: Path, body: str, message: str):
    with pytest.raises(StaffError, match=message):
        rubric.load(course.exercise("basic_call"), _suite(tmp_path, body))


def test_rubric_of_a_public_only_copy_reports_the_hidden_points(tmp_path: Path):
    suites = _suite(tmp_path, '@pytest.mark.points(4)\n@pytest.mark.hint("h")\ndef test_a():\n    pass\n')
    assert rubric.load(course.exercise("basic_call"), suites).absent_hidden_points == 6


def test_scoring_awards_points_only_for_reported_passes():
    check = rubric.Check("x/test_public.py::test_a", "x", "a", 3, "h", "visible", None)
    other = rubric.Check("x/test_public.py::test_b", "x", "b", 7, "h", "visible", None)
    rub = rubric.ExerciseRubric(course.Exercise("x", "X", 10), (check, other))
    result = scoring.grade([rub], {check.id: scoring.Outcome(check.id, "passed")})
    assert result.score == 3 and result.max_score == 10
    missing = result.exercises[0].results[1]
    assert missing.status == "failed" and "No result was reported" in missing.feedback
    timed = scoring.grade([rub], {}, missing_status="timeout").exercises[0].results[0]
    assert timed.status == "timeout" and timed.score == 0


def test_channel_accepts_signed_records_and_rejects_forged_ones(monkeypatch: pytest.MonkeyPatch):
    parent = channel.open_parent_channel()
    monkeypatch.setenv(channel.ENV_VAR, str(parent.fd))
    child = channel.ChildChannel.from_environment()
    assert child is not None
    child.write({"id": "a", "status": "failed"})
    with parent.results.open("a") as forged:
        forged.write(json.dumps({"payload": json.dumps({"id": "a", "status": "passed"}), "mac": "0" * 64}) + "\n")
        forged.write("a::passed\n")
    records, rejected = channel.read_records(parent)
    channel.close_parent_channel(parent)
    assert records == [{"id": "a", "status": "failed"}]
    assert rejected == 2


def test_feedback_names_sdk_errors_with_their_package_and_hides_vcrpy():
    import anthropic
    import httpx2

    from grader.judge import outcomes

    error = anthropic.InternalServerError(
        "boom", response=httpx2.Response(500, request=httpx2.Request("POST", "https://api.anthropic.com/v1/messages")),
        body=None,
    )
    assert outcomes.error_name(error) == "anthropic.InternalServerError"
    assert outcomes.error_name(ValueError("x")) == "ValueError"
    assert outcomes.error_name(httpx2.ReadError("x")) == "httpx2.ReadError"
    vcr_text = (
        "[stream interrupted: CannotOverwriteExistingCassetteException]\n"
        "Can't overwrite existing cassette ('/grader/cassettes/x.yaml') in your current record mode ('none').\n"
        "No match for the request (<Request (POST) https://api.openai.com/v1/chat/completions>) was found.\n"
        "Found 1 similar requests with 1 different matcher(s) :\n"
        "next line"
    )
    scrubbed = outcomes.scrub(vcr_text)
    assert "Cassette" not in scrubbed and "cassette" not in scrubbed
    assert scrubbed.startswith("[stream interrupted: a request with no recorded reply]") and "next line" in scrubbed


def test_comparisons_name_the_type_and_ignore_key_order_unless_asked():
    from grader.judge.expect import difference, same

    assert same({"b": 1, "a": 2}, {"a": 2, "b": 1})
    assert not same({"b": 1, "a": 2}, {"a": 2, "b": 1}, ordered=True)
    assert "str" in (difference({"0.0": "x"}, {0.0: "x"}, ordered=True) or "")
    assert "order" not in (difference({"0.0": "x"}, {0.0: "x"}, ordered=True) or "")
    assert difference(("a",), ["a"]) == "a tuple (('a',)) where a list is expected"
    assert "order" in (difference({1.0: "y", 0.0: "x"}, {0.0: "x", 1.0: "y"}, ordered=True) or "")
    assert not same([True], [1]) and not same(1, "1")


def test_a_checks_seed_follows_its_own_source_not_its_neighbours(tmp_path: Path):
    """Editing one check of a suite re-draws that check's seed only: known-wrong submissions whose expected
    failures depend on another check's draws keep them (issue 23's re-seeded catalogue)."""
    import importlib.util
    from types import SimpleNamespace
    from typing import cast

    from grader.judge import seeds as checks_seeds

    first = "def test_a():\n    return 1\n\n\ndef test_b():\n    return 2\n"
    second = "def test_a():\n    return 1\n\n\ndef test_b():\n    return 3  # edited\n"

    def seeds(name: str, text: str) -> dict[str, str]:
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"seeded_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {
            check: checks_seeds.seed(
                cast(
                    pytest.Item,
                    SimpleNamespace(function=getattr(module, check), nodeid=f"x/test_s.py::{check}", path=path),
                )
            )
            for check in ("test_a", "test_b")
        }

    before, after = seeds("one", first), seeds("two", second)
    assert after["test_a"] == before["test_a"]  # its own source unchanged: the same draws
    assert after["test_b"] != before["test_b"]  # edited: drawn afresh
    assert before["test_a"] != before["test_b"]
