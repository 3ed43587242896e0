"""Replay with vcrpy and our own filters (replay._VCR): what a check's cassette plays, and to whom.

The judge replaces vcrpy's generic filter pipelines (which deep-copy every request and response) with
its own; these checks hold what the copies guarded: the live request is never changed, a request
matches only its cassette's body, compressed replies are still decoded, and a cassette plays afresh
for every check.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from grader.judge import replay

LOCAL = "http://127.0.0.1:9/v1"  # nothing listens: a request that plays nothing fails at once
ASKED = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.2}


def _reply(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _cassette(path: Path, replies: list[tuple[dict[str, Any], bytes, dict[str, list[str]]]]) -> Path:
    interactions = [
        {
            "request": {
                "method": "POST",
                "uri": "https://api.openai.com/v1/chat/completions",
                "body": json.dumps(body),
                "headers": {"content-type": ["application/json"]},
            },
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"content-type": ["application/json"], **headers},
                "body": {"string": reply},
            },
        }
        for body, reply, headers in replies
    ]
    path.write_text(yaml.safe_dump({"version": 1, "interactions": interactions}), encoding="utf-8")
    return path


def _ask(content: str = "Hi") -> str | None:
    client = openai.OpenAI(api_key="sk-test-replay", base_url=LOCAL, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], temperature=0.2
    )
    return answer.choices[0].message.content


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    return _cassette(tmp_path / "hello.yaml", [(ASKED, json.dumps(_reply("Hello")).encode(), {})])


def test_a_request_to_a_local_base_url_plays_the_public_hosts_interaction(hello: Path):
    with replay.replaying(hello) as played:
        assert _ask() == "Hello"
    assert played.misses == []
    assert [(r.url, r.body) for r in played.sent] == [(f"{LOCAL}/chat/completions", ASKED)]


def test_a_request_with_another_body_plays_nothing_and_says_which_field_differs(hello: Path):
    with replay.replaying(hello) as played:
        with pytest.raises(CannotOverwriteExistingCassetteException):
            _ask("Bye")
    assert played.miss_causes == ["request field `messages` differs"]


def test_a_cassette_plays_afresh_for_every_check_that_uses_it(hello: Path):
    """vcrpy keeps what the persister gives it and counts plays on it: no check may see another's."""
    replay.preload(hello.parent)
    try:
        for _ in range(3):
            with replay.replaying(hello) as played:
                assert _ask() == "Hello"
                with pytest.raises(CannotOverwriteExistingCassetteException):
                    _ask()  # the one interaction is spent in this check only
            assert played.miss_causes == ["the same request sent more than once"]
            assert played.interactions[0][0].uri == "https://api.openai.com/v1/chat/completions"
    finally:
        replay._preloaded.clear()
        replay._parsed.clear()
        replay._checked.clear()


def test_a_gzip_reply_in_a_cassette_is_served_decoded(tmp_path: Path):
    squeezed = gzip.compress(json.dumps(_reply("Unzipped")).encode())
    path = _cassette(tmp_path / "gzip.yaml", [(ASKED, squeezed, {"content-encoding": ["gzip"]})])
    with replay.replaying(path) as played:
        assert _ask() == "Unzipped"
    assert played.misses == []
    assert "content-encoding" not in {k.lower() for k in played.interactions[0][1]["headers"]}


def test_filtering_never_changes_the_request_it_is_given():
    """The filter runs on the request the SDK's call is still using; it rewrites a copy only."""
    headers = {"Host": "127.0.0.1:9", "Authorization": "Bearer sk-test-live", "Content-Type": "application/json"}
    live = Request("POST", f"{LOCAL}/chat/completions", json.dumps(ASKED).encode(), headers)
    public = replay._to_public_host(live)
    assert public is not live
    assert (live.uri, dict(live.headers)) == (f"{LOCAL}/chat/completions", headers)
    assert public.uri == "https://api.openai.com/v1/chat/completions"
    assert dict(public.headers) == {"Host": "api.openai.com", "Content-Type": "application/json"}
    again = replay._to_public_host(public)
    assert (again.uri, dict(again.headers), again.body) == (public.uri, dict(public.headers), public.body)
