# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise streaming_chat."""

from tests.wrong.catalogue import Mutant

_WRITE_DELTA = (
    "                stream_out.write(delta)\n                stream_out.flush()\n                parts.append(delta)\n"
)
_ON_ERROR = "            stream_out.flush()\n            continue\n"

MUTANTS = (
    Mutant(
        "streaming_chat",
        "buffers_openai_stream",
        "reads the whole OpenAI stream with list(stream) before yielding anything",
        (
            # nothing is yielded before a stream breaks, so what arrived is never written either
            "test_hidden.py::test_openai_error_event_midway",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_public.py::test_stream_openai_yields_as_it_streams",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
        ),
        (("        for chunk in stream:\n", "        for chunk in list(stream):\n"),),
    ),
    Mutant(
        "streaming_chat",
        "buffers_anthropic_stream",
        "waits for the final Anthropic message, then yields its text in one piece",
        (
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_stream_anthropic_yields_only_text",
            "test_public.py::test_stream_anthropic_yields_as_it_streams",
        ),
        (
            (
                '    with stream:\n        for event in stream:\n            if event.type == "content_block_delta" and event.delta.type == "text_delta" and event.delta.text:\n                yield event.delta.text\n',
                '    with stream:\n        texts = [e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"]\n    if "".join(texts):\n        yield "".join(texts)\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "yields_empty_deltas",
        "yields the empty content of the role chunk (only None is skipped)",
        (
            "test_public.py::test_stream_openai_yields_as_it_streams",
            "test_hidden.py::test_stream_openai_leaves_messages_as_given",
            "test_hidden.py::test_stream_openai_yields_only_text",
        ),
        (
            (
                "            if text:\n                yield text\n",
                "            if text is not None:\n                yield text\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "yields_none_deltas",
        "yields every delta's content, None and empty strings included",
        (
            "test_public.py::test_chat_loop_keeps_history_across_turns",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_public.py::test_stream_openai_yields_as_it_streams",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
            "test_hidden.py::test_stream_openai_leaves_messages_as_given",
            "test_hidden.py::test_stream_openai_yields_only_text",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (("            if text:\n                yield text\n", "            yield text\n"),),
    ),
    Mutant(
        "streaming_chat",
        "yields_non_text_deltas",
        "yields thinking and tool-input deltas as if they were text",
        ("test_hidden.py::test_stream_anthropic_yields_only_text",),
        (
            (
                '            if event.type == "content_block_delta" and event.delta.type == "text_delta" and event.delta.text:\n                yield event.delta.text\n',
                '            if event.type == "content_block_delta":\n                piece = getattr(event.delta, "text", None) or getattr(event.delta, "thinking", None) or getattr(event.delta, "partial_json", None)\n                if piece:\n                    yield piece\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "keeps_partial_reply",
        "appends the partial reply of a broken stream to the history",
        (
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        (
            (
                _ON_ERROR,
                '            stream_out.flush()\n            history.append({"role": "assistant", "content": "".join(parts)})\n            continue\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "drops_user_message_after_break",
        "removes the user message of a turn whose stream broke",
        (
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        ((_ON_ERROR, "            stream_out.flush()\n            history.pop()\n            continue\n"),),
    ),
    Mutant(
        "streaming_chat",
        "no_interruption_line",
        "says nothing when a stream breaks (no '[stream interrupted' line)",
        (
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_openai_error_event_midway",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        (
            (
                '            stream_out.write(f"{prefix}{_INTERRUPTED_MARKER}: {type(error).__name__}]\\n")\n',
                "            stream_out.write(prefix)\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "anthropic_system_as_message",
        "sends the Anthropic system prompt as a message instead of the system parameter",
        ("test_hidden.py::test_system_prompt_every_turn_anthropic",),
        (
            (
                '        messages=cast("list[MessageParam]", list(messages)),\n        system=system if system else anthropic.omit,\n',
                '        messages=cast("list[MessageParam]", ([{"role": "system", "content": system}] if system else []) + list(messages)),\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "system_in_history",
        "puts the system prompt at the start of the returned history",
        (
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (
            (
                "    history: list[dict[str, Any]] = []\n",
                '    history: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "system_on_first_turn_only",
        "sends the system prompt on the first turn only",
        (
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (
            (
                '        if provider == "openai":\n            deltas = stream_openai(',
                '        system = system if len(history) == 1 else None\n        if provider == "openai":\n            deltas = stream_openai(',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "never_flushes",
        "writes the deltas to out but never flushes it",
        ("test_public.py::test_chat_loop_writes_and_flushes_each_delta",),
        (
            (_WRITE_DELTA, "                stream_out.write(delta)\n                parts.append(delta)\n"),
            (_ON_ERROR, "            continue\n"),
            ('        stream_out.write("\\n")\n        stream_out.flush()\n', '        stream_out.write("\\n")\n'),
        ),
    ),
    Mutant(
        "streaming_chat",
        "writes_reply_at_the_end",
        "collects the reply and writes it to out only when the stream has ended",
        (
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_openai_error_event_midway",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
        ),
        (
            (_WRITE_DELTA, "                parts.append(delta)\n"),
            ('        stream_out.write("\\n")\n', '        stream_out.write("".join(parts) + "\\n")\n'),
        ),
    ),
    Mutant(
        "streaming_chat",
        "stops_after_first_turn",
        "answers the first input line only",
        (
            "test_public.py::test_chat_loop_keeps_history_across_turns",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (("    for line in inputs:\n", "    for line in list(inputs)[:1]:\n"),),
    ),
    Mutant(
        "streaming_chat",
        "quit_not_stripped",
        "stops only at a line that is exactly '/quit' (surrounding whitespace not ignored)",
        ("test_hidden.py::test_quit_stops_the_session",),
        (('        if line.strip() == "/quit":\n', '        if line == "/quit":\n'),),
    ),
    Mutant(
        "streaming_chat",
        "empty_system_sent",
        "sends system='' as a system prompt (a system message for openai, system='' for anthropic)",
        (
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_empty_system_prompt_anthropic",
        ),
        (
            ('    if system:\n        sent.append({"role": "system", "content": system})', '    if system is not None:\n        sent.append({"role": "system", "content": system})'),
            ("        system=system if system else anthropic.omit,", "        system=system if system is not None else anthropic.omit,"),
        ),
    ),
    Mutant(
        "streaming_chat",
        "out_bound_at_import",
        "writes to a private default stream instead of sys.stdout when out is None",
        ("test_hidden.py::test_empty_system_prompt_and_stdout_openai",),
        (("    stream_out: TextIO = out if out is not None else sys.stdout", "    stream_out: TextIO = out if out is not None else sys.stderr"),),
    ),
    Mutant(
        "streaming_chat",
        "provider_case_folded",
        "accepts provider names in any case and with surrounding spaces",
        ("test_hidden.py::test_provider_names_are_exact",),
        (("    if provider not in _PROVIDERS:", "    provider = provider.strip().lower() or 'openai'\n    if provider not in _PROVIDERS:"),),
    ),
    Mutant(
        "streaming_chat",
        "first_delta_outside_try",
        "reads the first delta outside the try: a stream failing before it crashes the session",
        (
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        (
            (
                "        parts: list[str] = []\n        try:\n",
                "        deltas = iter(deltas)\n        parts: list[str] = [next(deltas)]\n"
                "        stream_out.write(parts[0])\n        stream_out.flush()\n        try:\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "catches_only_api_errors",
        "interrupts a reply only for the SDKs' and httpx2's errors, not for any Exception",
        ("test_hidden.py::test_any_exception_interrupts_the_reply",),
        (
            (
                "        except Exception as error:",
                '        except (openai.APIError, anthropic.APIError, __import__("httpx2").HTTPError) as error:',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "anthropic_yields_empty_text_deltas",
        "yields every text_delta's text, empty ones included",
        ("test_hidden.py::test_stream_anthropic_yields_only_text",),
        (
            (
                ' and event.delta.type == "text_delta" and event.delta.text:',
                ' and event.delta.type == "text_delta":',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "stops_at_any_command",
        "stops at any line starting with '/' (a '/help' too), not only at '/quit'",
        (
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_quit_stops_the_session",
        ),
        (('        if line.strip() == "/quit":', '        if line.strip().startswith("/"):'),),
    ),
    Mutant(
        "streaming_chat",
        "provider_compared_with_is",
        "compares the provider name with `is`: only the default's own string object is taken for 'openai'",
        # the other openai checks use the default; this one names the provider, as a caller may
        ("test_hidden.py::test_system_prompt_every_turn_openai",),
        (('        if provider == "openai":\n            deltas = stream_openai(', '        if provider is "openai":  # noqa: F632\n            deltas = stream_openai('),),
    ),
    Mutant(
        "streaming_chat",
        "quit_prefix_stops",
        "chat_loop stops at any line that starts with /quit, not only at the line /quit",
        ("test_hidden.py::test_only_the_quit_line_stops",),
        (('        if line.strip() == "/quit":', '        if line.strip().startswith("/quit"):'),),
    ),
    Mutant(
        "streaming_chat",
        "stdout_bound_at_import",
        "chat_loop's default out is the sys.stdout of the moment the module was imported",
        ("test_hidden.py::test_empty_system_prompt_and_stdout_openai",),
        (
            (
                '_INTERRUPTED_MARKER = "[stream interrupted"\n',
                '_INTERRUPTED_MARKER = "[stream interrupted"\n_STDOUT = sys.stdout\n',
            ),
            (
                "    stream_out: TextIO = out if out is not None else sys.stdout\n",
                "    stream_out: TextIO = out if out is not None else _STDOUT\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "stream_openai_inserts_system_into_callers_list",
        "stream_openai inserts the system message into the caller's messages list and sends that list",
        ("test_hidden.py::test_stream_openai_leaves_messages_as_given",),
        (
            (
                "    sent: list[ChatCompletionMessageParam] = []\n"
                "    if system:\n"
                '        sent.append({"role": "system", "content": system})\n'
                '    sent.extend(cast("list[ChatCompletionMessageParam]", messages))\n',
                "    if system:\n"
                '        messages.insert(0, {"role": "system", "content": system})\n'
                '    sent = cast("list[ChatCompletionMessageParam]", messages)\n',
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "stream_openai_system_last",
        "stream_openai sends the system message after the conversation instead of first",
        (
            "test_hidden.py::test_stream_openai_leaves_messages_as_given",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (
            (
                "    sent: list[ChatCompletionMessageParam] = []\n    if system:\n        sent.append({\"role\": \"system\", \"content\": system})\n    sent.extend(cast(\"list[ChatCompletionMessageParam]\", messages))\n",
                "    sent: list[ChatCompletionMessageParam] = list(cast(\"list[ChatCompletionMessageParam]\", messages))\n    if system:\n        sent.append({\"role\": \"system\", \"content\": system})\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "no_newline_after_reply",
        "chat_loop does not end a reply with a newline",
        (
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        (
            (
                "        stream_out.write(\"\\n\")\n        stream_out.flush()\n        history.append",
                "        stream_out.flush()\n        history.append",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "stops_after_a_broken_stream",
        "chat_loop ends the session when a stream breaks instead of going on with the next input",
        (
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
        ),
        (
            (
                "            stream_out.flush()\n            continue\n",
                "            stream_out.flush()\n            break\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "anthropic_sends_last_turn_only",
        "stream_anthropic sends only the last turn of messages instead of all of them as given",
        (
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
        ),
        (
            (
                "        messages=cast(\"list[MessageParam]\", list(messages)),\n        system=system if system else anthropic.omit,\n        stream=True,",
                "        messages=cast(\"list[MessageParam]\", list(messages)[-1:]),\n        system=system if system else anthropic.omit,\n        stream=True,",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "streams_only_the_new_line",
        "chat_loop streams the reply to the new user message alone instead of the history",
        (
            "test_public.py::test_chat_loop_keeps_history_across_turns",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_public.py::test_chat_loop_writes_and_flushes_each_delta",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_stream_failing_before_first_delta",
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (
            (
                "        sent = [dict(message) for message in history]  # a snapshot: later turns must not alter it\n",
                "        sent = [dict(history[-1])]\n",
            ),
        ),
    ),
    Mutant(
        "streaming_chat",
        "returns_pairs",
        "chat_loop returns (role, content) pairs instead of message dicts",
        (
            "test_public.py::test_chat_loop_keeps_history_across_turns",
            "test_public.py::test_chat_loop_survives_a_broken_stream",
            "test_hidden.py::test_anthropic_broken_stream_and_error_event",
            "test_hidden.py::test_any_exception_interrupts_the_reply",
            "test_hidden.py::test_empty_system_prompt_and_stdout_openai",
            "test_hidden.py::test_empty_system_prompt_anthropic",
            "test_hidden.py::test_only_the_quit_line_stops",
            "test_hidden.py::test_openai_error_event_midway",
            "test_hidden.py::test_quit_stops_the_session",
            "test_hidden.py::test_stream_failing_before_first_delta",
            "test_hidden.py::test_system_prompt_every_turn_anthropic",
            "test_hidden.py::test_system_prompt_every_turn_openai",
        ),
        (
            (
                "    return history\n",
                "    return [(m[\"role\"], m[\"content\"]) for m in history]  # type: ignore[misc]\n",
            ),
        ),
    ),
)
