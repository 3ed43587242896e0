"""Exercise 3: Token Counter.

What you practise: token economics. Every reply reports how many tokens it billed; you read that
usage from both providers' replies (their field names differ), price it, and keep a running
account across calls and models. Course module: Key Concepts "3. Token Economics" (input tokens
are cheaper than output tokens; cost = tokens x price per million) and Key Takeaway 2 "Track
token usage".

Grade this exercise with `nox -s grade -- token_counter`.

Field names to know:
- OpenAI `ChatCompletion.usage` (and the `usage` of the final `ChatCompletionChunk` of a stream
  made with `stream_options={"include_usage": True}`): `prompt_tokens`, `completion_tokens`.
  Chunks before the final one have `usage=None`; the final one has no choices.
- Anthropic `Message.usage`: `input_tokens`, `output_tokens`, and the prompt-caching counts
  `cache_creation_input_tokens` and `cache_read_input_tokens`, which may be missing or `None`.
  Cache tokens are input tokens: add them to `input_tokens` when present.

The report is a table with one row per model, sorted by name (model, calls, input tokens, output
tokens, cost), then a last row labelled `total` (any case) with nothing after it; counts as plain
integers, costs as `f"{cost:.4f}"` with an optional leading `$`. Anything else about the layout
(a header line, the spacing) is yours to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "PRICES_PER_MILLION",
    "Usage",
    "UsageTracker",
    "cost_of",
    "openai_stream_usage",
    "usage_of",
]


@dataclass(frozen=True)
class Usage:
    """Tokens billed for one or more requests."""

    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
}
"""USD per million tokens, `(input, output)`, keyed by model name without a date suffix."""


def usage_of(response: object) -> Usage:
    """The token usage that an OpenAI or Anthropic reply reports.

    Works on an OpenAI `ChatCompletion`, on the final OpenAI `ChatCompletionChunk` of a stream
    made with `stream_options={"include_usage": True}` (`usage.prompt_tokens`,
    `usage.completion_tokens`), and on an Anthropic `Message` (`usage.input_tokens` plus
    `cache_creation_input_tokens` and `cache_read_input_tokens` when present and not `None`;
    `usage.output_tokens`). Tip: the fields that `response.usage` carries tell the providers
    apart (`getattr(obj, name, None)` is handy).

    Returns a `Usage`. Raises `ValueError` when the object carries no usage (no `usage`
    attribute, `usage is None`, or neither provider's fields).
    """
    raise NotImplementedError("usage_of: your code here")


def cost_of(usage: Usage, model: str) -> float:
    """The cost in USD of `usage` on `model`.

    Price a model by the longest key of `PRICES_PER_MILLION` that `model` starts with, so the
    dated id `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`, not `gpt-4o`.
    Returns `(input_tokens * input_price + output_tokens * output_price) / 1_000_000`.
    Raises `ValueError` naming `model` when no key matches.
    """
    raise NotImplementedError("cost_of: your code here")


class UsageTracker:
    """A running account of the calls made, their tokens and their cost, per priced model.

    The account is kept per table model name (the key of `PRICES_PER_MILLION` that prices the
    reply's `response.model`), so `gpt-4o-mini-2024-07-18` and `gpt-4o-mini` share one row.
    """

    def __init__(self) -> None:
        self._calls: dict[str, int] = {}
        self._usage: dict[str, Usage] = {}

    def record(self, response: object) -> Usage:
        """Add one reply (OpenAI or Anthropic) to the account and return its `usage_of`.

        Uses `response.model` to find the table model name as `cost_of` does. A model with no
        price raises `ValueError` and records nothing (check before you change any state).
        """
        raise NotImplementedError("UsageTracker.record: your code here")

    @property
    def calls(self) -> int:
        """How many replies were recorded."""
        raise NotImplementedError("UsageTracker.calls: your code here")

    @property
    def total(self) -> Usage:
        """The usage of all recorded replies together (`Usage(0, 0)` when there are none)."""
        raise NotImplementedError("UsageTracker.total: your code here")

    @property
    def total_cost(self) -> float:
        """The cost in USD of all recorded replies, each priced by its own model."""
        raise NotImplementedError("UsageTracker.total_cost: your code here")

    def by_model(self) -> dict[str, Usage]:
        """Usage per table model name (for example `{"gpt-4o-mini": Usage(...)}`)."""
        raise NotImplementedError("UsageTracker.by_model: your code here")

    def report(self) -> str:
        """A plain-text table of the account (the layout is in the module docstring).

        One row per model sorted by name: model, calls, input tokens, output tokens, cost; then
        a last row labelled `total` (any case) with the totals and nothing after it. Counts are
        plain integers, costs are written `f"{cost:.4f}"`, optionally with a leading `$`.
        """
        raise NotImplementedError("UsageTracker.report: your code here")


def openai_stream_usage(
    client: openai.OpenAI,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 256,
) -> tuple[str, Usage]:
    """Stream one reply and return its full text and its usage.

    Call `client.chat.completions.create(model=..., messages=messages, max_tokens=...,
    stream=True, stream_options={"include_usage": True})` once and iterate the chunks:
    join every non-empty `chunk.choices[0].delta.content` (skip chunks with no choices) and
    take the usage from the final chunk with `usage_of`.

    Returns `(text, usage)`.
    """
    raise NotImplementedError("openai_stream_usage: your code here")
