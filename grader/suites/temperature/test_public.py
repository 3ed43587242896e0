"""Public checks of exercise 2, temperature: one request per temperature, n choices in one request."""

import pytest

from grader.judge.expect import difference

PROMPT = "Suggest a name for a friendly robot."


def _texts(reply):
    return [c["message"]["content"] for c in sorted(reply["choices"], key=lambda c: c["index"])]


@pytest.mark.points(2)
@pytest.mark.hint(
    "Send one chat.completions.create request per temperature, each with temperature=t, and return "
    "{t: text} with the temperatures in the order given."
)
def test_compare_temperatures_returns_text_per_temperature(exercise, openai_client, replay):
    """compare_temperatures returns each temperature's reply, in order"""
    result = exercise.compare_temperatures(openai_client, PROMPT)
    expected = {0.0: _texts(replay.response_json(0))[0], 1.0: _texts(replay.response_json(1))[0]}
    problem = difference(result, expected, ordered=True)
    assert problem is None, f"In what compare_temperatures returned: {problem}. The replies were {expected!r}."


@pytest.mark.points(2)
@pytest.mark.hint("Send one request with n=n and temperature=temperature and return the texts of all choices.")
def test_sample_completions_returns_n_texts(exercise, openai_client, replay):
    """sample_completions returns the text of every choice from one request"""
    result = exercise.sample_completions(openai_client, PROMPT, temperature=0.8, n=3)
    expected = _texts(replay.response_json())
    problem = difference(result, expected)
    assert problem is None, f"In what sample_completions returned: {problem}. The choices were {expected!r}."
