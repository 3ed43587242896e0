"""`grader record` end to end against the local fake API: scrubbing, refusal of secrets, the change report."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from grader import course
from grader.staff import cassette_diff, secrets_scan
from tests.conftest import REFERENCE, STUBS
from tests.support.fake_api import FakeAPI, anthropic_error, openai_chat, openai_error, openai_stream

EXERCISE = "basic_call"
PUBLIC_OPENAI = "test_ask_openai_returns_reply_text"


@dataclass
class Recorder:
    fake: FakeAPI
    cassettes: Path
    keys: dict[str, str]

    def run(self, *args: str, keys: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
        env = {
            **inherited,
            **(self.keys if keys is None else keys),
            "OPENAI_BASE_URL": self.fake.openai_base_url,
            "ANTHROPIC_BASE_URL": self.fake.base_url,
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "grader", "record", *args, "--cassettes", str(self.cassettes)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    def files(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted(self.cassettes.rglob("*")) if p.is_file()}

    def assert_no_secret_on_disk(self) -> None:
        for path, data in self.files().items():
            text = data.decode("utf-8", "replace")
            for name, key in self.keys.items():
                assert key not in text, f"{name} survived in {path}"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    """A copy of the project's cassettes, a fake API on 127.0.0.1, and planted keys made up for this test."""
    cassettes = tmp_path / "cassettes"
    shutil.copytree(course.CASSETTES_DIR, cassettes)
    keys = {
        "OPENAI_API_KEY": f"sk-test-{secrets.token_hex(8)}",
        "ANTHROPIC_API_KEY": f"sk-ant-test-{secrets.token_hex(8)}",
    }
    with FakeAPI(seed=11) as fake:
        yield Recorder(fake, cassettes, keys)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.slow
def test_record_writes_scrubbed_public_cassettes_that_grade_the_reference(recorder: Recorder, grade):
    before = recorder.files()
    result = recorder.run(EXERCISE)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert len(recorder.fake.requests) > 0
    # Every request carried the planted keys; none of them, nor the account's ids, reaches a file.
    recorder.assert_no_secret_on_disk()
    account_ids = (
        recorder.fake.openai_organization,
        recorder.fake.openai_project,
        recorder.fake.anthropic_organization_id,
    )
    rewritten = 0
    for path, data in recorder.files().items():
        text = data.decode()
        assert "127.0.0.1" not in text, path
        assert not any(value in text for value in account_ids), path
        cassette = _load(path)
        if (cassette.get("metadata") or {}).get("synthetic"):
            assert data == before[path], f"synthetic cassette {path.name} was re-recorded"
            continue
        if path.parent.name != EXERCISE:
            assert data == before[path], f"{path} of another exercise changed"
            continue
        rewritten += data != before[path]
        for interaction in cassette["interactions"]:
            assert interaction["request"]["uri"].startswith(
                ("https://api.openai.com/v1/", "https://api.anthropic.com/v1/")
            )
            names = {k.lower() for k in interaction["request"]["headers"]} | {
                k.lower() for k in interaction["response"]["headers"]
            }
            assert not names & {"authorization", "x-api-key", "cookie", "set-cookie", "openai-organization"}
            assert not names & {"openai-project", "anthropic-organization-id"}
            assert not secrets_scan.scan_cassette(cassette, recorder.keys)
    assert rewritten == 6  # the exercise's 8 cassettes minus its 2 synthetic ones
    # The change report: the fake's replies differ from the recorded ones, so replies changed.
    assert f"{EXERCISE}/{PUBLIC_OPENAI}.yaml: 1 changed" in output
    assert "~ POST /v1/chat/completions model=gpt-4o-mini" in output
    assert not any(key in output for key in recorder.keys.values())
    # The new cassettes are good ones: the reference still scores full marks on them.
    run = grade(REFERENCE, EXERCISE, "--cassettes", str(recorder.cassettes))
    assert run.exercise(EXERCISE)["score"] == course.exercise(EXERCISE).weight, run.output


@pytest.mark.slow
def test_reply_echoing_the_key_is_refused_and_the_previous_cassette_restored(recorder: Recorder):
    target = recorder.cassettes / EXERCISE / f"{PUBLIC_OPENAI}.yaml"
    previous = target.read_bytes()
    recorder.fake.queue(openai_chat([f"Your key is {recorder.keys['OPENAI_API_KEY']}, keep it safe."]))
    result = recorder.run(EXERCISE, PUBLIC_OPENAI)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert len(recorder.fake.requests) == 1
    assert "REFUSED" in output and f"{EXERCISE}/{PUBLIC_OPENAI}.yaml" in output
    assert "response body at $.choices[0].message.content: the value of $OPENAI_API_KEY" in output
    assert recorder.keys["OPENAI_API_KEY"] not in output
    assert target.read_bytes() == previous
    recorder.assert_no_secret_on_disk()


@pytest.mark.slow
def test_key_shaped_token_in_a_new_cassette_is_refused_and_nothing_is_left(recorder: Recorder):
    target = recorder.cassettes / EXERCISE / f"{PUBLIC_OPENAI}.yaml"
    target.unlink()
    # Not any environment value: caught by its shape alone.
    leaked = "sk-proj-" + secrets.token_urlsafe(24)
    recorder.fake.queue(openai_chat([f"Here is a token: {leaked}"]))
    result = recorder.run(EXERCISE, PUBLIC_OPENAI)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "an OpenAI project key (sk-proj-...)" in output
    assert leaked not in output
    assert not target.exists()
    assert not any(leaked in data.decode("utf-8", "replace") for data in recorder.files().values())


@pytest.mark.slow
def test_check_failing_while_recording_keeps_the_previous_cassette(recorder: Recorder):
    target = recorder.cassettes / EXERCISE / f"{PUBLIC_OPENAI}.yaml"
    previous = target.read_bytes()
    recorder.fake.queue(openai_error(500, message="The server had an error", type="server_error"))
    result = recorder.run(EXERCISE, PUBLIC_OPENAI)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "check failed while recording" in output
    # Staff see where the check stopped: the check's own line in the traceback (a grading run leaves it out).
    assert "exercise.ask_openai(openai_client, PROMPT)" in output
    assert target.read_bytes() == previous


def _tree_digest(directory: Path) -> dict[str, str]:
    """Every file under `directory` (names and contents, hashed): what "no file changed" compares."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("missing", [("OPENAI_API_KEY", "ANTHROPIC_API_KEY"), ("ANTHROPIC_API_KEY",)])
def test_record_without_a_needed_key_refuses_before_touching_anything(recorder: Recorder, missing):
    """Issue 19: `record -- basic_call` with no keys deleted 6 of its 8 cassettes and said nothing changed."""
    before = _tree_digest(recorder.cassettes)
    keys = {k: v for k, v in recorder.keys.items() if k not in missing}
    result = recorder.run(EXERCISE, keys=keys)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    for name in missing:
        assert name in output, output
    assert "Traceback" not in output
    assert recorder.fake.requests == []  # refused before anything ran
    assert _tree_digest(recorder.cassettes) == before


def test_record_of_openai_checks_needs_only_the_openai_key(recorder: Recorder):
    """The keys asked for are those of the checks being recorded, by the clients they take."""
    before = _tree_digest(recorder.cassettes)
    result = recorder.run(EXERCISE, PUBLIC_OPENAI, keys={"ANTHROPIC_API_KEY": recorder.keys["ANTHROPIC_API_KEY"]})
    assert result.returncode == 2 and "OPENAI_API_KEY" in result.stdout + result.stderr
    assert "ANTHROPIC_API_KEY is missing" not in result.stdout + result.stderr
    assert _tree_digest(recorder.cassettes) == before
    result = recorder.run(EXERCISE, PUBLIC_OPENAI, keys={"OPENAI_API_KEY": recorder.keys["OPENAI_API_KEY"]})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_recording_failing_midway_restores_every_file_it_touched(recorder: Recorder):
    """One check records fine, the next fails: the run is all or nothing, so both cassettes are as before."""
    before = _tree_digest(recorder.cassettes)
    public_anthropic = "test_ask_anthropic_returns_reply_text"
    recorder.fake.queue(
        openai_chat(["A fine reply."]),
        anthropic_error(500, type="api_error", message="Internal server error"),
    )
    result = recorder.run(EXERCISE, PUBLIC_OPENAI, public_anthropic)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert len(recorder.fake.requests) == 2
    assert _tree_digest(recorder.cassettes) == before, output
    assert "restored" in output


@pytest.mark.slow
def test_recording_that_writes_nothing_leaves_no_cassette_deleted(recorder: Recorder):
    """Every check fails before it sends anything (the stubs as the reference): a re-recording removes each
    cassette first, and none may be left deleted or emptied."""
    before = _tree_digest(recorder.cassettes)
    result = recorder.run(EXERCISE, "--reference", str(STUBS))
    assert result.returncode == 1, result.stdout + result.stderr
    assert recorder.fake.requests == []
    assert _tree_digest(recorder.cassettes) == before


def test_unknown_check_name_exits_2_listing_the_checks(recorder: Recorder):
    result = recorder.run(EXERCISE, "test_no_such_check")
    assert result.returncode == 2
    assert "test_no_such_check" in result.stdout and PUBLIC_OPENAI in result.stdout
    assert recorder.fake.requests == []


# ---------------------------------------------------------------- the scanner and the diff, on their own


def _cassette(body: str, *, uri: str = "https://api.openai.com/v1/chat/completions", headers=None) -> dict:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "uri": uri, "body": "{}", "headers": headers or {}},
                "response": {"status": {"code": 200}, "headers": {}, "body": {"string": body}},
            }
        ],
    }


def test_scanner_names_where_each_kind_of_secret_is():
    key = f"sk-test-{secrets.token_hex(8)}"
    env = secrets_scan.secret_values({"OPENAI_API_KEY": key, "HOME": "/home/someone", "SHORT_TOKEN": "x"})
    assert env == {"OPENAI_API_KEY": key}
    stream = 'event: content_block_delta\ndata: {"delta": {"type": "text_delta", "text": "Bearer abcdefgh1234"}}\n'
    cases = {
        "interaction 0, request header 'authorization': the value of $OPENAI_API_KEY": _cassette(
            "{}", headers={"authorization": [f"Bearer {key}"]}
        ),
        "interaction 0, request uri: a credential in the query parameter 'api_key'": _cassette(
            "{}", uri="https://api.openai.com/v1/chat/completions?api_key=abc"
        ),
        "interaction 0, response body line 2, data at $.delta.text: a bearer token": _cassette(stream),
        "interaction 0, request header 'x-session': a long opaque credential in a credential-carrying field": (
            _cassette("{}", headers={"x-session": ["0123456789abcdef0123456789abcdef"]})
        ),
        "interaction 0, response body at $.text: a GitHub token": _cassette('{"text": "ghp_' + "a1" * 15 + '"}'),
    }
    for expected, cassette in cases.items():
        assert [str(f) for f in secrets_scan.scan_cassette(cassette, env)] == [expected]
    clean = _cassette('{"choices": [{"message": {"content": "A task-oriented reply, ask-me-anything style."}}]}')
    assert secrets_scan.scan_cassette(clean, env) == []
    assert key not in secrets_scan.redact(f"error: key {key} rejected", env)


def test_scanner_finds_nothing_in_the_project_cassettes():
    for path in sorted(course.CASSETTES_DIR.rglob("*.yaml")):
        assert secrets_scan.scan_cassette(_load(path), {}) == [], path


def _interaction(content: str, *, temperature: float = 0.0, status: int = 200) -> dict:
    body = json.dumps(
        {"model": "gpt-4o-mini", "temperature": temperature, "messages": [{"role": "user", "content": "Hi"}]}
    )
    reply = json.dumps({"choices": [{"index": 0, "message": {"content": content}}]})
    return {
        "request": {"method": "POST", "uri": "https://api.openai.com/v1/chat/completions", "body": body},
        "response": {"status": {"code": status}, "body": {"string": reply}},
    }


def test_diff_pairs_requests_semantically_and_compares_replies():
    old = {"interactions": [_interaction("a"), _interaction("b", temperature=1.0), _interaction("c", temperature=0.5)]}
    new = {"interactions": [_interaction("b2", temperature=1.0), _interaction("a"), _interaction("d", temperature=2.0)]}
    changes = cassette_diff.compare("x.yaml", old, new)
    assert changes.unchanged == 1
    assert changes.changed == ["POST /v1/chat/completions model=gpt-4o-mini temperature=1.0 'Hi': reply 'b' -> 'b2'"]
    assert changes.added == ["POST /v1/chat/completions model=gpt-4o-mini temperature=2.0 'Hi'"]
    assert changes.removed == ["POST /v1/chat/completions model=gpt-4o-mini temperature=0.5 'Hi'"]
    assert changes.summary() == "1 added, 1 removed, 1 changed, 1 unchanged"
    assert cassette_diff.compare("x.yaml", None, new).summary() == "new cassette, 3 interaction(s)"
    status = cassette_diff.compare("x.yaml", old, {"interactions": [_interaction("a", status=429)]})
    assert status.changed[0].endswith("status 200 -> 429")


def test_reply_text_reads_both_apis_and_both_streams():
    anthropic_sse = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"He"}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"y"}}\n\n'
    )
    openai_sse = 'data: {"choices":[{"delta":{"content":"He"}}]}\n\ndata: {"choices":[{"delta":{"content":"y"}}]}\n\n'
    assert cassette_diff.reply_text(anthropic_sse) == "Hey"
    assert cassette_diff.reply_text(openai_sse + "data: [DONE]\n\n") == "Hey"
    assert cassette_diff.reply_text('{"content": [{"type": "text", "text": "Hey"}]}') == "Hey"
    assert cassette_diff.reply_text('{"error": {"message": "slow down"}}') == "error: slow down"


@pytest.mark.slow
def test_streamed_reply_records_and_diffs(recorder: Recorder, tmp_path: Path):
    """The fake's SSE framing goes through the scrubber and the diff like JSON does."""
    recorder.fake.queue(openai_stream(["Hel", "lo"]))
    import openai

    client = openai.OpenAI(api_key=recorder.keys["OPENAI_API_KEY"], base_url=recorder.fake.openai_base_url)
    from grader.judge import replay

    path = tmp_path / "stream.yaml"
    with replay.replaying(path, record=True):
        chunks = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    cassette = _load(path)
    assert secrets_scan.scan_cassette(cassette, recorder.keys) == []
    assert cassette["interactions"][0]["request"]["uri"] == "https://api.openai.com/v1/chat/completions"
    assert cassette_diff.interactions(cassette)[0].text == "Hello"


# ---------------------------------------------------------------- record --fake and scripted replies


def _run_fake(cassettes: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env.update({"COLUMNS": "200"})
    env.pop("OPENAI_BASE_URL", None)
    env.pop("ANTHROPIC_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "grader", "record", *args, "--fake", "--cassettes", str(cassettes)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_record_fake_serves_each_check_its_scripted_replies_by_provider_and_marks_them_synthetic(tmp_path: Path):
    cassettes = tmp_path / "cassettes"
    shutil.copytree(course.CASSETTES_DIR, cassettes)
    both = "test_model_and_max_tokens_passed_through"  # one OpenAI and one Anthropic request, OpenAI first
    target = cassettes / EXERCISE / f"{both}.yaml"
    target.unlink()
    note = "Scripted so the replies are known: the Anthropic reply is listed first, and still goes to Anthropic."
    (cassettes / EXERCISE / f"{both}.replies.json").write_text(
        json.dumps(
            {
                "note": note,
                "replies": [
                    {"anthropic_message": {"blocks": [{"type": "text", "text": "scripted claude"}]}},
                    {"openai_chat": {"texts": ["scripted gpt"]}},
                ],
            }
        )
    )
    before = _tree_digest(cassettes)
    result = _run_fake(cassettes, EXERCISE, both, PUBLIC_OPENAI)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    cassette = _load(target)
    assert cassette["metadata"] == {"synthetic": True, "note": note}
    texts = [cassette_diff.reply_text(i["response"]["body"]["string"]) for i in cassette["interactions"]]
    assert texts == ["scripted gpt", "scripted claude"]
    # The other check got the fake's own reply, not a scripted one.
    public = _load(cassettes / EXERCISE / f"{PUBLIC_OPENAI}.yaml")
    assert "scripted" not in json.dumps(public)
    assert f"{EXERCISE}/{both}.yaml: new cassette, 2 interaction(s)" in output
    changed = {k for k, v in _tree_digest(cassettes).items() if before.get(k) != v}
    assert changed == {f"{EXERCISE}/{both}.yaml", f"{EXERCISE}/{PUBLIC_OPENAI}.yaml"}

    # Recorded again, it is synthetic now: left alone, and said so (not "recorded").
    again = _run_fake(cassettes, EXERCISE, both)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    assert f"recorded {EXERCISE}/test_hidden.py::{both}" not in output
    assert f"{EXERCISE}/{both}.yaml: synthetic" in output
    assert _load(target) == cassette


@pytest.mark.slow
def test_record_fake_refuses_a_check_that_leaves_scripted_replies_unused(tmp_path: Path):
    cassettes = tmp_path / "cassettes"
    shutil.copytree(course.CASSETTES_DIR, cassettes)
    (cassettes / EXERCISE / f"{PUBLIC_OPENAI}.replies.json").write_text(
        json.dumps(
            {
                "note": "two replies for a check that asks once",
                "replies": [{"openai_chat": {"texts": ["one"]}}, {"openai_chat": {"texts": ["two"]}}],
            }
        )
    )
    before = _tree_digest(cassettes)
    result = _run_fake(cassettes, EXERCISE, PUBLIC_OPENAI)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "never asked for (1 left)" in result.stdout
    assert _tree_digest(cassettes) == before


def test_a_re_recording_that_sends_nothing_never_deletes_the_cassette(tmp_path: Path):
    """The judge writes a re-recording beside the cassette and moves it over only once saved: a check that
    sends nothing (or a judge killed midway) leaves the previous cassette whole, even before record restores."""
    from grader.judge import replay

    path = tmp_path / "kept.yaml"
    shutil.copy2(course.CASSETTES_DIR / EXERCISE / f"{PUBLIC_OPENAI}.yaml", path)
    previous = path.read_bytes()
    with replay.replaying(path, record=True):
        assert path.read_bytes() == previous  # not removed while the check runs
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]
