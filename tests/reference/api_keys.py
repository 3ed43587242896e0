"""Exercise 6: API keys (reference solution).

Practises managing API keys securely: environment first, then a `.env` file, validation, and
masking so a key never reaches a log or an error message (course module, "Setup: Environment
Variables", and Key Takeaway 4 "Secure your keys"). Grade it with `nox -s grade -- api_keys`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import anthropic
import openai

__all__ = ["ENV_VARS", "MissingAPIKeyError", "load_api_key", "make_client", "mask_key"]


class MissingAPIKeyError(RuntimeError):
    """No API key is configured for a provider (the message names the variable, never a key)."""


ENV_VARS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
"""The environment variable (and `.env` name) that holds each provider's key."""

_KEY_PREFIXES = {"openai": "sk-", "anthropic": "sk-ant-"}
"""How each provider's keys start."""

_EXPORT = re.compile(r"export\s+")


def _variable_for(provider: str) -> str:
    try:
        return ENV_VARS[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}: use 'openai' or 'anthropic'") from None


def _read_dotenv(path: str | os.PathLike[str], name: str) -> str | None:
    """The last value assigned to `name` in the `.env` file at `path`, or None."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8-sig") as file:
        text = file.read()
    value: str | None = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        export = _EXPORT.match(line)
        if export:
            line = line[export.end() :]
        key, sep, rest = line.partition("=")
        if not sep or key.strip() != name:
            continue
        candidate = rest.strip()
        if len(candidate) >= 2 and candidate[0] == candidate[-1] and candidate[0] in "\"'":
            candidate = candidate[1:-1]
        value = candidate
    return value


def mask_key(key: str) -> str:
    """A form of `key` safe to show: its first 3 and last 4 characters, or `****` when short."""
    if len(key) >= 12:
        return key[:3] + "..." + key[-4:]
    return "****"


def load_api_key(
    provider: str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
) -> str:
    """The provider's API key from the environment, else from the `.env` file, validated."""
    name = _variable_for(provider)
    source: Mapping[str, str] = os.environ if env is None else env
    key = (source.get(name) or "").strip()
    if not key and dotenv is not None:
        key = (_read_dotenv(dotenv, name) or "").strip()
    if not key:
        raise MissingAPIKeyError(f"{name} is not set: export it or add it to a .env file")
    prefix = _KEY_PREFIXES[provider]
    if not key.startswith(prefix):
        raise ValueError(
            f"{name} holds {mask_key(key)}, not a valid key for {provider}: it should start with {prefix!r}"
        )
    return key


def make_client(
    provider: str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
    timeout: float = 30.0,
    max_retries: int = 0,
) -> openai.OpenAI | anthropic.Anthropic:
    """An SDK client for `provider`, built with the loaded key, `timeout` and `max_retries`."""
    key = load_api_key(provider, env=env, dotenv=dotenv)
    if provider == "openai":
        return openai.OpenAI(api_key=key, timeout=timeout, max_retries=max_retries)
    return anthropic.Anthropic(api_key=key, timeout=timeout, max_retries=max_retries)
