"""Public checks of exercise 3, token_counter: both providers' usage, prefix pricing, a stream's usage, the report."""

import json
import math
import re

import pytest

from grader.judge.expect import same

PROMPT = "Explain in two sentences why output tokens cost more than input tokens."
MESSAGES = [{"role": "user", "content": "Count from one to five in words."}]
# The contract's prices (exercises.md, exercise 3), USD per million tokens: (input, output).
PRICES = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
}
NUMBER = re.compile(r"\$?\d+(?:\.\d+)?")


def _fields(usage):
    """(input_tokens, output_tokens) of a Usage, compared with strict types (see grader/judge/expect.py)."""
    return (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))


def _price(input_tokens, output_tokens, model):
    inp, out = PRICES[model]
    return (input_tokens * inp + output_tokens * out) / 1_000_000


@pytest.mark.points(1)
@pytest.mark.hint(
    "An OpenAI ChatCompletion reports usage.prompt_tokens (input) and usage.completion_tokens (output): "
    "return Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)."
)
def test_usage_of_openai_completion(exercise, openai_client, replay):
    """usage_of reads prompt and completion tokens from an OpenAI reply"""
    chat_completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], max_tokens=80
    )
    usage = exercise.usage_of(chat_completion)
    recorded = replay.response_json()["usage"]
    expected = (recorded["prompt_tokens"], recorded["completion_tokens"])
    assert same(_fields(usage), expected), f"usage_of returned {usage!r} for a reply whose usage is {recorded!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "An Anthropic Message reports usage.input_tokens and usage.output_tokens (no prompt_tokens there): "
    "read those fields, plus the cache token counts when present."
)
def test_usage_of_anthropic_message(exercise, anthropic_client, replay):
    """usage_of reads input and output tokens from an Anthropic reply"""
    anthropic_reply = anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=80, messages=[{"role": "user", "content": PROMPT}]
    )
    usage = exercise.usage_of(anthropic_reply)
    recorded = replay.response_json()["usage"]
    inputs = recorded["input_tokens"] + sum(
        recorded.get(name) or 0 for name in ("cache_creation_input_tokens", "cache_read_input_tokens")
    )
    expected = (inputs, recorded["output_tokens"])
    assert same(_fields(usage), expected), f"usage_of returned {usage!r} for a reply whose usage is {recorded!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "Price a dated model id by the LONGEST key of PRICES_PER_MILLION it starts with: "
    "gpt-4o-mini-2024-07-18 is gpt-4o-mini, not gpt-4o; cost = (input*in_price + output*out_price) / 1e6."
)
@pytest.mark.cassette(None)
def test_cost_of_dated_model_uses_longest_prefix(exercise):
    """cost_of prices a dated model id by the longest matching table key"""
    usage = exercise.Usage(1_200, 340)
    for model, table_name in [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ]:
        cost = exercise.cost_of(usage, model)
        expected = _price(1_200, 340, table_name)
        assert type(cost) is float, f"cost_of must return a float, got {type(cost).__name__}"
        assert math.isclose(cost, expected, rel_tol=0, abs_tol=1e-9), (
            f"cost_of(Usage(1200, 340), {model!r}) returned {cost!r}; priced as {table_name} it is {expected!r}"
        )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Create the stream with stream=True and stream_options={'include_usage': True}, join every non-empty "
    "choices[0].delta.content (skip chunks with no choices), and take usage_of(...) of the final chunk."
)
def test_openai_stream_usage(exercise, openai_client, replay):
    """openai_stream_usage returns the streamed text and the final chunk's usage"""
    text, usage = exercise.openai_stream_usage(openai_client, MESSAGES, max_tokens=60)
    chunks = [
        json.loads(line[len("data: ") :]) for line in replay.response_text().splitlines() if line.startswith("data: {")
    ]
    expected_text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    final = chunks[-1]["usage"]
    assert same(text, expected_text), (
        f"openai_stream_usage returned the text {text!r}; the stream said {expected_text!r}"
    )
    expected = (final["prompt_tokens"], final["completion_tokens"])
    assert same(_fields(usage), expected), (
        f"openai_stream_usage returned {usage!r}; the final chunk's usage is {final!r}"
    )


@pytest.mark.points(2)
@pytest.mark.hint(
    "report(): one row per table model sorted by name with model, calls, input tokens, output tokens and the "
    "cost written f'{cost:.4f}', then a last row starting with 'total' and nothing after it."
)
def test_tracker_report_figures(exercise, openai_client, anthropic_client, replay):
    """report lists each model's figures in name order, then the totals"""
    tracker = exercise.UsageTracker()
    ask = [{"role": "user", "content": PROMPT}]
    tracker.record(anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=60, messages=ask))
    tracker.record(openai_client.chat.completions.create(model="gpt-4o-mini", messages=ask, max_tokens=60))
    tracker.record(openai_client.chat.completions.create(model="gpt-4o", messages=ask, max_tokens=60))
    tracker.record(openai_client.chat.completions.create(model="gpt-4o-mini", messages=ask, max_tokens=30))

    rows: dict[str, list[int]] = {}
    for index, name in enumerate(["claude-haiku-4-5", "gpt-4o-mini", "gpt-4o", "gpt-4o-mini"]):
        usage = replay.response_json(index)["usage"]
        tokens = (
            [usage["prompt_tokens"], usage["completion_tokens"]]
            if "prompt_tokens" in usage
            else [usage["input_tokens"] + (usage.get("cache_creation_input_tokens") or 0)
                  + (usage.get("cache_read_input_tokens") or 0), usage["output_tokens"]]
        )  # fmt: skip
        calls, inputs, outputs = rows.get(name, [0, 0, 0])
        rows[name] = [calls + 1, inputs + tokens[0], outputs + tokens[1]]
    expected = [[name, str(c), str(i), str(o), f"{_price(i, o, name):.4f}"] for name, (c, i, o) in sorted(rows.items())]
    totals = [sum(r[k] for r in rows.values()) for k in range(3)]
    total_cost = sum(_price(i, o, name) for name, (_, i, o) in rows.items())
    expected.append(["total", *(str(t) for t in totals), f"{total_cost:.4f}"])

    report = tracker.report()
    assert type(report) is str, f"report() must return a str, got {type(report).__name__}"
    lines = [line for line in report.splitlines() if line.strip()]
    names = [name for name, *_ in expected]
    found = []
    for line in lines:
        words = line.split()
        if words and (words[0] in names or words[0].lower() == "total"):
            numbers = [w.lstrip("$") for w in words[1:] if NUMBER.fullmatch(w)]
            found.append([words[0].lower() if words[0].lower() == "total" else words[0], *numbers])
    assert found == expected, (
        f"the report's rows (model, calls, input, output, cost) read {found!r}; expected {expected!r}. "
        f"The report was:\n{report}"
    )
    assert lines[-1].split()[0].lower() == "total", "the total row must be the last line of the report"
