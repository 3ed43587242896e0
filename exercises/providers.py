"""Exercise 7: Providers.

What you practise: switching between OpenAI and Anthropic behind one interface, translating
OpenAI-style messages into Anthropic's shape, and falling back to the next provider when one
fails. Course module: "AI Applications: Why This Matters", point 5 "Multi-Provider", and Key
Concepts "4. Error Handling".

Grade this exercise with `nox -s grade -- providers`.

Provider names are exactly `"openai"` and `"anthropic"`. The differences to bridge:
- OpenAI takes `system` messages inside `messages`; Anthropic takes the system prompt only as the
  `system=` parameter and `messages` of `user`/`assistant` turns.
- OpenAI's text is `choices[0].message.content`; Anthropic's is the concatenation of the `text`
  blocks of `content`.
- Both replies carry the model that actually answered in `response.model` (often a dated id).

`model=None` means the provider's default model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from .token_counter import Usage

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "AllProvidersFailedError",
    "ChatReply",
    "chat",
    "chat_with_fallback",
]


@dataclass(frozen=True)
class ChatReply:
    """One reply, whichever provider gave it."""

    provider: str
    model: str
    text: str
    usage: Usage


class AllProvidersFailedError(Exception):
    """Every route of `chat_with_fallback` failed; `errors` holds `(provider, error)` in order."""

    def __init__(self, errors: Sequence[tuple[str, BaseException]]) -> None:
        self.errors: list[tuple[str, BaseException]] = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        if not self.errors:
            return "all providers failed (no provider was tried)"
        failures = "; ".join(f"{provider}: {type(error).__name__}: {error}" for provider, error in self.errors)
        return f"all providers failed ({len(self.errors)} tried): {failures}"


def chat(
    provider: str,
    client: openai.OpenAI | anthropic.Anthropic,
    messages: list[dict[str, Any]],
    *,
    model: str | None = None,
    max_tokens: int = 256,
) -> ChatReply:
    """Send OpenAI-style `messages` to `provider` through `client` and return a `ChatReply`.

    - `"openai"`: one `client.chat.completions.create(model=..., messages=messages,
      max_tokens=...)`; the text is the first choice's content (`""` when `None`).
    - `"anthropic"`: one `client.messages.create(model=..., max_tokens=..., messages=...)`
      where the contents of every `system` message, joined with a blank line (`"\\n\\n"`), go
      in the `system=` parameter (left out when there are none) and `messages=` holds the other
      messages in their order. The text is the concatenation of the `text` blocks.
    The caller's `messages` list is never changed (build new lists for the request).
    `model` defaults to `DEFAULT_OPENAI_MODEL` or `DEFAULT_ANTHROPIC_MODEL`.

    Returns `ChatReply(provider, response.model, text, usage_of(response))`, with `usage_of`
    from exercise 3 (`from .token_counter import usage_of`; Anthropic's cache tokens included). Raises `ValueError` for an unknown
    provider before sending anything; SDK errors propagate.
    """
    raise NotImplementedError("chat: your code here")


def chat_with_fallback(
    routes: Sequence[tuple[str, object]],
    messages: list[dict[str, Any]],
    *,
    max_tokens: int = 256,
) -> ChatReply:
    """Try each `(provider, client)` route in order with `chat`; return the first reply.

    Raises `ValueError` before anything is sent when `routes` is empty; a route naming an unknown
    provider raises `ValueError` no later than its turn, before it sends anything. An SDK error (`openai.APIError` or `anthropic.APIError`: any status, connection
    or timeout) moves on to the next route; any other exception propagates at once. When every
    route fails, raises `AllProvidersFailedError(errors)` with each `(provider, error)` in order,
    chained from the last error (`raise ... from last_error`).
    """
    raise NotImplementedError("chat_with_fallback: your code here")
