"""The course's API prices (exercises.md, exercise 3), for the cost that live mode prints."""

from __future__ import annotations

# USD per million tokens, (input, output): the course's published table, not a live price list.
COURSE_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
}


def priced_as(model: str) -> str | None:
    """The table entry a (possibly dated) model id is priced as: the longest key it starts with."""
    candidates = [name for name in COURSE_PRICES if model.startswith(name)]
    return max(candidates, key=len) if candidates else None


def cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call, or None when the course has no price for the model."""
    entry = priced_as(model)
    if entry is None:
        return None
    per_input, per_output = COURSE_PRICES[entry]
    return (input_tokens * per_input + output_tokens * per_output) / 1_000_000
