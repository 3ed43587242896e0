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
            "test_public.py::test_usage_of_anthropic_message",
            "test_public.py::test_tracker_report_figures",
            "test_hidden.py::test_usage_of_anthropic_cache_tokens",
            "test_hidden.py::test_tracker_totals_over_mixed_providers",
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
        ("test_public.py::test_openai_stream_usage",),
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
        ("test_public.py::test_tracker_report_figures",),
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
        ("test_public.py::test_tracker_report_figures",),
        (
            (
                '        rows.append(\n            (\n                "total",',
                '        [].append(\n            (\n                "total",',
            ),
        ),
    ),
)
