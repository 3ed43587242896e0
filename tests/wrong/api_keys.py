# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise api_keys."""

from tests.wrong.catalogue import Mutant

MUTANTS = (
    Mutant(
        "api_keys",
        "dotenv_wins",
        "reads .env first, so the .env file wins over the environment",
        ("test_public.py::test_environment_wins_over_dotenv",),
        (
            (
                '    key = (source.get(name) or "").strip()\n    if not key and dotenv is not None:\n        key = (_read_dotenv(dotenv, name) or "").strip()\n',
                '    key = (_read_dotenv(dotenv, name) or "").strip() if dotenv is not None else ""\n    if not key:\n        key = (source.get(name) or "").strip()\n',
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "keeps_quotes",
        "keeps the quotes around a quoted .env value",
        ("test_hidden.py::test_dotenv_grammar", "test_hidden.py::test_missing_key_raises_naming_the_variable"),
        (
            (
                '        if len(candidate) >= 2 and candidate[0] == candidate[-1] and candidate[0] in "\\"\'":\n            candidate = candidate[1:-1]\n',
                "",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "mask_shows_eight",
        "mask_key shows eight leading characters instead of three",
        ("test_public.py::test_mask_key",),
        (('        return key[:3] + "..." + key[-4:]', '        return key[:8] + "..." + key[-4:]'),),
    ),
    Mutant(
        "api_keys",
        "key_in_error_message",
        "puts the whole key in the error message about a wrong prefix",
        ("test_hidden.py::test_bad_provider_and_bad_prefix",),
        (
            (
                '            f"{name} holds {mask_key(key)}, not a valid',
                '            f"{name} holds {key} ({mask_key(key)}), not a valid',
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "prints_the_key",
        "prints the whole key it loaded",
        (
            "test_public.py::test_environment_wins_over_dotenv",
            "test_public.py::test_dotenv_used_when_environment_lacks_the_key",
            "test_public.py::test_make_client_settings",
            "test_hidden.py::test_dotenv_grammar",
            "test_hidden.py::test_default_dotenv_path_and_stripping",
        ),
        (("    return key\n", '    print(f"loaded {name} = {key}")\n    return key\n'),),
    ),
    Mutant(
        "api_keys",
        "logs_the_key",
        "logs the whole key in a warning when it comes from .env",
        (
            "test_public.py::test_dotenv_used_when_environment_lacks_the_key",
            "test_hidden.py::test_dotenv_grammar",
            "test_hidden.py::test_bad_provider_and_bad_prefix",
            "test_hidden.py::test_default_dotenv_path_and_stripping",
        ),
        (
            (
                '        key = (_read_dotenv(dotenv, name) or "").strip()\n',
                '        key = (_read_dotenv(dotenv, name) or "").strip()\n'
                "        import logging\n\n"
                '        logging.getLogger(__name__).warning("%s came from %s: %s", name, dotenv, key)\n',
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "blank_environment_wins",
        "takes a blank environment value as the key instead of falling back to .env",
        ("test_public.py::test_dotenv_used_when_environment_lacks_the_key",),
        (
            (
                "    if not key and dotenv is not None:\n",
                "    if name not in source and dotenv is not None:\n",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "client_keeps_sdk_retries",
        "builds the client without passing max_retries, so the SDK's default of 2 retries stays",
        ("test_public.py::test_make_client_settings",),
        (
            (
                "        return openai.OpenAI(api_key=key, timeout=timeout, max_retries=max_retries)",
                "        return openai.OpenAI(api_key=key, timeout=timeout)",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "missing_key_wrong_error",
        "raises KeyError instead of MissingAPIKeyError when no key is configured",
        (
            "test_hidden.py::test_missing_key_raises_naming_the_variable",
            "test_hidden.py::test_default_dotenv_path_and_stripping",
        ),
        (
            (
                '        raise MissingAPIKeyError(f"{name} is not set: export it or add it to a .env file")',
                '        raise KeyError(f"{name} is not set: export it or add it to a .env file")',
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "splits_at_last_equals",
        "splits a .env line at its last '=' instead of its first",
        ("test_hidden.py::test_dotenv_grammar",),
        (('        key, sep, rest = line.partition("=")', '        key, sep, rest = line.rpartition("=")'),),
    ),
    Mutant(
        "api_keys",
        "quoted_key_not_stripped",
        "keeps the whitespace inside a quoted .env value instead of stripping the key after unquoting",
        ("test_hidden.py::test_dotenv_grammar",),
        (('        key = (_read_dotenv(dotenv, name) or "").strip()\n', '        key = _read_dotenv(dotenv, name) or ""\n'),),
    ),
    Mutant(
        "api_keys",
        "mismatched_quotes_removed",
        "removes a leading quote and the last character even when the two quotes do not match",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                """        if len(candidate) >= 2 and candidate[0] == candidate[-1] and candidate[0] in "\\"'":""",
                """        if len(candidate) >= 2 and candidate[0] in "\\"'":""",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "lone_quote_removed",
        "takes a value of one quote character for a quoted empty value, and calls the key missing",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                """        if len(candidate) >= 2 and candidate[0] == candidate[-1] and candidate[0] in "\\"'":""",
                """        if len(candidate) >= 1 and candidate[0] == candidate[-1] and candidate[0] in "\\"'":""",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "export_prefix_kept",
        "keeps an `export ` prefix as part of the variable name in .env",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                "        if export:\n            line = line[export.end() :]\n",
                "",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "first_assignment_wins",
        "takes the first assignment of a name in .env instead of the last",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                "        value = candidate\n    return value",
                "        if value is None:\n            value = candidate\n    return value",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "comments_not_ignored",
        "reads lines starting with # as assignments too",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                "        if not line or line.startswith(\"#\"):\n            continue\n",
                "        if not line:\n            continue\n        line = line.lstrip(\"#\").strip()\n",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "unknown_provider_key_error",
        "raises KeyError instead of ValueError for an unknown provider",
        ("test_hidden.py::test_bad_provider_and_bad_prefix",),
        (
            (
                "    try:\n        return ENV_VARS[provider]\n    except KeyError:\n        raise ValueError(f\"unknown provider {provider!r}: use 'openai' or 'anthropic'\") from None\n",
                "    return ENV_VARS[provider]\n",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "dotenv_missing_file_raises",
        "reads .env without checking that it exists, so a missing file raises FileNotFoundError",
        ("test_hidden.py::test_missing_key_raises_naming_the_variable",),
        (
            (
                "    if not os.path.isfile(path):\n        return None\n",
                "",
            ),
        ),
    ),
    Mutant(
        "api_keys",
        "dotenv_name_not_stripped",
        "compares the name left of '=' without stripping it, so 'KEY = value' is not read",
        ("test_hidden.py::test_dotenv_grammar",),
        (
            (
                "        if not sep or key.strip() != name:",
                "        if not sep or key != name:",
            ),
        ),
    ),
)
