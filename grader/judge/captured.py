"""What the submission wrote during one check (stdout, stderr, log records), as pytest shows it under a failure.

The sandbox keeps a check's stdout and stderr (capped there) and streams its log records to the judge;
this puts them in one text, capped again to its last lines, since a beginner's print-debugging reads
best from the end: the last thing printed before the failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

MAX_LINES = 20  # per section: stdout, stderr, log
MAX_LINE_CHARS = 300  # one endless line (a printed list of 10,000 items) must not fill the report


def _tail(text: str) -> list[str]:
    lines = text.rstrip("\n").splitlines()
    kept = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ... (line cut)" for line in lines]
    if len(kept) > MAX_LINES:
        cut = len(kept) - MAX_LINES
        kept = [f"... ({cut} earlier line{'s' if cut != 1 else ''} cut)", *kept[-MAX_LINES:]]
    return kept


def _log_line(record: Mapping[str, Any]) -> str:
    level = record.get("levelno")
    name = logging.getLevelName(level) if isinstance(level, int) else str(level)
    return f"{name} {record.get('name', '')}: {record.get('message', '')}"


def render(stdout: Any, stderr: Any, logs: Sequence[Mapping[str, Any]]) -> str:
    """The check's captured output in sections, each its last lines; "" when it wrote nothing.

    The text is the submission's: it is escaped where it is shown (terminal, Markdown), never here.
    """
    sections = []
    for title, text in (
        ("stdout", stdout if isinstance(stdout, str) else ""),
        ("stderr", stderr if isinstance(stderr, str) else ""),
        ("log", "\n".join(_log_line(r) for r in logs if isinstance(r, Mapping))),
    ):
        if text.strip():
            sections.append("\n".join([f"Captured {title}:", *_tail(text)]))
    return "\n".join(sections)
