"""Exercise 5: Streaming Chat (reference solution).

Practises streaming replies token by token and a chat loop that survives a broken stream (course
module, "Real-World Patterns": streaming vs non-streaming, and Key Takeaway 3 "Use streaming for
UX"). Grade it with `nox -s grade -- streaming_chat`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, cast

import anthropic
import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from openai.types.chat import ChatCompletionMessageParam

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "chat_loop",
    "stream_anthropic",
    "stream_openai",
]

_INTERRUPTED_MARKER = "[stream interrupted"
"""How the line that reports a broken stream starts."""

_PROVIDERS = ("openai", "anthropic")


def stream_openai(
    client: openai.OpenAI,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 256,
    system: str | None = None,
) -> Iterator[str]:
    """Stream a Chat Completions reply, yielding each non-empty text delta as it arrives."""
    sent: list[ChatCompletionMessageParam] = []
    if system:
        sent.append({"role": "system", "content": system})
    sent.extend(cast("list[ChatCompletionMessageParam]", messages))
    stream = client.chat.completions.create(model=model, messages=sent, max_tokens=max_tokens, stream=True)
    with stream:
        for chunk in stream:
            if not chunk.choices:
                continue
            text = chunk.choices[0].delta.content
            if text:
                yield text


def stream_anthropic(
    client: anthropic.Anthropic,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_ANTHROPIC_MODEL,
    max_tokens: int = 256,
    system: str | None = None,
) -> Iterator[str]:
    """Stream a Messages reply, yielding the text of each non-empty `text_delta` as it arrives."""
    stream = client.messages.create(
        model=model,
        max_tokens=max_tokens,
        messages=cast("list[MessageParam]", list(messages)),
        system=system if system else anthropic.omit,
        stream=True,
    )
    with stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta" and event.delta.text:
                yield event.delta.text


def chat_loop(
    client: openai.OpenAI | anthropic.Anthropic,
    inputs: Iterable[str],
    *,
    provider: str = "openai",
    out: TextIO | None = None,
    system: str | None = None,
) -> list[dict[str, Any]]:
    """Run a streaming chat over `inputs`; return the history of user and assistant messages."""
    if provider not in _PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}: use 'openai' or 'anthropic'")
    stream_out: TextIO = out if out is not None else sys.stdout

    history: list[dict[str, Any]] = []
    for line in inputs:
        if line.strip() == "/quit":
            break
        history.append({"role": "user", "content": line})
        sent = [dict(message) for message in history]  # a snapshot: later turns must not alter it
        if provider == "openai":
            deltas = stream_openai(cast(openai.OpenAI, client), sent, system=system)
        else:
            deltas = stream_anthropic(cast(anthropic.Anthropic, client), sent, system=system)

        parts: list[str] = []
        try:
            for delta in deltas:
                stream_out.write(delta)
                stream_out.flush()
                parts.append(delta)
        except Exception as error:
            # What arrived is already written; end that line, report, and drop the partial reply.
            prefix = "\n" if parts else ""
            stream_out.write(f"{prefix}{_INTERRUPTED_MARKER}: {type(error).__name__}]\n")
            stream_out.flush()
            continue
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()  # release the connection whatever happened
        stream_out.write("\n")
        stream_out.flush()
        history.append({"role": "assistant", "content": "".join(parts)})
    return history
