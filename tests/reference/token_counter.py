"""Exercise 3: Token Counter (reference solution).

Practises token economics: reading usage from both providers' replies, pricing it and keeping a
running account (course module, Key Concepts "3. Token Economics"). Grade it with
`nox -s grade -- token_counter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

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


def _as_count(value: object) -> int | None:
    """`value` as a token count, or None when it is not an integer (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def usage_of(response: object) -> Usage:
    """The token usage that an OpenAI or Anthropic reply (or final stream chunk) reports."""
    usage = getattr(response, "usage", None)
    if usage is None:
        raise ValueError(f"{type(response).__name__} carries no usage")

    # OpenAI: ChatCompletion, or the final ChatCompletionChunk of a stream with include_usage.
    prompt = _as_count(getattr(usage, "prompt_tokens", None))
    completion = _as_count(getattr(usage, "completion_tokens", None))
    if prompt is not None and completion is not None:
        return Usage(input_tokens=prompt, output_tokens=completion)

    # Anthropic: Message. Cache writes and reads are input tokens too, billed alongside the rest.
    input_tokens = _as_count(getattr(usage, "input_tokens", None))
    output_tokens = _as_count(getattr(usage, "output_tokens", None))
    if input_tokens is not None and output_tokens is not None:
        for cache_field in ("cache_creation_input_tokens", "cache_read_input_tokens"):
            input_tokens += _as_count(getattr(usage, cache_field, None)) or 0
        return Usage(input_tokens=input_tokens, output_tokens=output_tokens)

    raise ValueError(f"{type(response).__name__} carries no usage that this function understands")


def _priced_model(model: str) -> str:
    """The longest key of PRICES_PER_MILLION that `model` starts with; ValueError when none."""
    matches = [name for name in PRICES_PER_MILLION if model.startswith(name)]
    if not matches:
        known = ", ".join(sorted(PRICES_PER_MILLION))
        raise ValueError(f"no price for model {model!r}; priced models: {known}")
    return max(matches, key=len)


def cost_of(usage: Usage, model: str) -> float:
    """The cost in USD of `usage` on `model`, priced by the longest matching table key."""
    input_price, output_price = PRICES_PER_MILLION[_priced_model(model)]
    return (usage.input_tokens * input_price + usage.output_tokens * output_price) / 1_000_000


class UsageTracker:
    """A running account of the calls made, their tokens and their cost, per priced model."""

    def __init__(self) -> None:
        self._calls: dict[str, int] = {}
        self._usage: dict[str, Usage] = {}

    def record(self, response: object) -> Usage:
        """Add one reply to the account and return its usage."""
        model = getattr(response, "model", None)
        if not isinstance(model, str):
            raise ValueError(f"{type(response).__name__} carries no model name")
        name = _priced_model(model)
        usage = usage_of(response)
        previous = self._usage.get(name, Usage(0, 0))
        self._usage[name] = Usage(
            input_tokens=previous.input_tokens + usage.input_tokens,
            output_tokens=previous.output_tokens + usage.output_tokens,
        )
        self._calls[name] = self._calls.get(name, 0) + 1
        return usage

    @property
    def calls(self) -> int:
        """How many replies were recorded."""
        return sum(self._calls.values())

    @property
    def total(self) -> Usage:
        """The usage of all recorded replies together."""
        return Usage(
            input_tokens=sum(u.input_tokens for u in self._usage.values()),
            output_tokens=sum(u.output_tokens for u in self._usage.values()),
        )

    @property
    def total_cost(self) -> float:
        """The cost in USD of all recorded replies."""
        return sum(cost_of(usage, name) for name, usage in self._usage.items())

    def by_model(self) -> dict[str, Usage]:
        """Usage per priced (table) model name, sorted by name."""
        return {name: self._usage[name] for name in sorted(self._usage)}

    def report(self) -> str:
        """A plain-text table: a header, one row per model sorted by name, then a `total` row."""
        header = ("model", "calls", "input_tokens", "output_tokens", "cost")
        rows: list[tuple[str, ...]] = [header]
        for name in sorted(self._usage):
            usage = self._usage[name]
            rows.append(
                (
                    name,
                    str(self._calls[name]),
                    str(usage.input_tokens),
                    str(usage.output_tokens),
                    f"{cost_of(usage, name):.4f}",
                )
            )
        total = self.total
        rows.append(
            (
                "total",
                str(self.calls),
                str(total.input_tokens),
                str(total.output_tokens),
                f"{self.total_cost:.4f}",
            )
        )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = []
        for row in rows:
            cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)


def openai_stream_usage(
    client: openai.OpenAI,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 256,
) -> tuple[str, Usage]:
    """Stream one reply with usage included; return the full text and the final chunk's usage."""
    sent = cast("list[ChatCompletionMessageParam]", list(messages))
    stream = client.chat.completions.create(
        model=model,
        messages=sent,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    usage: Usage | None = None
    with stream:
        for chunk in stream:
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    parts.append(text)
            if chunk.usage is not None:
                usage = usage_of(chunk)
    if usage is None:
        raise ValueError("the stream ended without a usage chunk (was include_usage sent?)")
    return "".join(parts), usage
