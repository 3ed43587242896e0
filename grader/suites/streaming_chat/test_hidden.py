"""Hidden checks of exercise 5, streaming_chat: only text deltas, system prompts, /quit, broken streams.

Synthetic streams (marked in their cassettes) hold what the API sends only sometimes: empty and
null deltas, chunks without choices, thinking and tool-input deltas, in-band error events.
"""

import contextlib

import pytest

from grader.judge.expect import same
from grader.judge.remote import RemoteError
from grader.judge.streams import RecordingWriter, drive, text_deltas

MESSAGES = [{"role": "user", "content": "Which tool fits this job? Think it through."}]
SYSTEM = "You are a patient teaching assistant. Answer in one short sentence."
INPUTS = ["What does max_tokens limit?", "And temperature?"]
QUIT_INPUTS = ["Say hi to the class.", "  /quit  ", "This line is never sent."]
BROKEN_INPUTS = ["Name one HTTP status that is retryable.", "Name one that is not.", "Thanks!"]
BREAK_AFTER = 6


def reply_text(replay, index):
    return "".join(text_deltas(replay.response_text(index)))


def history_of(replay, inputs):
    """The history a correct chat_loop returns: each input, then the cassette's reply to it."""
    history = []
    for turn, line in enumerate(inputs):
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": reply_text(replay, turn)}]
    return history


def arrived_then_interrupted(written, arrived):
    """The rest of `written` after `arrived` and a new line starting '[stream interrupted', or None."""
    if not written.startswith(arrived):
        return None
    rest = written[len(arrived) :].split("\n", 2)
    if len(rest) != 3 or rest[0] != "" or not rest[1].startswith("[stream interrupted"):
        return None
    return rest[2]


@pytest.mark.points(1)
@pytest.mark.hint(
    "Yield only non-empty strings: skip chunks with no choices, deltas whose content is None (tool calls) "
    "and empty strings."
)
def test_stream_openai_yields_only_text(exercise, openai_client, replay):
    """stream_openai skips empty, null and tool-call deltas and chunks without choices"""
    deltas = drive(exercise.stream_openai(openai_client, MESSAGES), what="stream_openai")
    assert same(deltas, text_deltas(replay.response_text(0)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Yield event.delta.text only when event.type == 'content_block_delta' and event.delta.type == 'text_delta' "
    "and the text is not empty; thinking, signature and input_json deltas are not text."
)
def test_stream_anthropic_yields_only_text(exercise, anthropic_client, replay):
    """stream_anthropic skips thinking, signature, tool-input and empty text deltas"""
    deltas = drive(exercise.stream_anthropic(anthropic_client, MESSAGES, max_tokens=400), what="stream_anthropic")
    assert same(deltas, text_deltas(replay.response_text(0)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "OpenAI: pass system to stream_openai on every turn, which sends it as the first message; the history "
    "you keep and return holds only user and assistant messages."
)
def test_system_prompt_every_turn_openai(exercise, openai_client, replay):
    """chat_loop (openai) sends the system message first on every turn and keeps it out of the history"""
    history = exercise.chat_loop(openai_client, list(INPUTS), provider="openai", out=RecordingWriter(), system=SYSTEM)
    assert same(history, history_of(replay, INPUTS))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Anthropic: pass system to stream_anthropic on every turn, which sends it as the system= parameter, "
    "never as a message; the returned history holds only user and assistant messages."
)
def test_system_prompt_every_turn_anthropic(exercise, anthropic_client, replay):
    """chat_loop (anthropic) sends system= on every turn and keeps it out of the history"""
    history = exercise.chat_loop(
        anthropic_client, list(INPUTS), provider="anthropic", out=RecordingWriter(), system=SYSTEM
    )
    assert same(history, history_of(replay, INPUTS))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Stop the session at the first line whose stripped text is exactly '/quit': send nothing for it or after "
    "it; a '/quit' first means no request at all and an empty history. Any other line, '/help' too, is sent."
)
@pytest.mark.faults("200", "drop")
def test_quit_stops_the_session(exercise, anthropic_client, replay, faults):
    """chat_loop stops at /quit (surrounding whitespace ignored) and sends nothing after it; other lines are sent"""
    history = exercise.chat_loop(anthropic_client, list(QUIT_INPUTS), provider="anthropic", out=RecordingWriter())
    expected = [
        {"role": "user", "content": QUIT_INPUTS[0]},
        {"role": "assistant", "content": reply_text(replay, 0)},
    ]
    assert same(history, expected)
    # '/help' must be sent. The check drops its stream, so no second reply is needed; how chat_loop then handles
    # the broken stream is what the broken-stream checks grade, not this one.
    with contextlib.suppress(RemoteError):
        exercise.chat_loop(anthropic_client, ["/help", "/quit", "hello"], provider="anthropic", out=RecordingWriter())
    assert same(
        exercise.chat_loop(anthropic_client, ["/quit", "hello"], provider="anthropic", out=RecordingWriter()), []
    )
    # The first chat's request is answered by the cassette, the '/help' one by the fault script.
    assert faults.requests == 2 and len(replay.sent) == 1


@pytest.mark.points(1)
@pytest.mark.hint(
    "Anthropic raises httpx2 errors (not the SDK's) from a broken stream, and an APIStatusError for an in-band "
    "error event: catch any Exception while a reply streams, report it and go on with the next input."
)
@pytest.mark.faults(f"drop events={BREAK_AFTER}", "200", "200")
def test_anthropic_broken_stream_and_error_event(exercise, anthropic_client, replay):
    """chat_loop (anthropic) survives a dropped connection and an in-band error event"""
    out = RecordingWriter()
    history = exercise.chat_loop(anthropic_client, list(BROKEN_INPUTS), provider="anthropic", out=out)
    first = "".join(text_deltas(replay.response_text(0), events=BREAK_AFTER))
    rest = arrived_then_interrupted(out.getvalue(), first)
    assert rest is not None
    rest = arrived_then_interrupted(rest, reply_text(replay, 1))
    assert rest is not None
    assert same(rest, reply_text(replay, 2) + "\n")
    expected = [{"role": "user", "content": line} for line in BROKEN_INPUTS]
    expected.append({"role": "assistant", "content": reply_text(replay, 2)})
    assert same(history, expected)


@pytest.mark.points(1)
@pytest.mark.hint(
    "OpenAI sends an error inside a stream as a data line holding {'error': ...}; the SDK raises it while you "
    "iterate: treat it like a broken stream."
)
def test_openai_error_event_midway(exercise, openai_client, replay):
    """chat_loop (openai) survives an error sent inside the stream"""
    out = RecordingWriter()
    history = exercise.chat_loop(openai_client, list(INPUTS), out=out)
    rest = arrived_then_interrupted(out.getvalue(), reply_text(replay, 0))
    assert rest is not None
    assert same(rest, reply_text(replay, 1) + "\n")
    expected = [{"role": "user", "content": line} for line in INPUTS]
    expected.append({"role": "assistant", "content": reply_text(replay, 1)})
    assert same(history, expected)


PUBLIC_INPUTS = ["What is an API key?", "Where should I keep mine?", "Thanks, that helps!"]  # its cassette's
PUBLIC_BROKEN_INPUTS = ["Tell me a short fact about rate limits.", "And one about retries?"]


@pytest.mark.points(1)
@pytest.mark.hint(
    "An empty system prompt is no system prompt: with system='' send no system message at all. When out is "
    "None, write the replies to sys.stdout (looked up when chat_loop runs)."
)
@pytest.mark.cassette("test_chat_loop_keeps_history_across_turns")
def test_empty_system_prompt_and_stdout_openai(exercise, sandbox, openai_client, replay):
    """chat_loop (openai) with system='' sends no system message; without out it writes to the call's sys.stdout"""
    chat_loop = exercise.chat_loop  # the module is imported by now: a default bound at import holds the old stdout
    sandbox.fresh_stdout()
    history = chat_loop(openai_client, list(PUBLIC_INPUTS), system="")
    written = sandbox.stdout()
    assert same(history, history_of(replay, PUBLIC_INPUTS))
    assert same(written, "".join(reply_text(replay, turn) + "\n" for turn in range(len(PUBLIC_INPUTS))))


@pytest.mark.points(1)
@pytest.mark.hint("An empty system prompt is no system prompt: with system='' send no system parameter at all.")
@pytest.mark.cassette("test_quit_stops_the_session")
def test_empty_system_prompt_anthropic(exercise, anthropic_client, replay):
    """chat_loop (anthropic) with system='' sends no system parameter"""
    inputs = QUIT_INPUTS[:1]
    history = exercise.chat_loop(anthropic_client, inputs, provider="anthropic", out=RecordingWriter(), system="")
    assert same(history, history_of(replay, inputs))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Provider names are exactly 'openai' and 'anthropic' (no case folding, no stripping); any other raises "
    "ValueError before anything is sent or written."
)
@pytest.mark.cassette(None)
def test_provider_names_are_exact(exercise, openai_client, replay):
    """chat_loop rejects any provider name but 'openai' and 'anthropic' before sending anything"""
    for bad in ("OpenAI", "ANTHROPIC", " openai", "openai ", "gemini", ""):
        with pytest.raises(ValueError):
            exercise.chat_loop(openai_client, ["hello"], provider=bad, out=RecordingWriter())
    assert replay.sent == []


@pytest.mark.points(1)
@pytest.mark.hint(
    "A stream can fail before its first delta: the whole loop over the deltas (its first step included) "
    "belongs inside the try, so the failure is reported and the session goes on."
)
@pytest.mark.faults("drop events=0", "200")
@pytest.mark.cassette("test_chat_loop_survives_a_broken_stream")
def test_stream_failing_before_first_delta(exercise, openai_client, replay):
    """chat_loop reports a stream that fails before any delta and goes on"""
    out = RecordingWriter()
    history = exercise.chat_loop(openai_client, list(PUBLIC_BROKEN_INPUTS), out=out)
    written = out.getvalue()
    written = written[1:] if written.startswith("\n") else written  # an empty line first is allowed
    rest = written.split("\n", 1)
    assert len(rest) == 2 and rest[0].startswith("[stream interrupted")
    assert same(rest[1], reply_text(replay, 1) + "\n")
    expected = [{"role": "user", "content": line} for line in PUBLIC_BROKEN_INPUTS]
    expected.append({"role": "assistant", "content": reply_text(replay, 1)})
    assert same(history, expected)


@pytest.mark.points(1)
@pytest.mark.hint(
    "Any Exception while a reply streams interrupts that reply, not only the SDKs' and httpx2's: a garbled "
    "event raises json.JSONDecodeError. Catch Exception around the loop over the deltas."
)
def test_any_exception_interrupts_the_reply(exercise, openai_client, replay):
    """chat_loop reports a stream that fails with an exception that is not an API error, and goes on"""
    out = RecordingWriter()
    history = exercise.chat_loop(openai_client, list(PUBLIC_BROKEN_INPUTS), out=out)
    rest = arrived_then_interrupted(out.getvalue(), "".join(text_deltas(replay.response_text(0), events=5)))
    assert rest is not None
    assert same(rest, reply_text(replay, 1) + "\n")
    expected = [{"role": "user", "content": line} for line in PUBLIC_BROKEN_INPUTS]
    expected.append({"role": "assistant", "content": reply_text(replay, 1)})
    assert same(history, expected)


@pytest.mark.points(1)
@pytest.mark.hint(
    "Only a line that is exactly '/quit' once stripped stops the session: '/quit now' or '/quitting' are "
    "ordinary input and are sent (compare line.strip() == '/quit', not startswith)."
)
@pytest.mark.faults("drop", "drop")
@pytest.mark.cassette(None)
def test_only_the_quit_line_stops(exercise, openai_client, faults):
    """lines that merely start with /quit are sent; the session stops at the line that is /quit"""
    inputs = ["/quit now", " /quitting ", "/quit", "never sent"]
    history = exercise.chat_loop(openai_client, inputs, out=RecordingWriter())
    # Both streams break (the fault script), so each turn keeps its user message and no reply.
    assert same(history, [{"role": "user", "content": line} for line in inputs[:2]]), (
        f"chat_loop returned {history!r}; '/quit now' and ' /quitting ' are ordinary lines to send"
    )
    assert faults.requests == 2


@pytest.mark.points(1)
@pytest.mark.hint(
    "Never change the caller's messages list: build the request's messages as a new list "
    "([system message] + messages), do not insert into or append to the list you were given."
)
@pytest.mark.cassette("test_system_prompt_every_turn_openai")
def test_stream_openai_leaves_messages_as_given(exercise, sandbox, openai_client, replay):
    """stream_openai with a system prompt leaves the caller's messages list unchanged"""
    given = [{"role": "user", "content": INPUTS[0]}]
    messages = sandbox.kept_list(given)
    deltas = drive(exercise.stream_openai(openai_client, messages, system=SYSTEM), what="stream_openai")
    assert same(deltas, text_deltas(replay.response_text(0)))
    assert same(list(messages), given), (
        f"after stream_openai the caller's messages list holds {list(messages)!r}; it must be left as given"
    )
