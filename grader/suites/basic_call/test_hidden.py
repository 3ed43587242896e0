"""Hidden checks of exercise 1, basic_call: system prompts, model and limit, block handling, one request."""

import pytest

from grader.judge.expect import same

PROMPT = "Name one benefit of streaming responses."
SYSTEM = "You are a concise teaching assistant."


def _anthropic_text(reply):
    return "".join(b["text"] for b in reply["content"] if b["type"] == "text")


@pytest.mark.points(1)
@pytest.mark.hint(
    "When system is given, send it as the first message {'role': 'system', ...} before the user message; "
    "when it is None or empty, send no system message at all."
)
def test_ask_openai_system_message_first(exercise, openai_client, replay):
    """ask_openai puts the system prompt first, and sends none when it is empty"""
    with_system = exercise.ask_openai(openai_client, PROMPT, system=SYSTEM)
    without = exercise.ask_openai(openai_client, PROMPT, system="")
    assert same(with_system, replay.response_json(0)["choices"][0]["message"]["content"])
    assert same(without, replay.response_json(1)["choices"][0]["message"]["content"])


@pytest.mark.points(1)
@pytest.mark.hint(
    "Anthropic takes the system prompt as the `system` parameter of messages.create, never as a message; "
    "messages holds only the user turn. When system is None or empty, send no system parameter at all."
)
def test_ask_anthropic_system_parameter(exercise, anthropic_client, replay):
    """ask_anthropic sends the system prompt in the system parameter, and none when it is empty"""
    text = exercise.ask_anthropic(anthropic_client, PROMPT, system=SYSTEM)
    without = exercise.ask_anthropic(anthropic_client, PROMPT, system="")
    assert same(text, _anthropic_text(replay.response_json(0)))
    assert same(without, _anthropic_text(replay.response_json(1)))


@pytest.mark.points(1)
@pytest.mark.hint("Pass the model and max_tokens arguments through to the API instead of fixed values.")
def test_model_and_max_tokens_passed_through(exercise, openai_client, anthropic_client, replay):
    """both functions send the model and token limit they are given"""
    openai_text = exercise.ask_openai(openai_client, PROMPT, model="gpt-4o", max_tokens=20)
    anthropic_text = exercise.ask_anthropic(anthropic_client, PROMPT, model="claude-sonnet-4-6", max_tokens=50)
    assert same(openai_text, replay.response_json(0)["choices"][0]["message"]["content"])
    assert same(anthropic_text, _anthropic_text(replay.response_json(1)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "A reply can hold several content blocks: join the .text of every block whose type is 'text', in order, "
    "and skip the others (thinking, tool_use)."
)
def test_ask_anthropic_joins_text_blocks(exercise, anthropic_client, replay):
    """ask_anthropic concatenates every text block and skips other block types"""
    text = exercise.ask_anthropic(anthropic_client, PROMPT)
    assert same(text, _anthropic_text(replay.response_json()))


@pytest.mark.points(1)
@pytest.mark.hint(
    "An empty reply is still a reply: return '' when the OpenAI message content is None, and '' when the "
    "Anthropic reply has no text blocks."
)
def test_empty_replies_give_empty_string(exercise, openai_client, anthropic_client, replay):
    """an empty reply gives the empty string from both functions"""
    assert same(exercise.ask_openai(openai_client, PROMPT), "")
    assert same(exercise.ask_anthropic(anthropic_client, PROMPT), "")


@pytest.mark.points(1)
@pytest.mark.hint("Each function makes exactly one API request: no retries, no second call, no extra endpoints.")
def test_exactly_one_request_each(exercise, openai_client, anthropic_client, replay):
    """each function makes exactly one request"""
    exercise.ask_openai(openai_client, PROMPT)
    assert len(replay.sent) == 1
    exercise.ask_anthropic(anthropic_client, PROMPT)
    assert len(replay.sent) == 2


@pytest.mark.points(1)
@pytest.mark.hint(
    "Return the reply's text exactly as the API sent it: no .strip(), no other cleaning; leading newlines and "
    "trailing spaces are part of the reply."
)
def test_reply_text_returned_as_sent(exercise, openai_client, anthropic_client, replay):
    """both functions return the reply's text as sent, whitespace at its edges included"""
    openai_text = exercise.ask_openai(openai_client, PROMPT)
    anthropic_text = exercise.ask_anthropic(anthropic_client, PROMPT)
    expected = replay.response_json(0)["choices"][0]["message"]["content"]
    assert expected != expected.strip()
    assert same(openai_text, expected), f"ask_openai returned {openai_text!r}; the API sent {expected!r}"
    expected = _anthropic_text(replay.response_json(1))
    assert same(anthropic_text, expected), f"ask_anthropic returned {anthropic_text!r}; the API sent {expected!r}"
