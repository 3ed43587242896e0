"""Batch grading into a gradebook: one row per submission, whatever happens to it.

Each submission is graded by `grade_submission()` (one child process); a submission that cannot
be unpacked, crashes the grading or runs out of time still gets its row, with a status, a total
(0 when nothing could be graded) and a one-line message, and never stops the batch. Each row also
has its feedback: `<stem>.json` (the grade report plus the row) and `<stem>.md` for the student,
where the stem is the submission's name when it is a plain one and a bounded, unique form of it
otherwise (`file_stem`). Names and messages are made valid text once, here, so that no writer
(CSV, feedback, terminal, class report) can fail on what a submission called itself or printed.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import course, scoring, submission
from grader.errors import StaffError
from grader.parent import grading, report, runner, safe_write
from grader.reports import markdown
from grader.staff import unpack

# graded: scored normally; crashed: the submission ended the grading process during some checks
# (they score 0, the rest were graded in a fresh process); timeout: the whole run hit --time-limit
# (unfinished checks score 0); grader-error: some checks hit a harness problem (staff must look);
# invalid: not a gradable submission (bad zip, zip-slip path, no modules); error: no score at all.
STATUSES = ("graded", "crashed", "timeout", "grader-error", "invalid", "error")
MAX_MESSAGE = 300
# A name used as it is for its feedback files: letters, digits and ._+@- only (no other character a
# file system, a shell or a spreadsheet could read differently), and short enough that `<name>.json.tmp`
# stays far under any file-name limit. Every other name gets a shortened form plus a hash of it.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]{0,99}")
_STEM_KEEP = 60


def safe_text(text: str) -> str:
    """`text` with any lone surrogate (an undecodable file name, a message a submission built) as an escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def display_name(name: str) -> str:
    """A name read from the disk as valid text: bytes that are not UTF-8 shown as `\\xff` escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def file_stem(name: str) -> str:
    """The file name (without suffix) of submission `name`'s feedback: `name` itself when plain, else
    its first characters made plain plus `~` and a hash of the whole name (no plain name holds `~`,
    so two submissions never share a stem)."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    kept = re.sub(r"[^A-Za-z0-9._+@-]", "_", name[:_STEM_KEEP]).lstrip(".-") or "_"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{kept}~{digest}"


def _safe_json(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): _safe_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_json(v) for v in value]
    return value


@dataclass(frozen=True)
class Entry:
    name: str  # the gradebook's `submission` column
    path: Path


@dataclass(frozen=True)
class Row:
    submission: str
    status: str
    message: str = ""
    scores: dict[str, int] = field(default_factory=dict)  # empty when nothing was graded (the CSV shows 0s)
    total: int = 0
    seconds: float = 0.0  # wall-clock grading time, for the class report (never in the CSV)
    report: dict[str, Any] | None = field(default=None, compare=False)  # the JSON report, when graded


def entries(directory: Path) -> tuple[list[Entry], list[str]]:
    """The submissions in `directory` by name (every folder and file) and the hidden names skipped.

    Files that are not .zip archives (a .tar.gz, a lone .py) are entries too: they get an
    `invalid` row that names their format, so nobody's submission silently goes missing.
    """
    found: list[Entry] = []
    skipped: list[str] = []
    children = sorted(directory.iterdir(), key=lambda p: p.name)
    # A link is an entry of its own (refused when graded, with a message naming it), never a folder.
    stems = [unpack.split_suffix(p.name)[0] for p in children if p.is_symlink() or not p.is_dir()]
    folders = {p.name for p in children if not p.is_symlink() and p.is_dir()}
    for child in children:
        if child.name.startswith(".") or child.name == "__MACOSX":
            skipped.append(display_name(child.name))
        elif child.is_dir() and not child.is_symlink():
            found.append(Entry(display_name(child.name), child))
        else:
            # alice.zip is "alice" unless that name is taken by a folder or another file.
            stem = unpack.split_suffix(child.name)[0]
            clash = stem in folders or stems.count(stem) > 1
            found.append(Entry(display_name(child.name if clash else stem), child))
    return found, skipped


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N) as a pair; ValueError naming the bad value."""
    k, slash, n = text.partition("/")
    try:
        shard, count = int(k), int(n)
    except ValueError:
        shard = count = 0
    if not slash or count < 1 or not 1 <= shard <= count:
        raise ValueError(f"--shard takes K/N with 1 <= K <= N (for example 2/20), got {text!r}")
    return shard, count


def shard_of(items: Sequence[Entry], shard: int, count: int) -> list[Entry]:
    """Every `count`-th entry by name, starting at the `shard`-th: shards are disjoint and cover all."""
    ordered = sorted(items, key=lambda e: e.name)
    return ordered[shard - 1 :: count]


def _one_line(text: str) -> str:
    line = " ".join(safe_text(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def with_note(row: Row, note: str) -> Row:
    """`row` with `note` added to its one-line message."""
    return dataclasses.replace(row, message=_one_line(f"{row.message}; {note}" if row.message else note))


def _unloaded(result: scoring.Grade) -> list[str]:
    """'exercise: why it never loaded' for each exercise whose module could not be imported or is missing."""
    reasons = []
    for exercise in result.exercises:
        for check in exercise.results:
            first = check.feedback.split("\n", 1)[0]
            if submission.NOT_IMPORTED in first:
                reasons.append(f"{exercise.id}: {first.split(submission.NOT_IMPORTED)[0].strip().rstrip('.')}")
                break
            if submission.NOT_FOUND in first:
                reasons.append(f"{exercise.id}: {first.split(';')[0]}")
                break
    return reasons


def _message(result: scoring.Grade) -> tuple[str, str]:
    """The row's status and its one-line reason."""
    if result.staff_errors:
        return "grader-error", (
            f"{len(result.staff_errors)} check(s) hit a harness problem: {result.staff_errors[0].feedback}"
        )
    unloaded = _unloaded(result)
    if any(note.startswith("grading hit its time limit") for note in result.notes):
        return "timeout", "; ".join([*result.notes, *unloaded])
    if crashed := [r for e in result.exercises for r in e.results if r.status == "error"]:
        return "crashed", "; ".join(
            [f"{len(crashed)} check(s) ended in an error: {crashed[0].check.id}: {crashed[0].feedback}", *unloaded]
        )
    slow = [r for e in result.exercises for r in e.results if r.status == "timeout"]
    hung = [f"{len(slow)} check(s) ran out of time: {slow[0].check.id}"] if slow else []
    return "graded", "; ".join([*unloaded, *hung, *result.notes])


def grade_entry(
    entry: Entry,
    exercises: Sequence[course.Exercise],
    *,
    cassettes: Path,
    time_limit: float,
    check_timeout: float = runner.DEFAULT_CHECK_TIMEOUT,
) -> Row:
    """Grade one submission into its row; never raises for anything the submission does."""
    started = time.monotonic()

    def took() -> float:
        return round(time.monotonic() - started, 2)

    with tempfile.TemporaryDirectory(prefix="grader-batch-") as workdir:
        try:
            directory = unpack.prepare(entry.path, Path(workdir))
        except unpack.UnpackError as exc:
            return Row(entry.name, "invalid", _one_line(exc.reason), seconds=took())
        except OSError as exc:
            return Row(entry.name, "invalid", _one_line(f"cannot be read ({exc})"), seconds=took())
        try:
            result = grading.grade_submission(
                exercises, directory, cassettes=cassettes, time_limit=time_limit, check_timeout=check_timeout
            )
        except StaffError as exc:
            return Row(entry.name, "error", _one_line(f"grading failed: {str(exc).splitlines()[0]}"), seconds=took())
        except Exception as exc:  # a crash of the grader on this submission must not stop the batch
            return Row(entry.name, "error", _one_line(f"grader crashed: {type(exc).__name__}: {exc}"), seconds=took())
    status, message = _message(result)
    scores = {e.id: e.score for e in result.exercises}
    body = _safe_json(report.as_json(result))
    return Row(entry.name, status, _one_line(message), scores, result.score, took(), body)


def record_of(row: Row, exercises: Sequence[course.Exercise]) -> dict[str, Any]:
    """The submission's feedback JSON: the grade report (schema 1) plus its gradebook row."""
    body = row.report or {
        "schema": report.SCHEMA,
        "score": row.total,
        "max_score": sum(e.weight for e in exercises),
        "exercises": [],
        "notes": [row.message],
    }
    return {**body, "submission": row.submission, "status": row.status, "message": row.message, "seconds": row.seconds}


class RecordError(ValueError):
    """A feedback JSON that is not what `write_feedback` writes; the message names the field."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise RecordError(what)


def _is_int(value: object, low: int = 0, high: int = 10**9) -> bool:
    return type(value) is int and low <= value <= high


def _is_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit and safe_text(value) == value


MAX_RECORD_CHECKS = 10_000  # checks in one feedback JSON (the course has a few hundred)
MAX_RECORD_TEXT = 64 * 1024  # characters of one name, hint, feedback or note


def _check_report(record: Mapping[str, Any], weights: Mapping[str, int]) -> None:
    """The grade-report fields that the gradebook and the class report read, each of its exact type."""
    exercises = record.get("exercises", [])
    _need(isinstance(exercises, list) and len(exercises) <= len(weights), "'exercises' is not a list of the exercises")
    seen: set[str] = set()
    checks = 0
    for exercise in exercises:
        _need(isinstance(exercise, dict), "an exercise is not an object")
        eid = exercise.get("id")
        _need(isinstance(eid, str) and eid in weights and eid not in seen, f"exercise id {str(eid)[:80]!r}")
        seen.add(eid)
        _need(_is_int(exercise.get("score"), 0, weights[eid]), f"{eid}: 'score' is not from 0 to {weights[eid]}")
        tests = exercise.get("tests", [])
        _need(isinstance(tests, list), f"{eid}: 'tests' is not a list")
        checks += len(tests)
        _need(checks <= MAX_RECORD_CHECKS, f"more than {MAX_RECORD_CHECKS} checks")
        for test in tests:
            _need(isinstance(test, dict), f"{eid}: a check is not an object")
            for key in ("id", "name", "status", "visibility"):
                _need(_is_text(test.get(key), MAX_RECORD_TEXT), f"{eid}: a check's {key!r}")
            _need(_is_int(test.get("max_score")), f"{eid}: a check's 'max_score'")
            for key in ("hint", "feedback"):
                value = test.get(key)
                _need(value is None or _is_text(value, MAX_RECORD_TEXT), f"{eid}: a check's {key!r}")
    notes = record.get("notes", [])
    _need(isinstance(notes, list) and all(_is_text(n, MAX_RECORD_TEXT) for n in notes), "'notes'")


def row_of(record: object, name: str, exercises: Sequence[course.Exercise]) -> Row:
    """The row the feedback JSON of submission `name` was written from (what `merge` rebuilds the gradebook
    with), checked field by field: a shard comes from a machine that ran student code.
    RecordError naming the first field that is not as `write_feedback` writes it."""
    _need(isinstance(record, dict), "not a JSON object")
    assert isinstance(record, dict)
    _need(record.get("submission") == name, f"'submission' is not {name!r}")
    _need(record.get("status") in STATUSES, f"'status' is not one of {', '.join(STATUSES)}")
    _need(_is_text(record.get("message"), 4 * MAX_MESSAGE), "'message' is not a one-line text")
    maximum = sum(e.weight for e in exercises)
    _need(_is_int(record.get("score"), 0, maximum), f"'score' is not a whole number from 0 to {maximum}")
    seconds = record.get("seconds", 0.0)
    _need(type(seconds) in (int, float) and 0 <= seconds < 1e7, "'seconds' is not a duration")
    _check_report(record, {e.id: e.weight for e in exercises})
    graded = bool(record.get("exercises"))
    return Row(
        name,
        str(record["status"]),
        str(record["message"]),
        {str(e["id"]): int(e["score"]) for e in record.get("exercises", [])},
        int(record["score"]),
        float(seconds),
        dict(record) if graded else None,
    )


def write_feedback(row: Row, exercises: Sequence[course.Exercise], directory: Path) -> None:
    """`<stem>.json` (the record) and `<stem>.md` (what the student reads) in `directory`."""
    record = record_of(row, exercises)
    as_json, as_markdown = feedback_paths(directory, row.submission)
    _write(as_json, json.dumps(record, indent=2) + "\n")
    title = f"{row.submission}: {row.status}" if row.status != "graded" else row.submission
    text = markdown.render(record, title=f"Grade of {title}")
    _write(as_markdown, text)


def write_report(row: Row, directory: Path) -> None:
    """`<stem>.json` in `directory`: the submission's full grade report (`grade --json`'s schema), when it
    was graded at all (an `invalid` or `error` row has none)."""
    if row.report is not None:
        _write(directory / f"{file_stem(row.submission)}.json", report.json_text(row.report))


def feedback_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """Where `write_feedback` puts submission `name`'s JSON and Markdown in `directory`."""
    stem = file_stem(name)
    return directory / f"{stem}.json", directory / f"{stem}.md"


def _write(path: Path, text: str) -> None:
    safe_write.write_bytes(path, text.encode("utf-8", errors="backslashreplace"))


def safe_cell(cell: object) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; names and messages must not."""
    text = "" if cell is None else safe_text(str(cell))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(rows: Sequence[Row], exercises: Sequence[course.Exercise], path: Path) -> None:
    maximum = sum(e.weight for e in exercises)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["submission", *(e.id for e in exercises), "total", "max", "status", "message"])
    for row in sorted(rows, key=lambda r: r.submission):
        writer.writerow(
            [
                safe_cell(row.submission),
                *(row.scores.get(e.id, 0) for e in exercises),
                row.total,
                maximum,
                row.status,
                safe_cell(row.message),
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_text(path, text.getvalue())
