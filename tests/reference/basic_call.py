"""Exercise 1: Basic Call (reference solution).

Practises one request/response round trip with each SDK (course module, Key Concepts
"1. API Architecture" and "2. Request Parameters"). Grade it with `nox -s grade -- basic_call`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anthropic
import openai

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
"""The model an OpenAI call uses when the caller names none."""

DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
"""The model an Anthropic call uses when the caller names none."""


def ask_openai(
    client: openai.OpenAI,
    prompt: str,
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 100,
    system: str | None = None,
) -> str:
    """Send one Chat Completions request and return the reply's text."""
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)
    if not response.choices:
        return ""
    return response.choices[0].message.content or ""


def ask_anthropic(
    client: anthropic.Anthropic,
    prompt: str,
    *,
    model: str = DEFAULT_ANTHROPIC_MODEL,
    max_tokens: int = 100,
    system: str | None = None,
) -> str:
    """Send one Messages request and return the text of all its `text` blocks, in order."""
    response = client.messages.create(
        model=model,
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": prompt}],
        system=system if system else anthropic.omit,
    )
    return "".join(block.text for block in response.content if block.type == "text")
