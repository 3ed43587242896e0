"""Public checks of exercise 5, streaming_chat: deltas as they arrive, history, flushing, a broken stream.

Streamed replies come from recorded streams. In the checks that take the `streams` fixture the
grader hands your code one event of the stream at a time and notices when your code asks for
the next event before it has yielded (or written to `out`) the text of the previous one: a
generator that reads the whole reply first fails them, whatever it yields in the end.
"""

import pytest

from grader.judge.expect import same
from grader.judge.streams import RecordingWriter, text_deltas

MESSAGES = [{"role": "user", "content": "Explain in one sentence why chat apps stream their replies."}]
INPUTS = ["What is an API key?", "Where should I keep mine?", "Thanks, that helps!"]
BROKEN_INPUTS = ["Tell me a short fact about rate limits.", "And one about retries?"]
BREAK_AFTER = 5  # the first reply's stream breaks after this many events (the fault script below)


def reply_text(replay, index):
    return "".join(text_deltas(replay.response_text(index)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Call client.chat.completions.create(..., stream=True) and, inside `for chunk in stream:`, yield "
    "chunk.choices[0].delta.content when it is a non-empty string; never collect the chunks first."
)
def test_stream_openai_yields_as_it_streams(exercise, openai_client, replay, streams):
    """stream_openai yields each text delta as soon as its chunk arrives"""
    deltas = streams.drive(exercise.stream_openai(openai_client, MESSAGES, max_tokens=60), what="stream_openai")
    expected = text_deltas(replay.response_text(0))
    assert same(deltas, expected), f"stream_openai yielded {deltas!r}; the reply's text deltas are {expected!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Call client.messages.create(..., stream=True) (or use client.messages.stream(...)) and yield "
    "event.delta.text of each content_block_delta whose delta is a text_delta, inside the loop over the events."
)
def test_stream_anthropic_yields_as_it_streams(exercise, anthropic_client, replay, streams):
    """stream_anthropic yields each text delta as soon as its event arrives"""
    deltas = streams.drive(
        exercise.stream_anthropic(anthropic_client, MESSAGES, max_tokens=60), what="stream_anthropic"
    )
    expected = text_deltas(replay.response_text(0))
    assert same(deltas, expected), f"stream_anthropic yielded {deltas!r}; the reply's text deltas are {expected!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Keep one history list: append {'role': 'user', 'content': line}, stream the reply to the whole history, "
    "then append {'role': 'assistant', 'content': <the whole reply>}; do this for every input line."
)
def test_chat_loop_keeps_history_across_turns(exercise, openai_client, replay):
    """chat_loop sends the whole history every turn and returns it"""
    out = RecordingWriter()
    history = exercise.chat_loop(openai_client, list(INPUTS), out=out)
    expected = []
    for turn, line in enumerate(INPUTS):
        expected += [{"role": "user", "content": line}, {"role": "assistant", "content": reply_text(replay, turn)}]
    assert same(history, expected), f"chat_loop returned {history!r}; expected {expected!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Inside the loop over the deltas: out.write(delta) then out.flush(), for every delta; after the reply, "
    "out.write('\\n') and flush. Never collect the reply before writing it."
)
def test_chat_loop_writes_and_flushes_each_delta(exercise, openai_client, replay, streams):
    """chat_loop writes each delta to out and flushes it as it arrives, and ends the reply with a newline"""
    out = streams.writer()
    exercise.chat_loop(openai_client, list(INPUTS[:2]), out=out)
    expected = reply_text(replay, 0) + "\n" + reply_text(replay, 1) + "\n"
    assert same(out.getvalue(), expected), f"chat_loop wrote {out.getvalue()!r} to out; expected {expected!r}"
    late = out.late()
    assert not late, (
        f"{len(late)} write(s) to out were not flushed before more of the stream was read, for example {late[0]!r}: "
        "call out.flush() right after each out.write(delta)"
    )


@pytest.mark.points(2)
@pytest.mark.hint(
    "Wrap the loop over one reply's deltas in try/except Exception: write what arrived, then a new line "
    "'[stream interrupted: <ErrorClass>]', keep the user message, add no assistant message, and continue."
)
@pytest.mark.faults(f"drop events={BREAK_AFTER}", "200")
def test_chat_loop_survives_a_broken_stream(exercise, openai_client, replay):
    """chat_loop reports a stream that breaks midway, drops the partial reply and goes on"""
    out = RecordingWriter()
    history = exercise.chat_loop(openai_client, list(BROKEN_INPUTS), out=out)
    arrived = "".join(text_deltas(replay.response_text(0), events=BREAK_AFTER))
    written = out.getvalue()
    assert written.startswith(arrived), f"out starts {written[: len(arrived) + 20]!r}; what arrived was {arrived!r}"
    rest = written[len(arrived) :].split("\n", 2)
    assert len(rest) == 3 and rest[0] == "" and rest[1].startswith("[stream interrupted"), (
        f"after what arrived ({arrived!r}) out holds {written[len(arrived) :]!r}; expected a new line starting "
        "'[stream interrupted'"
    )
    assert same(rest[2], reply_text(replay, 1) + "\n"), (
        f"after the interruption line out holds {rest[2]!r}; expected the next reply and a newline"
    )
    expected = [
        {"role": "user", "content": BROKEN_INPUTS[0]},
        {"role": "user", "content": BROKEN_INPUTS[1]},
        {"role": "assistant", "content": reply_text(replay, 1)},
    ]
    assert same(history, expected), (
        f"chat_loop returned {history!r}; expected {expected!r} (the user message of the broken turn stays, "
        "its partial reply does not)"
    )
