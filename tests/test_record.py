"""`grader record` end to end against the local fake API: scrubbing, refusal of secrets, the change report."""

from __future__ import annotations

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
from tests.conftest import REFERENCE
from tests.support.fake_api import FakeAPI, openai_chat, openai_error, openai_stream

EXERCISE = "basic_call"
PUBLIC_OPENAI = "test_ask_openai_returns_reply_text"


@dataclass
class Recorder:
    fake: FakeAPI
    cassettes: Path
    keys: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **self.keys,
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
    assert target.read_bytes() == previous


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
