"""Exercise 2: Temperature Experiment (reference solution).

Practises the `temperature` request parameter (course module, Key Concepts "2. Request
Parameters"). Grade it with `nox -s grade -- temperature`.
"""

from __future__ import annotations

from collections.abc import Sequence

import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = ["DEFAULT_ANTHROPIC_MODEL", "DEFAULT_OPENAI_MODEL", "compare_temperatures", "sample_completions"]

_MIN_TEMPERATURE = 0.0
_MAX_TEMPERATURE = 2.0


def _check_temperature(temperature: float) -> None:
    # Written as a positive test so that NaN is rejected too.
    if not (_MIN_TEMPERATURE <= temperature <= _MAX_TEMPERATURE):
        raise ValueError(
            f"temperature {temperature!r} is out of range: use a value from {_MIN_TEMPERATURE} to {_MAX_TEMPERATURE}"
        )


def compare_temperatures(
    client: openai.OpenAI,
    prompt: str,
    temperatures: Sequence[float] = (0.0, 1.0),
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 100,
) -> dict[float, str]:
    """Ask the same prompt once per temperature; return `{temperature: text}` in the given order."""
    temps = list(temperatures)
    if not temps:
        raise ValueError("temperatures is empty: give at least one temperature")
    for temperature in temps:
        _check_temperature(temperature)
    if len(set(temps)) != len(temps):
        raise ValueError(f"temperatures {temps!r} contain duplicates: each value may appear once")

    results: dict[float, str] = {}
    for temperature in temps:
        response = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            temperature=temperature,
        )
        results[temperature] = (response.choices[0].message.content or "") if response.choices else ""
    return results


def sample_completions(
    client: openai.OpenAI,
    prompt: str,
    *,
    temperature: float,
    n: int = 3,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 100,
) -> list[str]:
    """Ask for `n` choices in one request; return their texts ordered by choice index."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n!r}")
    _check_temperature(temperature)
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=temperature,
        n=n,
    )
    choices = sorted(response.choices, key=lambda choice: choice.index)
    return [choice.message.content or "" for choice in choices]
