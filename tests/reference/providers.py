"""Exercise 7: Providers (reference solution).

Practises switching between OpenAI and Anthropic behind one interface, and falling back from
one provider to the next (course module, "AI Applications: Why This Matters", point 5
"Multi-Provider", and Key Concepts "4. Error Handling"). Grade it with `nox -s grade -- providers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import anthropic
import openai

from .token_counter import Usage, usage_of

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from openai.types.chat import ChatCompletionMessageParam

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


_PROVIDERS = ("openai", "anthropic")


def _check_provider(provider: str) -> None:
    if provider not in _PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}: use 'openai' or 'anthropic'")


def _text_of(content: object) -> str:
    """The text of a message's content: a string, or a list of OpenAI-style content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return "" if content is None else str(content)


def chat(
    provider: str,
    client: openai.OpenAI | anthropic.Anthropic,
    messages: list[dict[str, Any]],
    *,
    model: str | None = None,
    max_tokens: int = 256,
) -> ChatReply:
    """Send OpenAI-style `messages` to `provider` through `client`; return a `ChatReply`."""
    _check_provider(provider)
    if provider == "openai":
        openai_client = cast(openai.OpenAI, client)
        completion = openai_client.chat.completions.create(
            model=model or DEFAULT_OPENAI_MODEL,
            messages=cast("list[ChatCompletionMessageParam]", list(messages)),
            max_tokens=max_tokens,
        )
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        return ChatReply(provider=provider, model=completion.model, text=text, usage=usage_of(completion))

    anthropic_client = cast(anthropic.Anthropic, client)
    system_parts = [_text_of(m.get("content")) for m in messages if m.get("role") == "system"]
    system = "\n\n".join(part for part in system_parts if part)
    turns = [m for m in messages if m.get("role") != "system"]
    message = anthropic_client.messages.create(
        model=model or DEFAULT_ANTHROPIC_MODEL,
        max_tokens=max_tokens,
        messages=cast("list[MessageParam]", turns),
        system=system if system else anthropic.omit,
    )
    text = "".join(block.text for block in message.content if block.type == "text")
    return ChatReply(provider=provider, model=message.model, text=text, usage=usage_of(message))


def chat_with_fallback(
    routes: Sequence[tuple[str, object]],
    messages: list[dict[str, Any]],
    *,
    max_tokens: int = 256,
) -> ChatReply:
    """Try each `(provider, client)` route in order; return the first reply."""
    routes = list(routes)
    if not routes:
        raise ValueError("routes is empty: give at least one (provider, client) pair")
    for provider, _client in routes:  # a misconfigured route fails before anything is sent
        _check_provider(provider)

    errors: list[tuple[str, BaseException]] = []
    for provider, client in routes:
        try:
            return chat(provider, cast("openai.OpenAI | anthropic.Anthropic", client), messages, max_tokens=max_tokens)
        except (openai.APIError, anthropic.APIError) as error:
            errors.append((provider, error))
    raise AllProvidersFailedError(errors) from errors[-1][1]
