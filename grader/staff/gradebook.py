"""Batch grading into a gradebook: one row per submission, whatever happens to it.

Each submission is graded by `grade_submission()` (one child process); a submission that cannot
be unpacked, crashes the grading or runs out of time still gets its row, with a status, a total
(0 when nothing could be graded) and a one-line message, and never stops the batch. Each row also
has its feedback: `<name>.json` (the grade report plus the row) and `<name>.md` for the student.
"""

from __future__ import annotations

import csv
import io
import json
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
    stems = [unpack.split_suffix(p.name)[0] for p in children if not p.is_dir()]
    folders = {p.name for p in children if p.is_dir()}
    for child in children:
        if child.name.startswith(".") or child.name == "__MACOSX":
            skipped.append(child.name)
        elif child.is_dir():
            found.append(Entry(child.name, child))
        else:
            # alice.zip is "alice" unless that name is taken by a folder or another file.
            stem = unpack.split_suffix(child.name)[0]
            clash = stem in folders or stems.count(stem) > 1
            found.append(Entry(child.name if clash else stem, child))
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
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


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
    json_dir: Path | None = None,
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
    if json_dir is not None:
        report.write_json(result, json_dir / f"{entry.name}.json")
    status, message = _message(result)
    scores = {e.id: e.score for e in result.exercises}
    return Row(entry.name, status, _one_line(message), scores, result.score, took(), report.as_json(result))


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


def row_of(record: Mapping[str, Any]) -> Row:
    """The row a feedback JSON was written from (what `merge` rebuilds the gradebook with)."""
    graded = bool(record.get("exercises"))
    return Row(
        str(record["submission"]),
        str(record["status"]),
        str(record["message"]),
        {str(e["id"]): int(e["score"]) for e in record.get("exercises", [])},
        int(record["score"]),
        float(record.get("seconds", 0.0)),
        dict(record) if graded else None,
    )


def write_feedback(row: Row, exercises: Sequence[course.Exercise], directory: Path) -> None:
    """`<name>.json` (the record) and `<name>.md` (what the student reads) in `directory`."""
    record = record_of(row, exercises)
    _write(directory / f"{row.submission}.json", json.dumps(record, indent=2) + "\n")
    title = f"{row.submission}: {row.status}" if row.status != "graded" else row.submission
    text = markdown.render(record, title=f"Grade of {title}")
    _write(directory / f"{row.submission}.md", text)


def read_feedback(directory: Path, name: str) -> dict[str, Any]:
    """The feedback JSON of submission `name`; StaffError naming the file when it is missing or broken."""
    path = directory / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaffError(f"{path}: cannot read the feedback of {name!r} ({exc})") from None
    if not isinstance(record, dict) or record.get("submission") != name:
        raise StaffError(f"{path}: not the feedback JSON of {name!r}")
    return record


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def safe_cell(cell: object) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; names and messages must not."""
    text = "" if cell is None else str(cell)
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
