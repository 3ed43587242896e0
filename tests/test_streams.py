"""Gated streams with the real SDKs: event splitting, the gate, broken streams, in-band errors, grading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from grader.course import CASSETTES_DIR
from grader.errors import StaffError
from grader.judge import faults, replay, streams
from tests.support.fake_api import FakeAPI
from tests.wrong.streaming_chat import MUTANTS

CASSETTES = CASSETTES_DIR / "streaming_chat"
OPENAI_STREAM = CASSETTES / "test_stream_openai_yields_as_it_streams.yaml"
ANTHROPIC_STREAM = CASSETTES / "test_stream_anthropic_yields_as_it_streams.yaml"
MESSAGES: Any = [{"role": "user", "content": "Explain in one sentence why chat apps stream their replies."}]


def oai(**kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-x", max_retries=0, **kwargs)


def claude(**kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test-x", max_retries=0, **kwargs)


def openai_deltas(client: openai.OpenAI, **extra: Any) -> Iterator[str]:
    with client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=60, stream=True, **extra
    ) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def openai_buffered(client: openai.OpenAI) -> Iterator[str]:
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=60, stream=True))
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def openai_one_ahead(client: openai.OpenAI) -> Iterator[str]:
    """Reads one chunk ahead of what it yields (a pairwise loop)."""
    previous = None
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=60, stream=True):
        if previous is not None and previous.choices and previous.choices[0].delta.content:
            yield previous.choices[0].delta.content
        previous = chunk


def anthropic_deltas(client: anthropic.Anthropic) -> Iterator[str]:
    with client.messages.create(model="claude-haiku-4-5", max_tokens=60, messages=MESSAGES, stream=True) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta" and event.delta.text:
                yield event.delta.text


def anthropic_helper(client: anthropic.Anthropic) -> Iterator[str]:
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=60, messages=MESSAGES) as stream:
        yield from stream.text_stream


def anthropic_final(client: anthropic.Anthropic) -> Iterator[str]:
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=60, messages=MESSAGES) as stream:
        message = stream.get_final_message()
    block = message.content[0]
    assert block.type == "text"
    yield block.text


def gated(cassette: Path, produce: Callable[[], Iterator[str]]) -> tuple[streams.Streams, list[Any], replay.Replay]:
    """Replay `cassette` through a gate and drive what `produce` yields, delivering each value."""
    with replay.replaying(cassette, show_expected=True) as active, streams.gating(streams.Streams()) as state:
        values = state.drive(produce())
    assert not active.misses, active.misses
    return state, values, active


# -- splitting -----------------------------------------------------------------------------------


def _live_body(fake: FakeAPI, provider: str, **extra: Any) -> bytes:
    if provider == "openai":
        url, payload = fake.openai_base_url + "/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}
    else:
        url = fake.base_url + "/v1/messages"
        payload = {"model": "claude-haiku-4-5", "max_tokens": 60, "messages": MESSAGES}
    headers = {"authorization": "Bearer sk-test-x", "x-api-key": "sk-ant-test-x", "anthropic-version": "2023-06-01"}
    return httpx2.post(url, json={**payload, "stream": True, **extra}, headers=headers).content


def test_openai_framing_splits_into_chunks_with_the_usage_chunk_and_done():
    with FakeAPI(seed=3) as fake:
        body = _live_body(fake, "openai", stream_options={"include_usage": True})
    events = streams.split_events(body)
    assert b"".join(e.raw for e in events) == body
    assert all(e.raw.endswith(b"\n\n") and e.name is None for e in events)
    assert events[-1].data == "[DONE]" and events[-1].text == ""
    usage = json.loads(events[-2].data)
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0 and events[-2].text == ""
    role = json.loads(events[0].data)["choices"][0]["delta"]
    assert role["role"] == "assistant" and events[0].text == ""
    texts = streams.text_deltas(body)
    assert texts == [json.loads(e.data)["choices"][0]["delta"]["content"] for e in events[1:-3]]
    assert streams.text_deltas(body, events=3) == texts[:2]


def test_anthropic_framing_splits_into_named_events_with_ping():
    with FakeAPI(seed=3) as fake:
        body = _live_body(fake, "anthropic")
    events = streams.split_events(body.decode())
    names = [e.name for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert [e.text for e in events if e.text] == [json.loads(e.data)["delta"]["text"] for e in events[3:-3]]
    assert all(not e.text for e in events if e.name != "content_block_delta")


def test_only_text_deltas_count_as_text_and_other_framings_split_too():
    body = (
        'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"thinking_delta","thinking":"hm"}}\r\n\r\n'
        'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":1,'
        '"delta":{"type":"input_json_delta","partial_json":"{}"}}\r\n\r\n'
        'data: {"choices":[{"index":0,"delta":{"content":null,"tool_calls":[]}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{"content":""}}]}\n\n'
        'data: {"error":{"message":"boom","type":"server_error"}}\n\n'
        ": a comment\n\n"
        'data: {"choices":[{"index":0,"delta":{"content":"tail"}}]}'  # no blank line at the very end
    )
    events = streams.split_events(body)
    assert len(events) == 7
    assert [e.text for e in events] == ["", "", "", "", "", "", "tail"]
    assert events[0].name == "content_block_delta" and events[5].data == ""


# -- the gate ----------------------------------------------------------------------------------


def _event(text: str) -> streams.Event:
    return streams.Event(b"", None, "", text)


def test_the_gate_checks_each_ask_against_what_was_delivered():
    gate = streams.Gate(0)
    gate.release(_event(""))  # a role chunk owes nothing
    gate.ask()
    gate.release(_event("Hi"))
    gate.deliver(None)
    gate.deliver("")  # neither None nor "" settles a text
    gate.ask()
    assert [(e.asked, e.waiting, e.text) for e in gate.early] == [(2, 1, "Hi")]
    gate.release(_event(" there"))
    gate.deliver("Hi")
    gate.deliver(" there")
    gate.deliver("extra")  # nothing owed: not banked for later
    gate.ask()
    gate.release(_event("!"))
    gate.ask()
    assert len(gate.early) == 2 and gate.early[1].waiting == 3
    assert gate.asks == 4 and not gate.whole_before_first


def test_a_writer_records_writes_and_late_flushes():
    state = streams.Streams()
    out = state.writer()
    gate = state.open()
    gate.release(_event("a"))
    out.write("a")
    out.flush()
    gate.release(_event("b"))
    out.write("b")
    gate.release(_event("c"))
    out.write("c")
    out.flush()  # "b" was flushed only after more of the stream was read
    out.write("\n")  # never flushed: the contract asks a flush for each delta, not for the closing newline
    out.write("d")  # never flushed
    assert out.getvalue() == "abc\nd" and out.writes == ["a", "b", "c", "\n", "d"]
    assert out.late() == ["b", "d"]
    assert gate.delivered == 3
    with pytest.raises(TypeError):
        out.write(None)  # type: ignore[arg-type]


def test_drive_bounds_an_endless_generator_and_names_a_non_iterable():
    def endless() -> Iterator[str]:
        while True:
            yield "again"

    with pytest.raises(AssertionError, match=r"more than 50 values.*does it ever end"):
        streams.drive(endless(), limit=50, what="stream_openai")
    with pytest.raises(AssertionError, match="stream_openai returned int, which cannot be iterated"):
        streams.drive(42, what="stream_openai")


# -- with the real SDKs ------------------------------------------------------------------------


def test_what_the_sdks_ask_for():
    """A correct consumer never asks early; openai stops asking at [DONE], anthropic asks once more at the end."""
    state, values, active = gated(OPENAI_STREAM, lambda: openai_deltas(oai()))
    (gate,) = state.gates
    assert values == streams.text_deltas(active.response_text(0)) and not gate.early
    assert gate.released[-1].data == "[DONE]" and gate.asks == len(gate.released) - 1
    for produce in (lambda: anthropic_deltas(claude()), lambda: anthropic_helper(claude())):
        state, values, active = gated(ANTHROPIC_STREAM, produce)
        (gate,) = state.gates
        assert values == streams.text_deltas(active.response_text(0)) and not gate.early
        assert gate.released[-1].name == "message_stop" and gate.asks == len(gate.released)
    assert state.notes() == []


def test_a_buffering_generator_is_told_it_waited_for_the_whole_reply():
    for cassette, produce in (
        (OPENAI_STREAM, lambda: openai_buffered(oai())),
        (ANTHROPIC_STREAM, lambda: anthropic_final(claude())),
    ):
        state, _, active = gated(cassette, produce)
        (gate,) = state.gates
        assert gate.whole_before_first and gate.early
        (note,) = state.notes()
        first = streams.text_deltas(active.response_text(0))[0]
        assert note.startswith("Your generator waited for the whole reply before yielding") and repr(first) in note
        state.show_expected = False  # hidden checks never show the recorded text
        assert repr(first) not in state.notes()[0]


def test_a_generator_one_chunk_ahead_is_told_it_read_ahead():
    state, values, _ = gated(OPENAI_STREAM, lambda: openai_one_ahead(oai()))
    (gate,) = state.gates
    assert values and gate.early and not gate.whole_before_first
    assert "read the stream ahead of what it had yielded" in state.notes()[0]


def test_a_live_stream_is_resplit_so_the_gate_works_over_real_sockets():
    with FakeAPI(seed=4) as fake, streams.gating(streams.Streams()) as state:
        values = state.drive(openai_deltas(oai(base_url=fake.openai_base_url), stream_options={"include_usage": True}))
    (gate,) = state.gates
    assert values and not gate.early
    assert json.loads(gate.released[-2].data)["usage"] is not None  # the include_usage chunk came through the gate


def test_async_clients_are_gated_too():
    async def consume() -> list[str]:
        client = openai.AsyncOpenAI(api_key="sk-test-x", max_retries=0)
        got = []
        async with await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=60, stream=True
        ) as stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
                    state.deliver(chunk.choices[0].delta.content)
        return got

    with replay.replaying(OPENAI_STREAM) as active, streams.gating(streams.Streams()) as state:
        values = asyncio.run(consume())
    assert values == streams.text_deltas(active.response_text(0)) and not state.gates[0].early


# -- broken streams and in-band errors -----------------------------------------------------------


def test_drop_events_parses_and_bad_counts_name_the_step():
    step = faults.parse_step("drop events=4")
    assert (step.kind, step.events) == (faults.DROP, 4)
    assert faults.parse_step("drop").events is None
    with pytest.raises(StaffError, match="events=x must be a whole number"):
        faults.parse_step("drop events=x", where="check::x")
    with pytest.raises(StaffError, match="takes no headers"):
        faults.parse_step("drop retry-after=2")


def _broken(cassette: Path, events: int, produce: Callable[[], Iterator[str]]) -> tuple[list[str], BaseException]:
    got: list[str] = []
    script = faults.parse_script([f"drop events={events}"])
    with replay.replaying(cassette) as active, faults.injecting(script) as injector:
        with pytest.raises(Exception) as caught:
            for text in produce():
                got.append(text)
    assert got == streams.text_deltas(active.response_text(0), events=events)
    assert injector.served[0].answer() == f"connection dropped after {events} event(s) of the recorded stream"
    return got, caught.value


def test_a_stream_broken_after_n_events_raises_each_sdks_error():
    got, error = _broken(OPENAI_STREAM, 5, lambda: openai_deltas(oai()))
    assert len(got) == 4 and type(error) is openai.APIConnectionError
    assert isinstance(error.__cause__, httpx2.RemoteProtocolError)
    got, error = _broken(ANTHROPIC_STREAM, 6, lambda: anthropic_deltas(claude()))
    assert len(got) == 3 and type(error) is httpx2.RemoteProtocolError
    assert "incomplete chunked read" in str(error)


def test_a_stream_cut_before_its_first_event_and_an_async_one():
    _, error = _broken(ANTHROPIC_STREAM, 0, lambda: anthropic_deltas(claude()))
    assert type(error) is httpx2.RemoteProtocolError

    async def consume() -> BaseException:
        client = anthropic.AsyncAnthropic(api_key="sk-ant-test-x", max_retries=0)
        with pytest.raises(Exception) as caught:
            async for _ in await client.messages.create(
                model="claude-haiku-4-5", max_tokens=60, messages=MESSAGES, stream=True
            ):
                pass
        return caught.value

    with replay.replaying(ANTHROPIC_STREAM), faults.injecting(faults.parse_script(["drop events=4"])):
        assert type(asyncio.run(consume())) is httpx2.RemoteProtocolError


def test_in_band_error_events_raise_from_both_sdks():
    cassette = CASSETTES / "test_openai_error_event_midway.yaml"
    assert replay.is_synthetic(cassette)
    got: list[str] = []
    with replay.replaying(cassette) as active:
        body = active.response_text(0)
        assert json.loads(streams.split_events(body)[-1].data)["error"]["type"] == "server_error"
        with pytest.raises(openai.APIError) as caught:
            got.extend(streams.drive(_openai_turn(oai(), active.request_json(0))))
    assert type(caught.value) is openai.APIError and "server had an error" in str(caught.value)
    cassette = CASSETTES / "test_anthropic_broken_stream_and_error_event.yaml"
    with replay.replaying(cassette) as active:
        body = active.response_text(1)
        last = streams.split_events(body)[-1]
        assert last.name == "error" and json.loads(last.data)["error"]["type"] == "overloaded_error"
        collected: list[str] = []
        with pytest.raises(anthropic.APIStatusError) as raised:
            client = claude()
            with client.messages.create(**active.request_json(0)) as stream:
                list(stream)  # the first reply is whole here: no fault script
            with client.messages.create(**active.request_json(1)) as stream:
                for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        collected.append(event.delta.text)
    assert collected == streams.text_deltas(body) and "overloaded_error" in str(raised.value)


def _openai_turn(client: openai.OpenAI, request: dict[str, Any]) -> Iterator[str]:
    with client.chat.completions.create(**request) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


# -- grading end to end ----------------------------------------------------------------------------


def test_buffering_feedback_is_plain_and_a_lying_eq_never_passes(grade, tmp_path: Path):
    buffering = next(m for m in MUTANTS if m.name == "buffers_openai_stream")
    submission = buffering.write(tmp_path / "submission")
    module = submission / "streaming_chat.py"
    source = module.read_text()
    old = "                yield event.delta.text\n"
    assert source.count(old) == 1
    lying = (
        "class AlwaysEqual(str):\n    def __eq__(self, other):\n        return True\n\n    __hash__ = str.__hash__\n"
    )
    # a str subclass whose == always says True, defined at the end (used only when the generator runs)
    module.write_text(source.replace(old, "                yield AlwaysEqual(event.delta.text)\n") + "\n\n" + lying)
    run = grade(submission, "streaming_chat")
    assert run.returncode == 0, run.output
    check = run.check("streaming_chat/test_public.py::test_stream_openai_yields_as_it_streams")
    assert check["status"] == "failed"
    assert "waited for the whole reply before yielding" in check["feedback"]
    assert run.check("streaming_chat/test_public.py::test_stream_anthropic_yields_as_it_streams")["status"] == "failed"
