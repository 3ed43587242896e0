"""Exercise 2: Temperature Experiment.

What you practise: the `temperature` request parameter (0 = near-deterministic, higher = more
varied), asking for several choices in one request with `n`, and validating arguments before
spending any tokens. Course module: Key Concepts "2. Request Parameters" and Key Takeaway 5
"Start with low temperature".

Grade this exercise with `nox -s grade -- temperature`.

Valid temperatures are `0.0 <= t <= 2.0` (the OpenAI range). Write the range check as
`0.0 <= t <= 2.0` rather than `t < 0.0 or t > 2.0`, so that NaN is rejected too.
"""

from __future__ import annotations

from collections.abc import Sequence

import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = ["DEFAULT_ANTHROPIC_MODEL", "DEFAULT_OPENAI_MODEL", "compare_temperatures", "sample_completions"]


def compare_temperatures(
    client: openai.OpenAI,
    prompt: str,
    temperatures: Sequence[float] = (0.0, 1.0),
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 100,
) -> dict[float, str]:
    """Ask the same prompt once per temperature and return `{temperature: text}`.

    First validate, before sending anything: raise `ValueError` when `temperatures` is empty,
    when any value is outside `[0.0, 2.0]`, or when two values are equal.

    Then, for each temperature in the given order, call `client.chat.completions.create(...)`
    once with `model`, one `user` message holding `prompt`, `max_tokens` and that
    `temperature`. Returns a dict in the same order mapping each temperature to the first
    choice's text.
    """
    raise NotImplementedError("compare_temperatures: your code here")


def sample_completions(
    client: openai.OpenAI,
    prompt: str,
    *,
    temperature: float,
    n: int = 3,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 100,
) -> list[str]:
    """Ask for `n` choices in one request and return their texts ordered by choice index.

    Raise `ValueError` before sending anything when `n < 1` or `temperature` is outside
    `[0.0, 2.0]`. Then call `client.chat.completions.create(...)` once with `model`, one `user`
    message holding `prompt`, `max_tokens`, `temperature` and `n`.

    The API may list `response.choices` in any order: sort them by `choice.index` and return
    each `choice.message.content`.
    """
    raise NotImplementedError("sample_completions: your code here")
