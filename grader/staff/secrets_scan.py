"""Find credentials in a recorded cassette: the environment's key values and anything shaped like a key.

A finding says where the secret is (interaction, header name, body path, uri) and what it looks
like, never the secret itself, so the message can be printed and logged safely.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Environment variables whose values are credentials (the same family the grading child never sees).
_SECRET_VARIABLE = re.compile(r"(API_KEY|_TOKEN|_SECRET|_PASSWORD|_ACCESS_KEY)$", re.I)
_MIN_SECRET_LENGTH = 8  # shorter values ("1", "true") would match everywhere and protect nothing

# Most specific first: one finding per location, named by the first shape that matches.
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic-style key (sk-ant-...)", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}")),
    ("an OpenAI project key (sk-proj-...)", re.compile(r"\bsk-proj-[A-Za-z0-9_\-]{8,}")),
    ("an OpenAI-style key (sk-...)", re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=\-]{8,}", re.I)),
    ("basic-auth credentials", re.compile(r"\bBasic\s+[A-Za-z0-9+/]{12,}={0,2}", re.I)),
)
# Names of headers and query parameters that carry credentials: any long opaque value there is one.
_AUTH_LIKE_NAME = re.compile(r"auth|api[-_]?key|token|secret|password|cookie|session|signature|credential", re.I)
_LONG_OPAQUE = re.compile(r"\b(?:[A-Fa-f0-9]{32,}|[A-Za-z0-9+/_\-]{32,}={0,2})")


@dataclass(frozen=True)
class Finding:
    where: str  # "interaction 0, response body at $.choices[0].message.content"
    what: str  # "the value of $OPENAI_API_KEY", "an OpenAI-style key (sk-...)"

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """{variable: value} for every credential-like variable with a value long enough to search for."""
    return {
        name: value.strip()
        for name, value in environ.items()
        if _SECRET_VARIABLE.search(name) and len(value.strip()) >= _MIN_SECRET_LENGTH
    }


def scan_text(text: str, secrets: Mapping[str, str], *, auth_like: bool = False) -> str | None:
    """What secret `text` holds (an environment value first, then a known shape), or None."""
    for name, value in secrets.items():
        if value in text:
            return f"the value of ${name}"
    for label, pattern in SHAPES:
        if pattern.search(text):
            return label
    if auth_like and _LONG_OPAQUE.search(text):
        return "a long opaque credential in a credential-carrying field"
    return None


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with environment secrets and key-shaped strings replaced, for printing child output."""
    for name, value in secrets.items():
        text = text.replace(value, f"<${name}>")
    for label, pattern in SHAPES:
        text = pattern.sub(f"<{label}>", text)
    return text


def _json_leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(key, f"{path} (a key)")
            yield from _json_leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_leaves(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _body_leaves(body: Any) -> Iterator[tuple[str, str]]:
    """(location inside the body, text): JSON paths, SSE event numbers, else line numbers."""
    if isinstance(body, dict) and "string" in body:
        body = body["string"]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return
    try:
        yield from (("at " + p, t) for p, t in _json_leaves(json.loads(body), "$"))
        return
    except ValueError:
        pass
    for number, line in enumerate(body.splitlines(), start=1):
        if line.startswith("data:"):
            try:
                parsed = json.loads(line[5:])
            except ValueError:
                yield f"line {number}", line
                continue
            yield from ((f"line {number}, data at {p}", t) for p, t in _json_leaves(parsed, "$"))
        else:
            yield f"line {number}", line


def _header_values(headers: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(headers, dict):
        return
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            yield str(name), str(value)


def _scan_message(
    prefix: str, message: dict[str, Any], secrets: Mapping[str, str], uri: str | None
) -> Iterator[Finding]:
    for name, value in _header_values(message.get("headers")):
        for text, auth_like in ((name, False), (value, bool(_AUTH_LIKE_NAME.search(name)))):
            what = scan_text(text, secrets, auth_like=auth_like)
            if what:
                yield Finding(f"{prefix} header {name!r}", what)
    for where, text in _body_leaves(message.get("body")):
        what = scan_text(text, secrets)
        if what:
            yield Finding(f"{prefix} body {where}", what)
    if uri is not None:
        what = scan_text(uri, secrets)
        if what is None:
            for key, value in parse_qsl(urlsplit(uri).query, keep_blank_values=True):
                if _AUTH_LIKE_NAME.search(key) and value:
                    what = f"a credential in the query parameter {key!r}"
                    break
        if what:
            yield Finding(f"{prefix} uri", what)


def _generic(value: Any, path: str, secrets: Mapping[str, str]) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _generic(key, f"{path} (a key)", secrets)
            yield from _generic(item, f"{path}.{key}" if path else str(key), secrets)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _generic(item, f"{path}[{index}]", secrets)
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        what = scan_text(text, secrets)
        if what:
            yield Finding(path or "the document", what)


def scan_cassette(data: Any, secrets: Mapping[str, str]) -> list[Finding]:
    """Every place in a parsed cassette where a secret survives."""
    findings: list[Finding] = []
    if not isinstance(data, dict):
        return list(_generic(data, "", secrets))
    for key, value in data.items():
        if key != "interactions" or not isinstance(value, list):
            findings.extend(_generic(value, str(key), secrets))
            continue
        for index, interaction in enumerate(value):
            if not isinstance(interaction, dict):
                findings.extend(_generic(interaction, f"interaction {index}", secrets))
                continue
            for part in ("request", "response"):
                message = interaction.get(part)
                if not isinstance(message, dict):
                    continue
                uri = str(message.get("uri", "")) if part == "request" else None
                findings.extend(_scan_message(f"interaction {index}, {part}", message, secrets, uri))
                rest = {k: v for k, v in message.items() if k not in ("headers", "body", "uri")}
                findings.extend(_generic(rest, f"interaction {index}, {part}", secrets))
    return findings


def scan_raw(text: str, secrets: Mapping[str, str]) -> str | None:
    """A last check over the file's bytes as written (catches what the YAML structure might hide)."""
    return scan_text(text, secrets)
