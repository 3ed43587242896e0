"""What a recording run will do, decided before anything is touched: each check's cassette, the API keys
it needs, whether it is left alone (synthetic), and the replies it scripts for the fake API.

A check needs the key of every provider whose client fixture it takes (`openai_client`,
`anthropic_client`), read from the suites' source with `ast` like the rubric. Scripted replies are a
file beside the check's cassette, `<cassette>.replies.json`:

    {"note": "why the real API cannot give this on demand",
     "replies": [{"openai_error": {"status": 429, "message": "Rate limit", "type": "requests"}},
                 {"openai_chat": {"texts": ["{\\"ok\\": true}"]}}]}

Each reply names one of the fake API's builders (tests/support/fake_api.py) with its keyword arguments;
the fake serves them to that check alone, to the builder's provider, in order. A cassette recorded from
scripted replies is not the real API's, so it is marked synthetic with the note.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import rubric
from grader.course import SUITES_DIR
from grader.errors import StaffError, UsageError
from grader.judge import replay

KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
CLIENT_FIXTURES = {"openai_client": "openai", "anthropic_client": "anthropic"}
BUILDERS = {
    "openai_chat": "openai",
    "openai_stream": "openai",
    "openai_error": "openai",
    "anthropic_message": "anthropic",
    "anthropic_stream": "anthropic",
    "anthropic_error": "anthropic",
}
REPLIES_SUFFIX = ".replies.json"


@dataclass(frozen=True)
class ScriptedReply:
    builder: str  # a name in BUILDERS
    arguments: dict[str, Any]

    @property
    def provider(self) -> str:
        return BUILDERS[self.builder]


@dataclass(frozen=True)
class Scripted:
    note: str
    replies: tuple[ScriptedReply, ...]


@dataclass(frozen=True)
class PlannedCheck:
    check_id: str
    test_name: str
    cassette: Path | None  # None: the check sends nothing, so there is nothing to record
    providers: tuple[str, ...]
    left_alone: bool  # its cassette is synthetic already: never re-recorded
    scripted: Scripted | None

    @property
    def records(self) -> bool:
        return self.cassette is not None and not self.left_alone


def replies_file(cassette: Path) -> Path:
    return cassette.with_name(cassette.name.removesuffix(".yaml") + REPLIES_SUFFIX)


def load_scripted(path: Path) -> Scripted | None:
    """The replies scripted in `path`, or None when there is no such file; StaffError naming what is wrong."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StaffError(f"{path}: not readable JSON ({exc}); see grader/staff/record_plan.py for the format") from None
    if not isinstance(data, dict) or not isinstance(data.get("note"), str) or not data["note"].strip():
        raise StaffError(f'{path}: needs a "note" saying why the cassette is synthetic, and a "replies" list')
    entries = data.get("replies")
    if not isinstance(entries, list) or not entries:
        raise StaffError(f'{path}: "replies" must be a non-empty list of {{"builder": {{arguments}}}} entries')
    replies = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and len(entry) == 1):
            raise StaffError(f"{path}: reply {i} must be one {{builder: {{arguments}}}} pair, got {entry!r}")
        ((builder, arguments),) = entry.items()
        if builder not in BUILDERS or not isinstance(arguments, dict):
            raise StaffError(
                f"{path}: reply {i} names {builder!r}; the builders are {', '.join(BUILDERS)}, "
                "each with a dict of keyword arguments"
            )
        replies.append(ScriptedReply(builder, arguments))
    return Scripted(data["note"].strip(), tuple(replies))


def _client_fixtures(exercise_id: str, suites_dir: Path) -> dict[str, tuple[str, ...]]:
    """{test name: providers whose client it takes}, from the suites' source."""
    found: dict[str, tuple[str, ...]] = {}
    for path in rubric.suite_files(exercise_id, suites_dir):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                names = [a.arg for a in node.args.args]
                found[node.name] = tuple(CLIENT_FIXTURES[n] for n in names if n in CLIENT_FIXTURES)
    return found


def plan(
    loaded: rubric.ExerciseRubric, cassettes: Path, only: Sequence[str] = (), suites_dir: Path = SUITES_DIR
) -> list[PlannedCheck]:
    """The checks a recording of `loaded` (or of its `only` checks) covers, in the order the judge runs them."""
    exercise_id = loaded.exercise.id
    fixtures = _client_fixtures(exercise_id, suites_dir)
    checks = []
    # The judge runs the suite files in name order and each file's checks in source order.
    for path in rubric.suite_files(exercise_id, suites_dir):
        for check in rubric.checks_of_file(path, exercise_id):
            if only and check.test_name not in only:
                continue
            cassette = cassettes / exercise_id / f"{check.cassette}.yaml" if check.cassette is not None else None
            left_alone = cassette is not None and cassette.is_file() and _synthetic(cassette)
            scripted = load_scripted(replies_file(cassette)) if cassette is not None else None
            providers = fixtures.get(check.test_name, ())
            checks.append(PlannedCheck(check.id, check.test_name, cassette, providers, left_alone, scripted))
    return checks


def _synthetic(path: Path) -> bool:
    try:
        return replay.is_synthetic(path)
    except StaffError:
        return False  # a corrupt cassette is simply recorded again


def mark_synthetic(cassette: Path, note: str) -> None:
    """Append the metadata that makes `record` leave this cassette alone from now on."""
    text = cassette.read_text(encoding="utf-8")
    block = f"metadata:\n  synthetic: true\n  note: {json.dumps(note)}\n"
    cassette.write_text(text + ("" if text.endswith("\n") else "\n") + block, encoding="utf-8")


def missing_keys(checks: Sequence[PlannedCheck], environ: dict[str, str]) -> dict[str, list[str]]:
    """{key variable: the checks that need it} for each needed key that is not set (or blank)."""
    missing: dict[str, list[str]] = {}
    for check in checks:
        if not check.records:
            continue
        for provider in check.providers:
            if not environ.get(KEYS[provider], "").strip():
                missing.setdefault(KEYS[provider], []).append(check.test_name)
    return missing


def refuse_missing_keys(checks: Sequence[PlannedCheck], environ: dict[str, str]) -> None:
    """UsageError naming every missing key and the checks that need it; nothing has been touched yet."""
    missing = missing_keys(checks, environ)
    if not missing:
        return
    lines = [f"{key} is missing: needed by {', '.join(names)}" for key, names in missing.items()]
    raise UsageError(
        "record needs the API keys of the checks it records, and nothing was recorded or changed:\n  "
        + "\n  ".join(lines)
        + "\nSet them in the environment (or record against the local fake API with --fake)."
    )
