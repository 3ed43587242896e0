# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise temperature."""

from tests.wrong.catalogue import Mutant

MUTANTS = (
    Mutant(
        "temperature",
        "temperature_dropped",
        "never sends the temperature",
        (
            "test_public.py::test_compare_temperatures_returns_text_per_temperature",
            "test_hidden.py::test_compare_temperatures_order_and_values",
        ),
        (
            (
                "            max_tokens=max_tokens,\n            temperature=temperature,\n        )\n        results",
                "            max_tokens=max_tokens,\n        )\n        results",
            ),
        ),
    ),
    Mutant(
        "temperature",
        "validates_after_sending",
        "checks the temperatures only after sending the requests",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (
            (
                "    for temperature in temps:\n        _check_temperature(temperature)\n    if len(set(temps))",
                "    if len(set(temps))",
            ),
            (
                '        results[temperature] = (response.choices[0].message.content or "") if response.choices else ""\n',
                "        _check_temperature(temperature)\n"
                '        results[temperature] = (response.choices[0].message.content or "") if response.choices else ""\n',
            ),
        ),
    ),
    Mutant(
        "temperature",
        "choices_not_sorted",
        "returns the choices in the order the API listed them",
        ("test_hidden.py::test_sample_completions_sorted_by_index",),
        (
            (
                "    choices = sorted(response.choices, key=lambda choice: choice.index)",
                "    choices = list(response.choices)",
            ),
        ),
    ),
    Mutant(
        "temperature",
        "duplicates_allowed",
        "accepts the same temperature twice",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (("    if len(set(temps)) != len(temps):", "    if False:"),),
    ),
    Mutant(
        "temperature",
        "sample_without_n",
        "sends one request per sample instead of one request with n choices",
        (
            "test_public.py::test_sample_completions_returns_n_texts",
            "test_hidden.py::test_sample_completions_request",
            "test_hidden.py::test_sample_completions_sorted_by_index",
        ),
        (
            (
                "        temperature=temperature,\n        n=n,\n    )\n"
                "    choices = sorted(response.choices, key=lambda choice: choice.index)\n"
                '    return [choice.message.content or "" for choice in choices]',
                '        temperature=temperature,\n    )\n    return [response.choices[0].message.content or ""] * n',
            ),
        ),
    ),
    Mutant(
        "temperature",
        "nan_accepted",
        # sample_completions is not caught: the SDK itself refuses to serialise NaN with a ValueError
        # before sending, which is what the contract asks for.
        "checks the range with two negative tests, so a NaN temperature passes",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (
            (
                "    if not (_MIN_TEMPERATURE <= temperature <= _MAX_TEMPERATURE):",
                "    if temperature < _MIN_TEMPERATURE or temperature > _MAX_TEMPERATURE:",
            ),
        ),
    ),
    Mutant(
        "temperature",
        "rejects_a_single_choice",
        "rejects n=1 as if it were below the minimum",
        ("test_hidden.py::test_sample_completions_single_choice",),
        (("    if n < 1:", "    if n <= 1:"),),
    ),
    Mutant(
        "temperature",
        "counts_compared_with_is",
        "finds duplicates with `is not` on the counts, so 257 or more distinct temperatures are refused "
        "(CPython shares only the ints up to 256)",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (("    if len(set(temps)) != len(temps):", "    if len(set(temps)) is not len(temps):"),),
    ),
    Mutant(
        "temperature",
        "max_temperature_excluded",
        "refuses a temperature of exactly 2.0, which the API allows (the range is [0.0, 2.0])",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (
            (
                "    if not (_MIN_TEMPERATURE <= temperature <= _MAX_TEMPERATURE):",
                "    if not (_MIN_TEMPERATURE <= temperature < _MAX_TEMPERATURE):",
            ),
        ),
    ),
    Mutant(
        "temperature",
        "result_sorted_by_temperature",
        "returns {temperature: text} sorted by temperature instead of in the given order",
        ("test_hidden.py::test_compare_temperatures_order_and_values",),
        (
            (
                "        results[temperature] = (response.choices[0].message.content or \"\") if response.choices else \"\"\n    return results",
                "        results[temperature] = (response.choices[0].message.content or \"\") if response.choices else \"\"\n    return dict(sorted(results.items()))",
            ),
        ),
    ),
    Mutant(
        "temperature",
        "empty_sequence_accepted",
        "compare_temperatures returns {} for an empty sequence instead of raising ValueError",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (
            (
                "    if not temps:\n        raise ValueError(\"temperatures is empty: give at least one temperature\")\n",
                "",
            ),
        ),
    ),
)
