"""The key-leak guard: during every check, the planted API keys are watched on every channel a
student's code can publish through (captured stdout and stderr, emitted log records, exception
messages), and feedback says where a key leaked without ever repeating it.

Pure logic plus one logging handler; the plugin feeds it each phase's captured output and
exception and turns its findings into notes that fail the check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

if sys.version_info < (3, 11):  # built in from 3.11; before, the backport that anyio and trio raise
    from exceptiongroup import BaseExceptionGroup

# Shorter strings could occur by chance; planted keys are far longer (grader/judge/launch.py).
MIN_WATCHED_LENGTH = 16
_STREAMS = {"stdout": "standard output (print)", "stderr": "standard error"}


def watched(keys: Mapping[str, str]) -> dict[str, str]:
    """The keys worth watching, by variable name (empty and short ones are left out)."""
    return {name: key for name, key in keys.items() if len(key) >= MIN_WATCHED_LENGTH}


def leaked_names(text: str, keys: Mapping[str, str]) -> list[str]:
    """The names of the keys that occur whole in `text`."""
    return [name for name, key in keys.items() if key in text]


def redact(text: str, keys: Mapping[str, str]) -> str:
    """`text` with every whole key replaced by a placeholder naming its variable."""
    for name, key in keys.items():
        text = text.replace(key, f"<{name} hidden>")
    return text


def _raised_by_suite(exc: BaseException, submission: Path) -> bool:
    """An AssertionError raised by the check itself (its verdict), not by the submission."""
    if not isinstance(exc, AssertionError) or hasattr(exc, "names"):  # `names`: raised in the sandbox
        return False
    tb = exc.__traceback__
    while tb is not None:
        try:
            Path(tb.tb_frame.f_code.co_filename).resolve().relative_to(submission)
        except ValueError:
            tb = tb.tb_next
            continue
        return False
    return True


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then its causes and contexts, each once."""
    seen: set[int] = set()
    pending = [exc] if exc is not None else []
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def _exception_text(exc: BaseException) -> str:
    parts = [str(exc), repr(exc.args), *(str(n) for n in getattr(exc, "__notes__", ()))]
    return "\n".join(parts)


class LogWatcher(logging.Handler):
    """Keeps the names of the keys found in every log record emitted while it is installed."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        super().__init__(level=logging.NOTSET)
        self.keys = keys
        self.found: list[tuple[str, str]] = []  # (key name, logger name)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string is the student's bug, not a leak
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "\n".join(_exception_text(e) for e in exception_chain(record.exc_info[1]))
        for name in leaked_names(text, self.keys):
            self.found.append((name, record.name))


class LeakWatch:
    """Everything one check may leak through, gathered phase by phase."""

    def __init__(self, keys: Mapping[str, str], submission: Path) -> None:
        self.keys = watched(keys)
        self.submission = submission.resolve()
        self.log = LogWatcher(self.keys)
        self._findings: dict[tuple[str, str], None] = {}  # (key name, where), in order, once each

    def watch(self, name: str, key: str) -> None:
        """Watch one more secret for the rest of the check (a key a check makes up for itself)."""
        self.keys[name] = key

    @contextmanager
    def watching_logs(self) -> Iterator[None]:
        """Watch every log record emitted (at whatever level the logging configuration lets through)."""
        root = logging.getLogger()
        root.addHandler(self.log)
        try:
            yield
        finally:
            root.removeHandler(self.log)

    def inspect_phase(self, when: str, sections: Iterable[tuple[str, str]], exception: BaseException | None) -> None:
        """Look at one phase's captured output (pytest report sections) and its exception chain."""
        for title, content in sections:
            # A report carries the sections of earlier phases too; each is inspected in its own phase.
            words = title.split()
            if len(words) == 3 and words[0] == "Captured" and words[1] in _STREAMS and words[2] == when:
                for name in leaked_names(content, self.keys):
                    self._findings[(name, f"{_STREAMS[words[1]]}, during the check's {when}")] = None
        for exc in exception_chain(exception):
            if _raised_by_suite(exc, self.submission):
                continue
            for name in leaked_names(_exception_text(exc), self.keys):
                self._findings[(name, f"the message of a {type(exc).__name__} your code raised")] = None

    def inspect_sandbox(self, ended: Mapping[str, object], logs: Iterable[Mapping[str, object]]) -> None:
        """Look at what the sandbox printed and logged during the check."""
        for stream in ("stdout", "stderr"):
            for name in leaked_names(str(ended.get(stream, "")), self.keys):
                self._findings[(name, _STREAMS[stream])] = None
        for record in logs:
            for name in leaked_names(str(record.get("message", "")), self.keys):
                self.log.found.append((name, str(record.get("name"))))

    def notes(self) -> list[str]:
        """One student-facing note per channel, naming the keys' variables or labels, never a key."""
        for name, logger in self.log.found:
            self._findings[(name, f"a log record of the logger {logger!r}")] = None
        by_place: dict[str, list[str]] = {}
        for name, where in self._findings:
            by_place.setdefault(where, []).append(name)
        return [
            f"Your code leaked a whole API key into {where}: {', '.join(names)} (planted by the grader to catch "
            "leaks). Never print, log or put a whole key in an error message: show mask_key(key) or the "
            "variable's name instead."
            for where, names in by_place.items()
        ]
