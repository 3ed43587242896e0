"""Hidden checks of exercise 3, token_counter: cache tokens, missing usage, unknown models, arithmetic, the tracker."""

import math

import pytest

from grader.judge.expect import same

PROMPT = "List three things that make an API request expensive."
PRICES = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
}


def _price(input_tokens, output_tokens, model):
    inp, out = PRICES[model]
    return (input_tokens * inp + output_tokens * out) / 1_000_000


def _tokens(usage):
    """(input, output) of a recorded reply's usage, cache tokens counted as input."""
    if "prompt_tokens" in usage:
        return usage["prompt_tokens"], usage["completion_tokens"]
    cache = (usage.get("cache_creation_input_tokens") or 0) + (usage.get("cache_read_input_tokens") or 0)
    return usage["input_tokens"] + cache, usage["output_tokens"]


def _fields(usage):
    """(input_tokens, output_tokens) of a Usage, compared with strict types (see grader/judge/expect.py)."""
    return (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))


def _account(tracker):
    """Everything a tracker shows, as built-in values."""
    by_model = tracker.by_model()
    return (tracker.calls, _fields(tracker.total), tracker.total_cost, {k: _fields(v) for k, v in by_model.items()})


@pytest.mark.points(2)
@pytest.mark.hint(
    "Anthropic's cache_creation_input_tokens and cache_read_input_tokens are input tokens too: add them to "
    "input_tokens when they are present and not None."
)
def test_usage_of_anthropic_cache_tokens(exercise, anthropic_client, replay):
    """usage_of counts Anthropic cache writes and reads as input tokens"""
    ask = [{"role": "user", "content": PROMPT}]
    for index in range(2):
        message = anthropic_client.messages.create(model="claude-sonnet-4-6", max_tokens=120, messages=ask)
        assert same(_fields(exercise.usage_of(message)), _tokens(replay.response_json(index)["usage"]))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Raise ValueError when the object has no usage: no `usage` attribute, usage None (every stream chunk "
    "but the last), or neither provider's fields."
)
def test_usage_of_without_usage_raises(exercise, sandbox, openai_client, replay):
    """usage_of raises ValueError for objects that carry no usage"""
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=40,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) >= 3
    for chunk in chunks[:-1]:
        with pytest.raises(ValueError):
            exercise.usage_of(chunk)
    assert same(
        _fields(exercise.usage_of(chunks[-1])), (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens)
    )
    with pytest.raises(ValueError):
        exercise.usage_of(sandbox.plain_object())
    with pytest.raises(ValueError):
        exercise.usage_of(exercise.Usage(1, 2))


@pytest.mark.points(1)
@pytest.mark.hint("A model that no key of PRICES_PER_MILLION prefixes has no price: raise ValueError naming it.")
@pytest.mark.cassette(None)
def test_cost_of_unknown_model_raises(exercise):
    """cost_of raises ValueError naming a model it has no price for"""
    for model in ["gpt-4-turbo", "claude-3-opus-20240229", "o1-mini", "gemini-2.0-flash"]:
        with pytest.raises(ValueError) as info:
            exercise.cost_of(exercise.Usage(10, 10), model)
        assert model in str(info.value)


@pytest.mark.points(1)
@pytest.mark.hint("cost = (input_tokens * input_price + output_tokens * output_price) / 1_000_000, in USD.")
@pytest.mark.cassette(None)
def test_cost_of_arithmetic(exercise):
    """cost_of is exact to 1e-9 on every priced model"""
    for model in PRICES:
        for inputs, outputs in [(0, 0), (1, 0), (0, 1), (1_234_567, 89_012), (999, 1_000_001)]:
            cost = exercise.cost_of(exercise.Usage(inputs, outputs), model)
            assert math.isclose(cost, _price(inputs, outputs, model), rel_tol=0, abs_tol=1e-9)


@pytest.mark.points(1)
@pytest.mark.hint(
    "record() adds each reply under its table model name (the longest prefix, as cost_of); calls, total, "
    "total_cost and by_model() add up every recorded reply, OpenAI and Anthropic alike."
)
def test_tracker_totals_over_mixed_providers(exercise, openai_client, anthropic_client, replay):
    """the tracker's calls, totals, cost and per-model usage over OpenAI and Anthropic replies"""
    ask = [{"role": "user", "content": PROMPT}]
    tracker = exercise.UsageTracker()
    assert same((tracker.calls, _fields(tracker.total), tracker.by_model()), (0, (0, 0), {}))
    responses = [
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=ask, max_tokens=50),
        anthropic_client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=ask),
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=ask, max_tokens=25),
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ask),
    ]
    names = ["gpt-4o-mini", "claude-sonnet-4-6", "gpt-4o-mini", "claude-haiku-4-5"]
    per_model: dict[str, tuple[int, int]] = {}
    for index, (response, name) in enumerate(zip(responses, names, strict=True)):
        tokens = _tokens(replay.response_json(index)["usage"])
        assert same(_fields(tracker.record(response)), tokens)
        previous = per_model.get(name, (0, 0))
        per_model[name] = (previous[0] + tokens[0], previous[1] + tokens[1])
    assert same(tracker.calls, 4)
    assert same(_fields(tracker.total), (sum(i for i, _ in per_model.values()), sum(o for _, o in per_model.values())))
    expected_cost = sum(_price(i, o, name) for name, (i, o) in per_model.items())
    assert math.isclose(tracker.total_cost, expected_cost, rel_tol=0, abs_tol=1e-9)
    by_model = tracker.by_model()
    assert same(
        {name: _fields(usage) for name, usage in by_model.items()},
        {name: per_model[name] for name in sorted(per_model)},
    )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Find the price before changing any state: a reply whose model has no price raises ValueError and "
    "leaves calls, totals and by_model() as they were."
)
def test_tracker_unknown_model_records_nothing(exercise, openai_client, replay):
    """record raises ValueError for an unpriced model and records nothing"""
    ask = [{"role": "user", "content": PROMPT}]
    tracker = exercise.UsageTracker()
    tracker.record(openai_client.chat.completions.create(model="gpt-4o", messages=ask, max_tokens=50))
    before = _account(tracker)
    unpriced = openai_client.chat.completions.create(model="gpt-3.5-turbo", messages=ask, max_tokens=50)
    with pytest.raises(ValueError):
        tracker.record(unpriced)
    assert same(_account(tracker), before)
    assert same(before[:2], (1, _tokens(replay.response_json(0)["usage"])))
