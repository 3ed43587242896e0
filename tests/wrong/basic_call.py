# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise basic_call."""

from tests.wrong.catalogue import Mutant

MUTANTS = (
    Mutant(
        "basic_call",
        "anthropic_system_as_message",
        "sends the Anthropic system prompt as a message instead of the system parameter",
        ("test_hidden.py::test_ask_anthropic_system_parameter",),
        (
            (
                '        messages=[{"role": "user", "content": prompt}],\n        system=system if system else anthropic.omit,',
                '        messages=([{"role": "system", "content": system}] if system else [])\n'
                '        + [{"role": "user", "content": prompt}],',
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "openai_system_after_user",
        "puts the OpenAI system message after the user message",
        ("test_hidden.py::test_ask_openai_system_message_first",),
        (
            (
                '    if system:\n        messages.append({"role": "system", "content": system})\n'
                '    messages.append({"role": "user", "content": prompt})',
                '    messages.append({"role": "user", "content": prompt})\n'
                '    if system:\n        messages.append({"role": "system", "content": system})',
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "first_text_block_only",
        "returns only the first content block's text instead of joining every text block",
        (
            "test_hidden.py::test_ask_anthropic_joins_text_blocks",
            "test_hidden.py::test_reply_text_returned_as_sent",
        ),
        (
            (
                '    return "".join(block.text for block in response.content if block.type == "text")',
                "    return response.content[0].text  # type: ignore[union-attr]",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "none_content_returned",
        "returns None instead of '' when the OpenAI reply has no content",
        ("test_hidden.py::test_empty_replies_give_empty_string",),
        (
            (
                '    return response.choices[0].message.content or ""',
                "    return response.choices[0].message.content  # type: ignore[return-value]",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "fixed_model_and_limit",
        "ignores the model and max_tokens arguments of ask_openai",
        ("test_hidden.py::test_model_and_max_tokens_passed_through",),
        (
            (
                "create(model=model, messages=messages, max_tokens=max_tokens)",
                'create(model="gpt-4o-mini", messages=messages, max_tokens=100)',
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "two_requests",
        "calls the OpenAI API twice and keeps the second reply",
        (
            "test_public.py::test_ask_openai_returns_reply_text",
            "test_hidden.py::test_ask_openai_system_message_first",
            "test_hidden.py::test_empty_replies_give_empty_string",
            "test_hidden.py::test_exactly_one_request_each",
            "test_hidden.py::test_model_and_max_tokens_passed_through",
            "test_hidden.py::test_reply_text_returned_as_sent",
        ),
        (
            (
                "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n",
                "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n"
                "    try:\n"
                "        response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n"
                "    except Exception:\n"
                "        pass\n",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "openai_empty_system_sent",
        "sends an empty system message when system is ''",
        ("test_hidden.py::test_ask_openai_system_message_first",),
        (('    if system:\n        messages.append({"role": "system", "content": system})', '    if system is not None:\n        messages.append({"role": "system", "content": system})'),),
    ),
    Mutant(
        "basic_call",
        "anthropic_empty_system_sent",
        "sends system='' to Anthropic when system is ''",
        ("test_hidden.py::test_ask_anthropic_system_parameter",),
        (("        system=system if system else anthropic.omit,", "        system=system if system is not None else anthropic.omit,"),),
    ),
    Mutant(
        "basic_call",
        "text_blocks_by_ordering",
        "selects blocks whose type sorts at or before 'text' instead of exactly 'text'",
        ("test_hidden.py::test_ask_anthropic_joins_text_blocks",),
        (
            (
                '    return "".join(block.text for block in response.content if block.type == "text")',
                '    return "".join(block.text for block in response.content if block.type <= "text")  # type: ignore[union-attr]',
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "openai_sends_temperature",
        "ask_openai sends temperature=0.7, which the exercise does not ask for (temperature=1, the API's default, is fine)",
        (
            "test_public.py::test_ask_openai_returns_reply_text",
            "test_hidden.py::test_ask_openai_system_message_first",
            "test_hidden.py::test_empty_replies_give_empty_string",
            "test_hidden.py::test_exactly_one_request_each",
            "test_hidden.py::test_model_and_max_tokens_passed_through",
            "test_hidden.py::test_reply_text_returned_as_sent",
        ),
        (
            (
                "create(model=model, messages=messages, max_tokens=max_tokens)",
                "create(model=model, messages=messages, max_tokens=max_tokens, temperature=0.7)",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "openai_reply_stripped",
        "ask_openai strips whitespace from the reply's text instead of returning it as the API sent it",
        ("test_hidden.py::test_reply_text_returned_as_sent",),
        (('    return response.choices[0].message.content or ""', '    return (response.choices[0].message.content or "").strip()'),),
    ),
    Mutant(
        "basic_call",
        "anthropic_reply_stripped",
        "ask_anthropic strips whitespace from the joined text of the reply",
        ("test_hidden.py::test_reply_text_returned_as_sent",),
        (
            (
                '    return "".join(block.text for block in response.content if block.type == "text")',
                '    return "".join(block.text for block in response.content if block.type == "text").strip()',
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "anthropic_fixed_model",
        "ask_anthropic ignores its model argument and always asks the default model",
        ("test_hidden.py::test_model_and_max_tokens_passed_through",),
        (
            (
                "        model=model,\n        max_tokens=max_tokens,\n        messages=[{\"role\": \"user\", \"content\": prompt}],",
                "        model=DEFAULT_ANTHROPIC_MODEL,\n        max_tokens=max_tokens,\n        messages=[{\"role\": \"user\", \"content\": prompt}],",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "anthropic_two_requests",
        "ask_anthropic sends its request twice and keeps the second reply",
        (
            "test_public.py::test_ask_anthropic_returns_reply_text",
            "test_hidden.py::test_ask_anthropic_joins_text_blocks",
            "test_hidden.py::test_ask_anthropic_system_parameter",
            "test_hidden.py::test_empty_replies_give_empty_string",
            "test_hidden.py::test_exactly_one_request_each",
            "test_hidden.py::test_model_and_max_tokens_passed_through",
            "test_hidden.py::test_reply_text_returned_as_sent",
        ),
        (
            (
                "    response = client.messages.create(\n",
                "    client.messages.create(\n        model=model,\n        max_tokens=max_tokens,\n        messages=[{\"role\": \"user\", \"content\": prompt}],\n        system=system if system else anthropic.omit,\n    )\n    response = client.messages.create(\n",
            ),
        ),
    ),
    Mutant(
        "basic_call",
        "openai_default_model_changed",
        "ask_openai defaults to gpt-4o instead of DEFAULT_OPENAI_MODEL",
        (
            "test_public.py::test_ask_openai_returns_reply_text",
            "test_hidden.py::test_ask_openai_system_message_first",
            "test_hidden.py::test_empty_replies_give_empty_string",
            "test_hidden.py::test_exactly_one_request_each",
            "test_hidden.py::test_reply_text_returned_as_sent",
        ),
        (
            (
                "    client: openai.OpenAI,\n    prompt: str,\n    *,\n    model: str = DEFAULT_OPENAI_MODEL,",
                "    client: openai.OpenAI,\n    prompt: str,\n    *,\n    model: str = \"gpt-4o\",",
            ),
        ),
    ),
)
