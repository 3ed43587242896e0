"""Exercise 5: Streaming Chat.

What you practise: streaming a reply as it is generated, so the user sees text at once, and a
chat loop that keeps the conversation history and survives a stream that breaks midway. Course
module: "Real-World Patterns" (streaming vs non-streaming; "Need to handle stream errors") and
Key Takeaway 3 "Use streaming for UX".

Grade this exercise with `nox -s grade -- streaming_chat`. The grader releases each event of a
recorded stream only after your generator has yielded the previous text, so a generator that
collects the whole reply before yielding fails.

How each SDK streams:
- OpenAI: `client.chat.completions.create(..., stream=True)` returns an iterable of
  `ChatCompletionChunk`; the text is `chunk.choices[0].delta.content` (may be `None` or `""`,
  and some chunks have no choices at all).
- Anthropic: `client.messages.create(..., stream=True)` returns an iterable of events (or use
  `with client.messages.stream(...) as stream:`); the text comes in events with
  `event.type == "content_block_delta"` whose `event.delta.type == "text_delta"`
  (`event.delta.text`). Other deltas (thinking, tool input) are not text.
- Both streams are context managers: `with stream:` closes the connection when you are done.
- A broken stream raises `openai.APIConnectionError` from OpenAI, but raw `httpx2` errors
  (`httpx2.RemoteProtocolError`, `httpx2.ReadError`) from Anthropic.

When a reply's stream fails, the text that arrived stays written and a new line follows that
starts with `[stream interrupted` (for example `[stream interrupted: ReadError]`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import anthropic
import openai

# Each module defines its own defaults, so a mistake in another exercise never breaks this one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "chat_loop",
    "stream_anthropic",
    "stream_openai",
]


def stream_openai(
    client: openai.OpenAI,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_OPENAI_MODEL,
    max_tokens: int = 256,
    system: str | None = None,
) -> Iterator[str]:
    """Stream a Chat Completions reply, yielding each non-empty text delta as it arrives.

    A generator: call `client.chat.completions.create(model=..., messages=..., max_tokens=...,
    stream=True)` with `messages` as given, preceded by a `{"role": "system", "content": system}`
    message when `system` is given (truthy). Yield each non-empty
    `chunk.choices[0].delta.content` as soon as its chunk arrives, skipping chunks with no
    choices. Never read ahead of what you have yielded. Errors propagate to the caller.
    The caller's `messages` list is never changed (send a new list).
    """
    raise NotImplementedError("stream_openai: your code here")


def stream_anthropic(
    client: anthropic.Anthropic,
    messages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_ANTHROPIC_MODEL,
    max_tokens: int = 256,
    system: str | None = None,
) -> Iterator[str]:
    """Stream a Messages reply, yielding each non-empty `text_delta` text as it arrives.

    A generator: open a Messages stream (`client.messages.create(..., stream=True)` or
    `client.messages.stream(...)`) with `model`, `max_tokens` and `messages` sent as given (they
    hold only `user` and `assistant` turns); `system`, when given (truthy), goes in the `system=`
    parameter, otherwise leave it out. Yield `event.delta.text` of each `content_block_delta`
    event whose delta is a `text_delta` with non-empty text; ignore every other event.
    Errors propagate to the caller.
    """
    raise NotImplementedError("stream_anthropic: your code here")


def chat_loop(
    client: openai.OpenAI | anthropic.Anthropic,
    inputs: Iterable[str],
    *,
    provider: str = "openai",
    out: TextIO | None = None,
    system: str | None = None,
) -> list[dict[str, Any]]:
    """Run a streaming chat session over `inputs`; return the conversation history.

    Raise `ValueError` before anything is sent unless `provider` is `"openai"` or `"anthropic"`.
    `out` defaults to the `sys.stdout` of the moment of the call (look it up when called).
    For each input line:
    - stop at once when `line.strip() == "/quit"`;
    - append `{"role": "user", "content": line}` to the history;
    - stream the reply to the whole history with `stream_openai` or `stream_anthropic`
      (passing `system` on every turn: the history itself never holds a system message);
    - write each delta to `out` as it arrives and `out.flush()`; end the reply with `"\\n"`;
    - append `{"role": "assistant", "content": <the whole reply>}` to the history.
    When any `Exception` is raised while the reply streams (before or after the first delta),
    write a line starting `[stream interrupted` (on its own line, after what already arrived),
    keep the user message but add no assistant message, and go on with the next input.

    Returns the history: `[{"role": ..., "content": ...}, ...]`.
    """
    raise NotImplementedError("chat_loop: your code here")
