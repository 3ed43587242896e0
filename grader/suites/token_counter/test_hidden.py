"""Hidden checks of exercise 3, token_counter: cache tokens, missing usage, unknown models, arithmetic, the tracker."""

import json
import math
import re

import pytest

from grader.judge.expect import same

PROMPT = "List three things that make an API request expensive."
# A prompt of some 18,000 tokens (its cassettes are synthetic): counts in the thousands, and a cached prefix.
LOG = "Which endpoint failed most often in this access log?\n" + "\n".join(
    f"2026-11-26T09:{n // 60 % 60:02d}:{n % 60:02d}Z {'POST' if n % 7 == 0 else 'GET'} /v1/orders/{1000 + n} "
    f"{500 if n % 13 == 0 else 200}"
    for n in range(900)
)
SEASONS = [{"role": "user", "content": "Name the four seasons, one per line."}]
NUMBER = re.compile(r"\$?\d+(?:\.\d+)?")
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


@pytest.mark.points(1)
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


@pytest.mark.points(1)
@pytest.mark.hint(
    "OpenAI's usage.prompt_tokens already includes the cached tokens (usage.prompt_tokens_details.cached_tokens "
    "is a part of it, not an addition): input_tokens is prompt_tokens, whatever was cached."
)
def test_usage_of_openai_cached_tokens(exercise, openai_client, replay):
    """usage_of does not add OpenAI's cached tokens to prompt_tokens, which already counts them"""
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": LOG}], max_tokens=50
    )
    recorded = replay.response_json()["usage"]
    assert recorded["prompt_tokens_details"]["cached_tokens"] > 0
    usage = exercise.usage_of(completion)
    assert same(_fields(usage), (recorded["prompt_tokens"], recorded["completion_tokens"])), (
        f"usage_of returned {usage!r} for a reply whose usage is {recorded!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Every chunk may carry a usage; the reply's usage is the one on the FINAL chunk: keep overwriting it as the "
    "chunks arrive (or take usage_of(last_chunk)), never keep the first one you see."
)
def test_openai_stream_usage_from_final_chunk(exercise, openai_client, replay):
    """openai_stream_usage takes the usage of the final chunk when earlier chunks carry a usage too"""
    text, usage = exercise.openai_stream_usage(openai_client, SEASONS, max_tokens=40)
    chunks = [
        json.loads(line[len("data: ") :]) for line in replay.response_text().splitlines() if line.startswith("data: {")
    ]
    assert chunks[0]["usage"] is not None and chunks[0]["usage"] != chunks[-1]["usage"]
    expected_text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    final = chunks[-1]["usage"]
    assert same(text, expected_text), (
        f"openai_stream_usage returned the text {text!r}; the stream said {expected_text!r}"
    )
    assert same(_fields(usage), (final["prompt_tokens"], final["completion_tokens"])), (
        f"openai_stream_usage returned {usage!r}; the final chunk's usage is {final!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Write the report's counts as plain integers, str(n): 18734, never 18,734 or 18_734 (costs keep f'{cost:.4f}')."
)
def test_report_counts_are_plain_integers(exercise, openai_client, anthropic_client, replay):
    """report writes counts in the thousands as plain integers"""
    tracker = exercise.UsageTracker()
    log = [{"role": "user", "content": LOG}]
    tracker.record(anthropic_client.messages.create(model="claude-sonnet-4-6", max_tokens=1200, messages=log))
    tracker.record(openai_client.chat.completions.create(model="gpt-4o-mini", messages=log, max_tokens=1200))
    ask = [{"role": "user", "content": PROMPT}]
    tracker.record(openai_client.chat.completions.create(model="gpt-4o-mini", messages=ask, max_tokens=50))
    rows: dict[str, list[int]] = {}
    for index, name in enumerate(["claude-sonnet-4-6", "gpt-4o-mini", "gpt-4o-mini"]):
        inputs, outputs = _tokens(replay.response_json(index)["usage"])
        calls, total_in, total_out = rows.get(name, [0, 0, 0])
        rows[name] = [calls + 1, total_in + inputs, total_out + outputs]
    expected = [[name, str(c), str(i), str(o), f"{_price(i, o, name):.4f}"] for name, (c, i, o) in sorted(rows.items())]
    totals = [sum(r[k] for r in rows.values()) for k in range(3)]
    total_cost = sum(_price(i, o, name) for name, (_, i, o) in rows.items())
    expected.append(["total", *(str(t) for t in totals), f"{total_cost:.4f}"])
    assert min(totals[1:]) >= 1000
    report = tracker.report()
    assert type(report) is str, f"report() must return a str, got {type(report).__name__}"
    found = []
    for line in report.splitlines():
        words = line.split()
        if words and (words[0] in rows or words[0].lower() == "total"):
            numbers = [w.lstrip("$") for w in words[1:] if NUMBER.fullmatch(w)]
            found.append([words[0].lower() if words[0].lower() == "total" else words[0], *numbers])
    assert found == expected, (
        f"the report's rows (model, calls, input, output, cost) read {found!r}; expected {expected!r}: write "
        f"counts as plain integers. The report was:\n{report}"
    )
