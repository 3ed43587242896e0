# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise providers."""

from tests.wrong.catalogue import Mutant

MUTANTS = (
    Mutant(
        "providers",
        "anthropic_system_as_message",
        "sends the system prompt to Anthropic as a message instead of the system parameter",
        (
            "test_public.py::test_chat_anthropic_moves_system_messages",
            "test_hidden.py::test_chat_joins_several_system_messages",
        ),
        (
            (
                '    turns = [m for m in messages if m.get("role") != "system"]\n',
                "    turns = list(messages)\n",
            ),
            (
                "        system=system if system else anthropic.omit,\n",
                "",
            ),
        ),
    ),
    Mutant(
        "providers",
        "falls_back_on_value_error",
        "falls back on any exception, a ValueError from a broken client included",
        ("test_hidden.py::test_fallback_other_errors_propagate",),
        (("        except (openai.APIError, anthropic.APIError) as error:", "        except Exception as error:"),),
    ),
    Mutant(
        "providers",
        "loses_earlier_errors",
        "keeps only the last error in AllProvidersFailedError",
        ("test_hidden.py::test_fallback_all_failed_aggregates_every_error",),
        (
            (
                "    raise AllProvidersFailedError(errors) from errors[-1][1]",
                "    raise AllProvidersFailedError(errors[-1:]) from errors[-1][1]",
            ),
        ),
    ),
    Mutant(
        "providers",
        "not_chained",
        "raises AllProvidersFailedError without chaining it from the last error",
        ("test_hidden.py::test_fallback_all_failed_aggregates_every_error",),
        (
            (
                "    raise AllProvidersFailedError(errors) from errors[-1][1]",
                "    raise AllProvidersFailedError(errors)",
            ),
        ),
    ),
    Mutant(
        "providers",
        "reports_requested_model",
        "puts the requested model in ChatReply.model instead of the model the API reports",
        (
            "test_public.py::test_chat_openai_reply",
            "test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",
            "test_hidden.py::test_fallback_after_connection_error_and_timeout",
            "test_hidden.py::test_fallback_any_status_error_falls_through",
        ),
        (
            (
                "        return ChatReply(provider=provider, model=completion.model, text=text, usage=usage_of(completion))",
                "        return ChatReply(provider=provider, model=model or DEFAULT_OPENAI_MODEL, text=text, usage=usage_of(completion))",
            ),
        ),
    ),
    Mutant(
        "providers",
        "system_joined_by_newline",
        "joins several system messages with one newline instead of a blank line",
        ("test_hidden.py::test_chat_joins_several_system_messages",),
        (
            (
                '    system = "\\n\\n".join(part for part in system_parts if part)',
                '    system = "\\n".join(part for part in system_parts if part)',
            ),
        ),
    ),
    Mutant(
        "providers",
        "only_server_errors_fall_through",
        "falls through only on 5xx and 429, so a 401 or 400 stops the fallback",
        ("test_hidden.py::test_fallback_any_status_error_falls_through",),
        (
            (
                "        except (openai.APIError, anthropic.APIError) as error:\n",
                "        except (openai.APIError, anthropic.APIError) as error:\n"
                '            if getattr(error, "status_code", 500) < 500 and getattr(error, "status_code", 500) != 429:\n'
                "                raise\n",
            ),
        ),
    ),
    Mutant(
        "providers",
        "last_route_first",
        "tries the routes from last to first",
        (
            "test_public.py::test_fallback_tries_routes_in_order",
            "test_hidden.py::test_fallback_after_connection_error_and_timeout",
            "test_hidden.py::test_fallback_all_failed_aggregates_every_error",
            "test_hidden.py::test_fallback_other_errors_propagate",
        ),
        (("    for provider, client in routes:\n", "    for provider, client in reversed(routes):\n"),),
    ),
    Mutant(
        "providers",
        "usage_without_cache_tokens",
        "computes ChatReply.usage itself from input and output tokens instead of using usage_of",
        (
            "test_public.py::test_chat_anthropic_moves_system_messages",
            "test_hidden.py::test_chat_joins_several_system_messages",
            "test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",
        ),
        (
            (
                "    return ChatReply(provider=provider, model=message.model, text=text, usage=usage_of(message))",
                "    return ChatReply(provider=provider, model=message.model, text=text, usage=Usage(message.usage.input_tokens, 0))",
            ),
        ),
    ),
    Mutant(
        "providers",
        "errors_keyed_by_provider",
        "keeps one error per provider name, losing a provider tried twice",
        ("test_hidden.py::test_fallback_all_failed_aggregates_every_error",),
        (
            (
                "            errors.append((provider, error))\n    raise AllProvidersFailedError(errors) from errors[-1][1]",
                "            errors.append((provider, error))\n    errors = list(dict(errors).items())\n"
                "    raise AllProvidersFailedError(errors) from errors[-1][1]",
            ),
        ),
    ),
    Mutant(
        "providers",
        "usage_leaves_out_cache_tokens",
        "builds ChatReply.usage from Anthropic's input_tokens alone, leaving out the cache tokens",
        ("test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",),
        (
            (
                "    return ChatReply(provider=provider, model=message.model, text=text, usage=usage_of(message))",
                "    return ChatReply(provider=provider, model=message.model, text=text,\n"
                "                     usage=Usage(message.usage.input_tokens, message.usage.output_tokens))",
            ),
        ),
    ),
    Mutant(
        "providers",
        "none_content_kept",
        "returns None as the text when the OpenAI reply's content is null",
        ("test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",),
        (
            (
                '        text = (completion.choices[0].message.content or "") if completion.choices else ""',
                '        text = completion.choices[0].message.content if completion.choices else ""',
            ),
        ),
    ),
    Mutant(
        "providers",
        "with_options_keeps_sdk_retries",
        "calls the API through client.with_options(max_retries=2), so the SDK retries a failed route itself "
        "(with_options for a timeout is fine)",
        (
            "test_public.py::test_fallback_tries_routes_in_order",
            "test_hidden.py::test_fallback_after_connection_error_and_timeout",
            "test_hidden.py::test_fallback_all_failed_aggregates_every_error",
        ),
        (
            (
                "        completion = openai_client.chat.completions.create(",
                "        completion = openai_client.with_options(max_retries=2).chat.completions.create(",
            ),
            (
                "    message = anthropic_client.messages.create(",
                "    message = anthropic_client.with_options(max_retries=2).messages.create(",
            ),
        ),
    ),
    Mutant(
        "providers",
        "raw_response_not_parsed",
        "calls with_raw_response.create(...) and reads the raw response as if it were the parsed reply",
        (
            "test_public.py::test_chat_openai_reply",
            "test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",
            "test_hidden.py::test_fallback_after_connection_error_and_timeout",
            "test_hidden.py::test_fallback_any_status_error_falls_through",
        ),
        (
            (
                "        completion = openai_client.chat.completions.create(",
                "        completion = openai_client.chat.completions.with_raw_response.create(  # type: ignore[assignment]",
            ),
        ),
    ),
    Mutant(
        "providers",
        "fallback_only_on_status_errors",
        "chat_with_fallback moves on only after an APIStatusError; a connection error or a timeout propagates",
        ("test_hidden.py::test_fallback_after_connection_error_and_timeout",),
        (
            (
                "        except (openai.APIError, anthropic.APIError) as error:",
                "        except (openai.APIStatusError, anthropic.APIStatusError) as error:",
            ),
        ),
    ),
    Mutant(
        "providers",
        "chat_pops_system_messages",
        "chat('anthropic', ...) removes the system messages from the caller's messages list",
        ("test_hidden.py::test_fallback_after_connection_error_and_timeout",),
        (
            (
                '    turns = [m for m in messages if m.get("role") != "system"]\n',
                '    for m in [m for m in messages if m.get("role") == "system"]:\n'
                "        messages.remove(m)\n"
                "    turns = messages\n",
            ),
        ),
    ),
    Mutant(
        "providers",
        "chat_provider_case_folded",
        "chat accepts provider names in any case ('OpenAI')",
        ("test_hidden.py::test_unknown_providers_raise_before_sending",),
        (
            (
                "def _check_provider(provider: str) -> None:\n    if provider not in _PROVIDERS:",
                "def _check_provider(provider: str) -> None:\n    if provider.lower() not in _PROVIDERS:",
            ),
        ),
    ),
    Mutant(
        "providers",
        "empty_routes_allowed",
        "chat_with_fallback with no routes raises AllProvidersFailedError instead of ValueError",
        ("test_hidden.py::test_unknown_providers_raise_before_sending",),
        (
            (
                "    if not routes:\n        raise ValueError(\"routes is empty: give at least one (provider, client) pair\")\n",
                "    if not routes:\n        raise AllProvidersFailedError([])\n",
            ),
        ),
    ),
    Mutant(
        "providers",
        "turns_regrouped",
        "chat('anthropic', ...) sends the user turns first, then the assistant turns, instead of in their order",
        (
            "test_public.py::test_chat_anthropic_moves_system_messages",
            "test_hidden.py::test_chat_joins_several_system_messages",
        ),
        (
            (
                "    turns = [m for m in messages if m.get(\"role\") != \"system\"]\n",
                "    turns = [m for m in messages if m.get(\"role\") == \"user\"] + [m for m in messages if m.get(\"role\") == \"assistant\"]\n",
            ),
        ),
    ),
    Mutant(
        "providers",
        "anthropic_default_is_openai_model",
        "chat('anthropic', ...) defaults to DEFAULT_OPENAI_MODEL",
        (
            "test_public.py::test_chat_anthropic_moves_system_messages",
            "test_public.py::test_fallback_tries_routes_in_order",
            "test_hidden.py::test_chat_usage_with_cache_tokens_and_null_content",
            "test_hidden.py::test_fallback_all_failed_aggregates_every_error",
            "test_hidden.py::test_fallback_any_status_error_falls_through",
        ),
        (
            (
                "        model=model or DEFAULT_ANTHROPIC_MODEL,",
                "        model=model or DEFAULT_OPENAI_MODEL,",
            ),
        ),
    ),
    Mutant(
        "providers",
        "unknown_route_sent_as_openai",
        "chat_with_fallback sends a route naming an unknown provider as an OpenAI request instead of raising ValueError first",
        ("test_hidden.py::test_unknown_providers_raise_before_sending",),
        (
            (
                "    for provider, _client in routes:  # a misconfigured route fails before anything is sent\n        _check_provider(provider)\n",
                "",
            ),
            (
                "            return chat(provider, cast(\"openai.OpenAI | anthropic.Anthropic\", client), messages, max_tokens=max_tokens)",
                "            name = provider if provider in _PROVIDERS else \"openai\"\n            return chat(name, cast(\"openai.OpenAI | anthropic.Anthropic\", client), messages, max_tokens=max_tokens)",
            ),
        ),
    ),
)
