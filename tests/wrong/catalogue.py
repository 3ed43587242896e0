"""The catalogue of known-wrong implementations the suites must catch.

Each mutant is the reference solution (`tests/reference/`) with one mistake made by text edits,
so it differs from a correct submission in exactly the way its description says, and names the
check(s) that must fail because of it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


@dataclass(frozen=True)
class Mutant:
    exercise: str
    name: str
    description: str
    # Exactly the checks this mistake fails (ids relative to the exercise's suite dir); every other passes.
    caught_by: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in exercises/<exercise>.py

    @property
    def check_ids(self) -> tuple[str, ...]:
        return tuple(f"{self.exercise}/{c}" for c in self.caught_by)

    def write(self, directory: Path) -> Path:
        """A full submission in `directory`: the reference with this mutant's module."""
        shutil.copytree(REFERENCE, directory, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        module = directory / f"{self.exercise}.py"
        source = module.read_text(encoding="utf-8")
        for old, new in self.edits:
            if source.count(old) != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {source.count(old)} times in {module.name}")
            source = source.replace(old, new)
        module.write_text(source, encoding="utf-8")
        return directory


MUTANTS: tuple[Mutant, ...] = (
    # basic_call
    Mutant(
        "basic_call", "anthropic_system_as_message",
        "sends the Anthropic system prompt as a message instead of the system parameter",
        ("test_hidden.py::test_ask_anthropic_system_parameter",),
        ((
            '        messages=[{"role": "user", "content": prompt}],\n        system=system if system else anthropic.omit,',
            '        messages=([{"role": "system", "content": system}] if system else [])\n'
            '        + [{"role": "user", "content": prompt}],',
        ),),
    ),
    Mutant(
        "basic_call", "openai_system_after_user",
        "puts the OpenAI system message after the user message",
        ("test_hidden.py::test_ask_openai_system_message_first",),
        ((
            '    if system:\n        messages.append({"role": "system", "content": system})\n'
            '    messages.append({"role": "user", "content": prompt})',
            '    messages.append({"role": "user", "content": prompt})\n'
            '    if system:\n        messages.append({"role": "system", "content": system})',
        ),),
    ),
    Mutant(
        "basic_call", "first_text_block_only",
        "returns only the first content block's text instead of joining every text block",
        ("test_hidden.py::test_ask_anthropic_joins_text_blocks", "test_hidden.py::test_empty_replies_give_empty_string"),
        ((
            '    return "".join(block.text for block in response.content if block.type == "text")',
            "    return response.content[0].text  # type: ignore[union-attr]",
        ),),
    ),
    Mutant(
        "basic_call", "none_content_returned",
        "returns None instead of '' when the OpenAI reply has no content",
        ("test_hidden.py::test_empty_replies_give_empty_string",),
        (('    return response.choices[0].message.content or ""', "    return response.choices[0].message.content  # type: ignore[return-value]"),),
    ),
    Mutant(
        "basic_call", "fixed_model_and_limit",
        "ignores the model and max_tokens arguments of ask_openai",
        ("test_hidden.py::test_model_and_max_tokens_passed_through",),
        (("create(model=model, messages=messages, max_tokens=max_tokens)", 'create(model="gpt-4o-mini", messages=messages, max_tokens=100)'),),
    ),
    Mutant(
        "basic_call", "two_requests",
        "calls the OpenAI API twice and keeps the second reply",
        (
            "test_hidden.py::test_exactly_one_request_each", "test_public.py::test_ask_openai_returns_reply_text",
            "test_hidden.py::test_ask_openai_system_message_first", "test_hidden.py::test_empty_replies_give_empty_string",
            "test_hidden.py::test_model_and_max_tokens_passed_through",
        ),
        ((
            "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n",
            "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n"
            "    try:\n"
            "        response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n"
            "    except Exception:\n"
            "        pass\n",
        ),),
    ),
    # temperature
    Mutant(
        "temperature", "temperature_dropped",
        "never sends the temperature",
        ("test_public.py::test_compare_temperatures_returns_text_per_temperature", "test_hidden.py::test_compare_temperatures_order_and_values"),
        (("            max_tokens=max_tokens,\n            temperature=temperature,\n        )\n        results", "            max_tokens=max_tokens,\n        )\n        results"),),
    ),
    Mutant(
        "temperature", "validates_after_sending",
        "checks the temperatures only after sending the requests",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (
            ("    for temperature in temps:\n        _check_temperature(temperature)\n    if len(set(temps))", "    if len(set(temps))"),
            ("        results[temperature] = (response.choices[0].message.content or \"\") if response.choices else \"\"\n",
             "        _check_temperature(temperature)\n"
             "        results[temperature] = (response.choices[0].message.content or \"\") if response.choices else \"\"\n"),
        ),
    ),
    Mutant(
        "temperature", "choices_not_sorted",
        "returns the choices in the order the API listed them",
        ("test_hidden.py::test_sample_completions_sorted_by_index",),
        (("    choices = sorted(response.choices, key=lambda choice: choice.index)", "    choices = list(response.choices)"),),
    ),
    Mutant(
        "temperature", "duplicates_allowed",
        "accepts the same temperature twice",
        ("test_hidden.py::test_compare_temperatures_validates_before_sending",),
        (("    if len(set(temps)) != len(temps):", "    if False:"),),
    ),
    Mutant(
        "temperature", "sample_without_n",
        "sends one request per sample instead of one request with n choices",
        (
            "test_public.py::test_sample_completions_returns_n_texts", "test_hidden.py::test_sample_completions_request",
            "test_hidden.py::test_sample_completions_sorted_by_index",
        ),
        ((
            "        temperature=temperature,\n        n=n,\n    )\n"
            "    choices = sorted(response.choices, key=lambda choice: choice.index)\n"
            '    return [choice.message.content or "" for choice in choices]',
            "        temperature=temperature,\n    )\n"
            '    return [response.choices[0].message.content or ""] * n',
        ),),
    ),
)


def by_exercise(exercise: str) -> tuple[Mutant, ...]:
    return tuple(m for m in MUTANTS if m.exercise == exercise)
