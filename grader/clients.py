"""The SDK clients the grader hands to checks: retries off, one TLS context for the whole run.

Building a TLS context loads the system's CA certificates (tens of milliseconds); every client
would build its own, for connections that never happen while grading (the network is blocked and
replies come from cassettes), so one context is built lazily and shared.
"""

from __future__ import annotations

import functools
import ssl

import anthropic
import openai


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def openai_client(api_key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, max_retries=0, http_client=openai.DefaultHttpxClient(verify=_tls()))


def anthropic_client(api_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=api_key, max_retries=0, http_client=anthropic.DefaultHttpxClient(verify=_tls()))


def async_openai_client(api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=api_key, max_retries=0, http_client=openai.DefaultAsyncHttpxClient(verify=_tls()))


def async_anthropic_client(api_key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=api_key, max_retries=0, http_client=anthropic.DefaultAsyncHttpxClient(verify=_tls())
    )
