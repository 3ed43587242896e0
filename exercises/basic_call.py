"""Exercise 1: Basic Call.

What you practise: one request/response round trip with each official SDK, the shape of a
Chat Completions request (OpenAI) and of a Messages request (Anthropic), and reading the text out
of the reply object. Course module: Key Concepts "1. API Architecture" (the request/response flow)
and "2. Request Parameters" (`model`, `messages`, `max_tokens`).

The client is handed to you (dependency injection): never build one here, never read a key here.
The grader passes clients whose traffic it replays from recorded cassettes, so no key, no network
and no money are needed.

Grade this exercise with `nox -s grade -- basic_call` (run your code against the real APIs with
`nox -s live -- basic_call`).

Rules that hold for every exercise:
- A parameter that the exercise does not mention is either left out or sent at the API's default.
- An optional `system` that is `None` or `""` counts as not given: send no system prompt at all.
"""

from __future__ import annotations

import anthropic
import openai

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
    """Send one Chat Completions request and return the reply's text.

    Call `client.chat.completions.create(model=..., messages=..., max_tokens=...)` exactly once.
    `messages` is a `{"role": "system", "content": system}` message first when `system` is given
    (truthy), then one `{"role": "user", "content": prompt}` message.

    Returns `response.choices[0].message.content`, or `""` when that content is `None`.
    """
    raise NotImplementedError("ask_openai: your code here")


def ask_anthropic(
    client: anthropic.Anthropic,
    prompt: str,
    *,
    model: str = DEFAULT_ANTHROPIC_MODEL,
    max_tokens: int = 100,
    system: str | None = None,
) -> str:
    """Send one Messages request and return the text of its reply.

    Call `client.messages.create(model=..., max_tokens=..., messages=[...])` exactly once, with one
    `{"role": "user", "content": prompt}` message. Anthropic has no `system` role: when `system` is
    given (truthy) pass it as the `system=` parameter; otherwise leave the parameter out.

    Returns the concatenation, in order, of the `.text` of every block in `response.content`
    whose `.type` is `"text"`; other blocks (thinking, tool use) are skipped, so a reply with
    no text block gives `""`.
    """
    raise NotImplementedError("ask_anthropic: your code here")
