"""Judge an API request on what the exercise asks for, and explain a mismatch in plain words.

Pure functions over parsed JSON bodies; the vcrpy matcher and the feedback both use them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

OPENAI_CHAT_PATH = "/v1/chat/completions"
ANTHROPIC_MESSAGES_PATH = "/v1/messages"

# A parameter the exercise does not mention may be sent only at the API's default value.
_OPENAI_DEFAULTS: dict[str, Any] = {
    "n": 1,
    "stream": False,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "store": False,
    "parallel_tool_calls": True,
}
_ANTHROPIC_DEFAULTS: dict[str, Any] = {"stream": False}
# Defaults of parameters that some exercises do ask for: sent at the default, they are dropped only
# where the expected request does not carry them (an exercise that asks for temperature=1 gets it).
_UNMENTIONED_DEFAULTS: dict[str, dict[str, Any]] = {"openai": {"temperature": 1}}

ABSENT = object()


def provider_of(path: str) -> str | None:
    if path.endswith(OPENAI_CHAT_PATH):
        return "openai"
    if path.endswith(ANTHROPIC_MESSAGES_PATH):
        return "anthropic"
    return None


def parse_body(body: bytes | str | None) -> Any:
    """The JSON value of a request body; the raw text when it is not JSON."""
    if body is None or body in (b"", ""):
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text_of(content: Any) -> Any:
    """A list of only text parts means the same as the plain string of their text."""
    if (
        isinstance(content, list)
        and content
        and all(isinstance(p, dict) and p.get("type") == "text" and set(p) <= {"type", "text"} for p in content)
    ):
        return "".join(str(p["text"]) for p in content)
    return content


def _drop_defaults(body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None and not (k in defaults and _same(v, defaults[k]))}


def normalize(path: str, body: Any) -> Any:
    """The request body as the exercise judges it (see exercises.md, 'A request is judged...')."""
    provider = provider_of(path)
    if not isinstance(body, dict) or provider is None:
        return body
    if provider == "openai":
        out = _drop_defaults(body, _OPENAI_DEFAULTS)
        if "max_completion_tokens" in out and "max_tokens" not in out:
            out["max_tokens"] = out.pop("max_completion_tokens")
        if isinstance(out.get("messages"), list):
            messages = []
            for m in out["messages"]:
                if isinstance(m, dict):
                    m = {k: v for k, v in m.items() if v is not None}
                    m["content"] = _text_of(m.get("content"))
                messages.append(m)
            out["messages"] = messages
        return out
    out = _drop_defaults(body, _ANTHROPIC_DEFAULTS)
    if "system" in out:  # an empty system prompt is still one: only `null` counts as absent
        out["system"] = _text_of(out["system"])
    if isinstance(out.get("messages"), list):
        out["messages"] = [
            {**m, "content": _text_of(m.get("content"))} if isinstance(m, dict) else m for m in out["messages"]
        ]
    return out


@dataclass(frozen=True)
class Difference:
    field: str
    sent: Any
    expected: Any


def _diff(sent: Any, expected: Any, where: str, out: list[Difference]) -> None:
    if isinstance(sent, dict) and isinstance(expected, dict):
        for key in sorted(set(sent) | set(expected), key=lambda k: (k not in expected, k)):
            _diff(sent.get(key, ABSENT), expected.get(key, ABSENT), f"{where}.{key}" if where else key, out)
    elif isinstance(sent, list) and isinstance(expected, list) and where.endswith("messages"):
        if len(sent) != len(expected) or [_role(m) for m in sent] != [_role(m) for m in expected]:
            out.append(Difference(where, sent, expected))
            return
        for i, (s, e) in enumerate(zip(sent, expected, strict=True)):
            _diff(s, e, f"{where}[{i}]", out)
    elif not _same(sent, expected):
        out.append(Difference(where or "body", sent, expected))


def _role(m: Any) -> Any:
    return m.get("role") if isinstance(m, dict) else m


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def differences(path: str, sent_body: Any, expected_body: Any) -> list[Difference]:
    """What differs between the sent and the expected request, field by field, after normalizing."""
    out: list[Difference] = []
    sent, expected = normalize(path, sent_body), normalize(path, expected_body)
    defaults = _UNMENTIONED_DEFAULTS.get(provider_of(path) or "", {})
    if isinstance(sent, dict) and isinstance(expected, dict):
        sent = {k: v for k, v in sent.items() if k in expected or not (k in defaults and _same(v, defaults[k]))}
    _diff(sent, expected, "", out)
    return out


def _show(value: Any) -> str:
    if value is ABSENT:
        return "nothing (the field is missing)"
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        roles = ", ".join(str(m["role"]) for m in value)
        return f"{len(value)} message(s) with roles [{roles}]: {_short(json.dumps(value))}"
    return _short(json.dumps(value) if not isinstance(value, str) else repr(value))


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(diffs: list[Difference], *, show_expected: bool = True) -> str:
    lines = []
    for d in diffs:
        line = f"- `{d.field}`: you sent {_show(d.sent)}"
        if show_expected:
            line += f"; this check expects {_show(d.expected)}"
        lines.append(line)
    return "\n".join(lines)
