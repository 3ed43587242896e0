"""Correct submissions in other styles than the reference: each must score full marks.

Each variant is the reference solution (`tests/reference/`) with text edits that the contract
(`shared/exercises.md`) allows; a check that fails one of them is unfair to correct code.
"""
# ruff: noqa: E501  (edits quote whole source lines of the reference)

from __future__ import annotations

from tests.wrong.catalogue import Mutant


def variant(exercise: str, name: str, description: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(exercise, name, description, (), tuple(edits))


VARIANTS = (
    variant(
        "error_handler",
        "skips_zero_sleep",
        "does not call sleep(0) when the delay is 0 (nothing observable differs)",
        ("            time.sleep(delay)\n", "            if delay > 0:\n                time.sleep(delay)\n"),
    ),
    variant(
        "basic_call",
        "openai_sends_default_temperature",
        "ask_openai sends temperature=1, the API's default, which the exercise does not ask about",
        ("create(model=model, messages=messages, max_tokens=max_tokens)", "create(model=model, messages=messages, max_tokens=max_tokens, temperature=1)"),
    ),
    variant(
        "streaming_chat",
        "newline_without_its_own_flush",
        "chat_loop flushes every delta, then writes the closing newline without a flush of its own",
        ('        stream_out.write("\\n")\n        stream_out.flush()\n', '        stream_out.write("\\n")\n'),
    ),
    variant(
        "providers",
        "with_options",
        "chat calls the API through client.with_options(...)",
        ("        completion = openai_client.chat.completions.create(", "        completion = openai_client.with_options(timeout=60.0).chat.completions.create("),
        ("    message = anthropic_client.messages.create(", "    message = anthropic_client.with_options(timeout=60.0).messages.create("),
    ),
    variant(
        "providers",
        "with_raw_response",
        "chat calls the API through with_raw_response and parses the reply itself",
        (
            "        completion = openai_client.chat.completions.create(\n            model=model or DEFAULT_OPENAI_MODEL,\n            messages=cast(\"list[ChatCompletionMessageParam]\", list(messages)),\n            max_tokens=max_tokens,\n        )",
            "        completion = openai_client.chat.completions.with_raw_response.create(\n            model=model or DEFAULT_OPENAI_MODEL,\n            messages=cast(\"list[ChatCompletionMessageParam]\", list(messages)),\n            max_tokens=max_tokens,\n        ).parse()",
        ),
    ),
)
