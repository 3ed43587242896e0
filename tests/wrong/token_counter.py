# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise token_counter."""

from tests.wrong.catalogue import Mutant

MUTANTS = (
    Mutant(
        "token_counter",
        "first_prefix_not_longest",
        "prices gpt-4o-mini as gpt-4o: takes the first table key the model starts with, not the longest",
        (
            "test_public.py::test_cost_of_dated_model_uses_longest_prefix",
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_cost_of_arithmetic",
            "test_hidden.py::test_report_counts_are_plain_integers",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
        ),
        (("    return max(matches, key=len)", "    return matches[0]"),),
    ),
    Mutant(
        "token_counter",
        "ignores_cache_tokens",
        "ignores Anthropic's cache_creation_input_tokens and cache_read_input_tokens",
        ("test_hidden.py::test_usage_of_anthropic_cache_tokens",),
        (
            (
                "            input_tokens += _as_count(getattr(usage, cache_field, None)) or 0",
                "            pass",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "prompt_tokens_from_anthropic",
        "reads prompt_tokens and completion_tokens from every reply, Anthropic messages included",
        (
            "test_public.py::test_tracker_report_figures",
            "test_public.py::test_usage_of_anthropic_message",
            "test_hidden.py::test_report_counts_are_plain_integers",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
            "test_hidden.py::test_usage_of_anthropic_cache_tokens",
        ),
        (
            (
                '    prompt = _as_count(getattr(usage, "prompt_tokens", None))\n'
                '    completion = _as_count(getattr(usage, "completion_tokens", None))\n'
                "    if prompt is not None and completion is not None:\n",
                '    prompt = getattr(usage, "prompt_tokens")\n'
                '    completion = getattr(usage, "completion_tokens")\n'
                "    if True:\n",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "stream_without_include_usage",
        "streams without stream_options={'include_usage': True}, so the API sends no usage chunk",
        (
            "test_public.py::test_openai_stream_usage",
            "test_hidden.py::test_openai_stream_usage_from_final_chunk",
        ),
        (('        stream_options={"include_usage": True},\n', ""),),
    ),
    Mutant(
        "token_counter",
        "unknown_model_costs_nothing",
        "prices an unknown model at zero instead of raising ValueError",
        (
            "test_hidden.py::test_cost_of_unknown_model_raises",
            "test_hidden.py::test_tracker_unknown_model_records_nothing",
        ),
        (
            (
                "    input_price, output_price = PRICES_PER_MILLION[_priced_model(model)]",
                "    if not any(model.startswith(name) for name in PRICES_PER_MILLION):\n"
                "        return 0.0\n"
                "    input_price, output_price = PRICES_PER_MILLION[_priced_model(model)]",
            ),
            (
                "        name = _priced_model(model)\n",
                "        name = model if not any(model.startswith(k) for k in PRICES_PER_MILLION) else _priced_model(model)\n",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "records_before_pricing",
        "counts the call before looking up the model's price, so an unpriced reply still changes the account",
        ("test_hidden.py::test_tracker_unknown_model_records_nothing",),
        (
            (
                "        name = _priced_model(model)\n",
                '        self._n = getattr(self, "_n", 0) + 1  # counted before the model is priced\n'
                "        name = _priced_model(model)\n",
            ),
            ("        return sum(self._calls.values())", '        return getattr(self, "_n", 0)'),
        ),
    ),
    Mutant(
        "token_counter",
        "report_costs_two_decimals",
        "writes the report's costs with two decimals instead of four",
        (
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_report_counts_are_plain_integers",
        ),
        (
            (
                '                    f"{cost_of(usage, name):.4f}",',
                '                    f"{cost_of(usage, name):.2f}",',
            ),
            ('                f"{self.total_cost:.4f}",', '                f"{self.total_cost:.2f}",'),
        ),
    ),
    Mutant(
        "token_counter",
        "report_without_total_row",
        "leaves the total row out of the report",
        (
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_report_counts_are_plain_integers",
        ),
        (
            (
                '        rows.append(\n            (\n                "total",',
                '        [].append(\n            (\n                "total",',
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "report_counts_with_thousands_separators",
        "writes the report's counts with thousands separators (12,000), not as plain integers",
        ("test_hidden.py::test_report_counts_are_plain_integers",),
        (
            (
                "                    str(self._calls[name]),\n"
                "                    str(usage.input_tokens),\n"
                "                    str(usage.output_tokens),\n",
                '                    f"{self._calls[name]:,}",\n'
                '                    f"{usage.input_tokens:,}",\n'
                '                    f"{usage.output_tokens:,}",\n',
            ),
            (
                "                str(self.calls),\n"
                "                str(total.input_tokens),\n"
                "                str(total.output_tokens),\n",
                '                f"{self.calls:,}",\n'
                '                f"{total.input_tokens:,}",\n'
                '                f"{total.output_tokens:,}",\n',
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "stream_usage_from_first_usage_chunk",
        "openai_stream_usage keeps the usage of the first chunk that carries one, not the final chunk's",
        ("test_hidden.py::test_openai_stream_usage_from_final_chunk",),
        (
            (
                "            if chunk.usage is not None:\n                usage = usage_of(chunk)",
                "            if chunk.usage is not None and usage is None:\n                usage = usage_of(chunk)",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "openai_cached_tokens_added_again",
        "adds OpenAI's prompt_tokens_details.cached_tokens to prompt_tokens, which already includes them",
        ("test_hidden.py::test_usage_of_openai_cached_tokens",),
        (
            (
                "        return Usage(input_tokens=prompt, output_tokens=completion)",
                '        details = getattr(usage, "prompt_tokens_details", None)\n'
                '        cached = _as_count(getattr(details, "cached_tokens", None)) or 0\n'
                "        return Usage(input_tokens=prompt + cached, output_tokens=completion)",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "stream_chunk_rejected",
        "usage_of refuses every stream chunk, the final one with usage included",
        (
            "test_public.py::test_openai_stream_usage",
            "test_hidden.py::test_openai_stream_usage_from_final_chunk",
            "test_hidden.py::test_usage_of_without_usage_raises",
        ),
        (
            (
                "    usage = getattr(response, \"usage\", None)\n    if usage is None:",
                "    usage = getattr(response, \"usage\", None)\n    if usage is None or getattr(response, \"object\", \"\") == \"chat.completion.chunk\":",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "missing_usage_is_zero",
        "usage_of returns Usage(0, 0) for an object without usage instead of raising ValueError",
        ("test_hidden.py::test_usage_of_without_usage_raises",),
        (
            (
                "        raise ValueError(f\"{type(response).__name__} carries no usage\")\n",
                "        return Usage(0, 0)\n",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "cost_per_thousand",
        "cost_of divides by a thousand instead of a million (prices are per million tokens)",
        (
            "test_public.py::test_cost_of_dated_model_uses_longest_prefix",
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_cost_of_arithmetic",
            "test_hidden.py::test_report_counts_are_plain_integers",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
        ),
        (
            (
                "    return (usage.input_tokens * input_price + usage.output_tokens * output_price) / 1_000_000",
                "    return (usage.input_tokens * input_price + usage.output_tokens * output_price) / 1_000",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "record_returns_none",
        "record adds the reply to the account but returns None instead of its usage",
        ("test_hidden.py::test_tracker_totals_over_mixed_providers",),
        (
            (
                "        self._calls[name] = self._calls.get(name, 0) + 1\n        return usage",
                "        self._calls[name] = self._calls.get(name, 0) + 1\n        return None  # type: ignore[return-value]",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "calls_counts_models",
        "calls counts the models seen instead of the replies recorded",
        (
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_report_counts_are_plain_integers",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
        ),
        (
            (
                "        return sum(self._calls.values())",
                "        return len(self._calls)",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "by_model_keyed_by_dated_model",
        "keys the account by the model id the API reports (gpt-4o-mini-2024-07-18), not by the table name",
        (
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_report_counts_are_plain_integers",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
        ),
        (
            (
                "        name = _priced_model(model)\n",
                "        name = model if _priced_model(model) else model\n",
            ),
        ),
    ),
    Mutant(
        "token_counter",
        "report_rows_unsorted",
        "lists the report's model rows in the order first recorded instead of sorted by name",
        ("test_public.py::test_tracker_report_figures",),
        (
            (
                "        for name in sorted(self._usage):\n",
                "        for name in self._usage:\n",
            ),
        ),
    ),
)
