"""Exercise 6: API keys.

What you practise: managing API keys securely. A key comes from the environment or from a
`.env` file that is never committed; it is checked before use; and it never appears whole in
output, logs or error messages (show `mask_key(key)` instead). Course module: "Setup:
Environment Variables" (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, a `.env` file) and Key Takeaway 4
"Secure your keys".

Grade this exercise with `nox -s grade -- api_keys`. The grader checks that no function ever
writes a whole key to stdout, stderr, a log record or an exception message.

The `.env` grammar this course uses:
- one `NAME=value` per line, split at the first `=`; an optional `export ` prefix;
- whitespace around the name, the `=` and the value is stripped;
- one pair of matching quotes (`'...'` or `"..."`) around the value is removed and everything
  inside them is kept as written (no escapes, no inline comments);
- blank lines and lines starting with `#` (after leading whitespace) are ignored, as are lines
  with no `=`; when a name is assigned twice, the last assignment wins.

Key prefixes: OpenAI keys start with `sk-`, Anthropic keys with `sk-ant-`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import anthropic
import openai

__all__ = ["ENV_VARS", "MissingAPIKeyError", "load_api_key", "make_client", "mask_key"]


class MissingAPIKeyError(RuntimeError):
    """No API key is configured for a provider (the message names the variable, never a key)."""


ENV_VARS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
"""The environment variable (and `.env` name) that holds each provider's key."""


def mask_key(key: str) -> str:
    """A form of `key` that is safe to show.

    Returns `key[:3] + "..." + key[-4:]` for keys of 12 characters or more, else `"****"`.
    """
    raise NotImplementedError("mask_key: your code here")


def load_api_key(
    provider: str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
) -> str:
    """The API key of `provider` (`"openai"` or `"anthropic"`).

    Look up the variable `ENV_VARS[provider]` in `env` (default `os.environ`, read when called).
    Its value wins unless it is missing, empty or blank; then read the `.env` file at `dotenv`
    when it is not `None` and the file exists (grammar in the module docstring). Surrounding
    whitespace is stripped from the key.

    Returns the key. Raises `ValueError` for an unknown provider; `MissingAPIKeyError` naming
    the variable when no non-empty key is found; `ValueError` when the key lacks the provider's
    prefix, with a message that contains `mask_key(key)` and never the key itself.
    """
    raise NotImplementedError("load_api_key: your code here")


def make_client(
    provider: str,
    *,
    env: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
    timeout: float = 30.0,
    max_retries: int = 0,
) -> openai.OpenAI | anthropic.Anthropic:
    """An SDK client for `provider`, built with its loaded key.

    Load the key with `load_api_key(provider, env=env, dotenv=dotenv)`, then return
    `openai.OpenAI(api_key=key, timeout=timeout, max_retries=max_retries)` or
    `anthropic.Anthropic(...)` with the same settings. Raises what `load_api_key` raises.
    """
    raise NotImplementedError("make_client: your code here")
