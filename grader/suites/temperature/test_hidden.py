"""Hidden checks of exercise 2, temperature: order and values sent, validation first, choice order."""

import pytest

from grader.judge.expect import same

PROMPT = "Describe the sea in five words."


def _texts(reply):
    return [c["message"]["content"] for c in sorted(reply["choices"], key=lambda c: c["index"])]


@pytest.mark.points(1)
@pytest.mark.hint(
    "Loop over the temperatures in the order given and send each one's value as temperature=...; "
    "pass model and max_tokens through."
)
def test_compare_temperatures_order_and_values(exercise, openai_client, replay):
    """compare_temperatures sends each temperature, in the given order, with the given model and limit"""
    temperatures = (1.5, 0.2, 0.7)
    result = exercise.compare_temperatures(openai_client, PROMPT, temperatures, model="gpt-4o", max_tokens=40)
    sent = [r.body.get("temperature") for r in replay.sent if isinstance(r.body, dict)]
    assert sent == list(temperatures)
    assert same(result, {t: _texts(replay.response_json(i))[0] for i, t in enumerate(temperatures)}, ordered=True)


@pytest.mark.points(1)
@pytest.mark.hint(
    "Check the arguments before any API call: raise ValueError for an empty sequence, a temperature "
    "outside [0.0, 2.0] (NaN included), or the same temperature twice. Any number of distinct temperatures "
    "is valid: compare counts and values with == and !=, never with `is`, which is unreliable for numbers."
)
@pytest.mark.cassette(None)
def test_compare_temperatures_validates_before_sending(exercise, sandbox, openai_client, replay):
    """compare_temperatures rejects bad temperatures with ValueError and sends nothing, and accepts 301 distinct ones"""
    for bad in [(), (0.5, 2.5), (-0.1,), (0.3, 0.3), (0.0, 1.0, 0.0), (0.5, float("nan"))]:
        with pytest.raises(ValueError):
            exercise.compare_temperatures(openai_client, PROMPT, bad)
    many = [i / 150 for i in range(301)]  # distinct, from 0.0 to 2.0, both ends included
    # The SDK's create() raises this at the first request: valid input gets that far, and no 300 replies are needed.
    stop = sandbox.new(RuntimeError("the check stops compare_temperatures at its first request"))
    with sandbox.failing_create("openai", stop), pytest.raises(RuntimeError) as info:
        exercise.compare_temperatures(openai_client, PROMPT, many)
    assert info.value is stop, "compare_temperatures refused 301 distinct temperatures from [0.0, 2.0]"
    assert replay.sent == []


@pytest.mark.points(1)
@pytest.mark.hint("The API may list choices in any order: sort them by choice.index before taking the texts.")
def test_sample_completions_sorted_by_index(exercise, openai_client, replay):
    """sample_completions orders the texts by choice index"""
    result = exercise.sample_completions(openai_client, PROMPT, temperature=1.0, n=3)
    assert same(result, _texts(replay.response_json()))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Raise ValueError before sending when n < 1 or the temperature is outside [0.0, 2.0] (NaN included)."
)
@pytest.mark.cassette(None)
def test_sample_completions_validates_before_sending(exercise, openai_client, replay):
    """sample_completions rejects n < 1 and bad temperatures with ValueError and sends nothing"""
    for kwargs in [{"temperature": 0.5, "n": 0}, {"temperature": 0.5, "n": -2},
                   {"temperature": 2.1}, {"temperature": -0.5}, {"temperature": float("nan")}]:  # fmt: skip
        with pytest.raises(ValueError):
            exercise.sample_completions(openai_client, PROMPT, **kwargs)
    assert replay.sent == []


@pytest.mark.points(1)
@pytest.mark.hint("Send n, temperature, model and max_tokens exactly as given, in a single request.")
def test_sample_completions_request(exercise, openai_client, replay):
    """sample_completions sends n, temperature, model and max_tokens in one request"""
    result = exercise.sample_completions(openai_client, PROMPT, temperature=1.2, n=2, model="gpt-4o", max_tokens=30)
    assert len(replay.sent) == 1
    assert same(result, _texts(replay.response_json()))


@pytest.mark.points(1)
@pytest.mark.hint("n=1 is a valid request (one choice): only n < 1 is rejected.")
@pytest.mark.cassette("test_compare_temperatures_returns_text_per_temperature")
def test_sample_completions_single_choice(exercise, openai_client, replay):
    """sample_completions with n=1 sends one request and returns its one text"""
    result = exercise.sample_completions(openai_client, "Suggest a name for a friendly robot.", temperature=0.0, n=1)
    assert same(result, _texts(replay.response_json(0)))
