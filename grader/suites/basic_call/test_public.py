"""Public checks of exercise 1, basic_call: one request to each provider, the reply's text back."""

import pytest

from grader.judge.expect import same

PROMPT = "In one sentence, what is an API?"


@pytest.mark.points(2)
@pytest.mark.hint(
    "Make one client.chat.completions.create(...) call with model, max_tokens and a single user message, "
    "and return response.choices[0].message.content."
)
def test_ask_openai_returns_reply_text(exercise, openai_client, replay):
    """ask_openai sends one user message and returns the reply's text"""
    text = exercise.ask_openai(openai_client, PROMPT)
    expected = replay.response_json()["choices"][0]["message"]["content"]
    assert same(text, expected), f"ask_openai returned {text!r}; the API's reply text was {expected!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Make one client.messages.create(...) call with model, max_tokens and messages=[{'role': 'user', ...}], "
    "and return the text of the reply's text blocks."
)
def test_ask_anthropic_returns_reply_text(exercise, anthropic_client, replay):
    """ask_anthropic sends one user message and returns the reply's text"""
    text = exercise.ask_anthropic(anthropic_client, PROMPT)
    expected = "".join(b["text"] for b in replay.response_json()["content"] if b["type"] == "text")
    assert same(text, expected), f"ask_anthropic returned {text!r}; the API's reply text was {expected!r}"
