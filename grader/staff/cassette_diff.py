"""What a re-recording changed in one cassette: interactions added, removed and changed.

Requests are paired when they are the same request to the exercise (grader/matching.py's semantic
comparison, so ids, key order and SDK headers never count); a paired interaction has changed when
its response status or its reply text differs (ids, timestamps and rate-limit headers are noise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from grader import matching


@dataclass(frozen=True)
class Interaction:
    method: str
    path: str
    body: Any  # the parsed request body
    status: int
    text: str  # what the reply says (see reply_text)

    def describe(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        details = [f"model={body['model']}"] if "model" in body else []
        for key in ("temperature", "n", "stream"):
            if key in body:
                details.append(f"{key}={body[key]}")
        prompt = _last_user_text(body)
        if prompt:
            details.append(repr(_short(prompt, 50)))
        return f"{self.method} {self.path} " + " ".join(details)


@dataclass
class CassetteChanges:
    name: str
    is_new: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differs(self) -> bool:
        return self.is_new or bool(self.added or self.removed or self.changed)

    def summary(self) -> str:
        if self.is_new:
            return f"new cassette, {len(self.added)} interaction(s)"
        if not self.differs:
            return f"same requests and replies ({self.unchanged} interaction(s))"
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("removed", self.removed)) if v]
        parts += [f"{len(self.changed)} changed"] if self.changed else []
        return ", ".join(parts) + f", {self.unchanged} unchanged"

    def details(self) -> list[str]:
        return (
            [f"+ {d}" for d in self.added if not self.is_new]
            + [f"- {d}" for d in self.removed]
            + [f"~ {d}" for d in self.changed]
        )


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = matching.normalize(matching.OPENAI_CHAT_PATH, {"messages": [message]})["messages"][0]
            text = content.get("content")
            return text if isinstance(text, str) else json.dumps(text)
    return ""


def _json_text(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("choices"), list):
        choices = sorted((c for c in data["choices"] if isinstance(c, dict)), key=lambda c: c.get("index", 0))
        return " | ".join(str((c.get("message") or {}).get("content")) for c in choices)
    if isinstance(data.get("content"), list):
        return "".join(str(b.get("text", "")) for b in data["content"] if isinstance(b, dict))
    if isinstance(data.get("error"), dict):
        return f"error: {data['error'].get('message')}"
    return None


def _sse_text(body: str) -> str | None:
    pieces: list[str] = []
    seen = False
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        try:
            event = json.loads(line[5:])
        except ValueError:
            continue
        seen = True
        if not isinstance(event, dict):
            continue
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
            if content:
                pieces.append(content)
        delta = event.get("delta")
        if isinstance(delta, dict) and delta.get("type") == "text_delta":
            pieces.append(str(delta.get("text", "")))
    return "".join(pieces) if seen else None


def reply_text(body: Any) -> str:
    """The reply's text (choices in index order, text blocks, stream deltas, error message), else the body."""
    if isinstance(body, dict):
        body = body.get("string", "")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "")
    try:
        found = _json_text(json.loads(text))
    except ValueError:
        found = _sse_text(text)
    return text if found is None else found


def interactions(cassette: Any) -> list[Interaction]:
    """The cassette's interactions in a comparable form; [] when there is no cassette."""
    out = []
    items = cassette.get("interactions") if isinstance(cassette, dict) else None
    for item in items if isinstance(items, list) else []:
        request, response = item["request"], item["response"]
        path = urlsplit(str(request["uri"])).path
        out.append(
            Interaction(
                str(request["method"]),
                path,
                matching.parse_body(request.get("body")),
                int(response["status"]["code"]),
                reply_text(response.get("body")),
            )
        )
    return out


def _same_request(a: Interaction, b: Interaction) -> bool:
    return a.method == b.method and a.path == b.path and not matching.differences(a.path, a.body, b.body)


def compare(name: str, previous: Any, current: Any) -> CassetteChanges:
    """How `current` differs from `previous` (None when the cassette did not exist before)."""
    changes = CassetteChanges(name, is_new=previous is None)
    old = interactions(previous)
    used: set[int] = set()
    for new in interactions(current):
        match = next((i for i, o in enumerate(old) if i not in used and _same_request(new, o)), None)
        if match is None:
            changes.added.append(new.describe())
            continue
        used.add(match)
        before = old[match]
        if before.status != new.status:
            changes.changed.append(f"{new.describe()}: status {before.status} -> {new.status}")
        elif before.text != new.text:
            changes.changed.append(f"{new.describe()}: reply {_short(before.text)!r} -> {_short(new.text)!r}")
        else:
            changes.unchanged += 1
    changes.removed.extend(o.describe() for i, o in enumerate(old) if i not in used)
    return changes
