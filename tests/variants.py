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
    # The choices the contract leaves open (issue 21): each reading is in use by correct submissions.
    variant(
        "basic_call",
        "max_completion_tokens",
        "ask_openai sends the limit as max_completion_tokens, which OpenAI takes as max_tokens",
        ("create(model=model, messages=messages, max_tokens=max_tokens)", "create(model=model, messages=messages, max_completion_tokens=max_tokens)"),
    ),
    variant(
        "basic_call",
        "not_given_system",
        "ask_anthropic leaves the system prompt out with anthropic.NOT_GIVEN instead of anthropic.omit",
        ("        system=system if system else anthropic.omit,", "        system=system if system else anthropic.NOT_GIVEN,"),
    ),
    variant(
        "streaming_chat",
        "anthropic_stream_helper",
        "stream_anthropic uses the SDK's messages.stream(...) helper and its text_stream",
        (
            "    stream = client.messages.create(\n"
            "        model=model,\n"
            "        max_tokens=max_tokens,\n"
            '        messages=cast("list[MessageParam]", list(messages)),\n'
            "        system=system if system else anthropic.omit,\n"
            "        stream=True,\n"
            "    )\n"
            "    with stream:\n"
            "        for event in stream:\n"
            '            if event.type == "content_block_delta" and event.delta.type == "text_delta" and event.delta.text:\n'
            "                yield event.delta.text\n",
            "    with client.messages.stream(\n"
            "        model=model,\n"
            "        max_tokens=max_tokens,\n"
            '        messages=cast("list[MessageParam]", list(messages)),\n'
            "        system=system if system else anthropic.NOT_GIVEN,\n"
            "    ) as stream:\n"
            "        for text in stream.text_stream:\n"
            "            if text:\n"
            "                yield text\n",
        ),
    ),
    variant(
        "streaming_chat",
        "openai_stream_helper",
        "stream_openai uses the SDK's chat.completions.stream(...) helper and its content.delta events",
        (
            "    stream = client.chat.completions.create(model=model, messages=sent, max_tokens=max_tokens, stream=True)\n"
            "    with stream:\n"
            "        for chunk in stream:\n"
            "            if not chunk.choices:\n"
            "                continue\n"
            "            text = chunk.choices[0].delta.content\n"
            "            if text:\n"
            "                yield text\n",
            "    with client.chat.completions.stream(model=model, messages=sent, max_tokens=max_tokens) as stream:\n"
            "        for event in stream:\n"
            '            if event.type == "content.delta" and event.delta:\n'
            "                yield event.delta\n",
        ),
    ),
    variant(
        "streaming_chat",
        "marker_always_on_a_new_line",
        "chat_loop starts the interruption line with a newline even when nothing arrived (a blank line before it)",
        ('            prefix = "\\n" if parts else ""\n', '            prefix = "\\n"\n'),
    ),
    variant(
        "token_counter",
        "report_without_header",
        "report() has no header row: the model rows, then the total row",
        ("        rows: list[tuple[str, ...]] = [header]\n", "        rows: list[tuple[str, ...]] = []\n"),
        ("        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]\n", "        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]\n"),
    ),
    variant(
        "error_handler",
        "no_jitter",
        "backoff_delay waits the whole e = min(max_delay, base_delay * 2**n), without jitter",
        ("    return random.uniform(ceiling / 2, ceiling)\n", "    return ceiling\n"),
    ),
    variant(
        "error_handler",
        "from_time_import_sleep",
        "call_with_retry sleeps with `from time import sleep`",
        ("import time\n", "import time\nfrom time import sleep\n"),
        ("            time.sleep(delay)\n", "            sleep(delay)\n"),
    ),
)
