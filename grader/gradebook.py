"""Batch grading into a gradebook: one row per submission, whatever happens to it.

Each submission is graded by `grade_submission()` (one child process); a submission that cannot
be unpacked, crashes the grading or runs out of time still gets its row, with a status and a
message, and never stops the batch.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader import course, grading, report, runner, safe_write, unpack
from grader.errors import StaffError

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
    scores: dict[str, int] = field(default_factory=dict)  # empty unless graded
    total: int | None = None


def entries(directory: Path) -> tuple[list[Entry], list[str]]:
    """The submissions in `directory` (folders and .zip files, by name) and the names skipped."""
    found: list[Entry] = []
    skipped: list[str] = []
    children = sorted(directory.iterdir(), key=lambda p: p.name)
    stems = [p.stem for p in children if p.is_file() and p.suffix.lower() == ".zip"]
    folders = {p.name for p in children if p.is_dir()}
    for child in children:
        if child.name.startswith(".") or child.name == "__MACOSX":
            skipped.append(child.name)
        elif child.is_dir():
            found.append(Entry(child.name, child))
        elif child.is_file() and child.suffix.lower() == ".zip":
            # alice.zip is "alice" unless that name is taken by a folder or another zip.
            clash = child.stem in folders or stems.count(child.stem) > 1
            found.append(Entry(child.name if clash else child.stem, child))
        else:
            skipped.append(child.name)
    return found, skipped


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


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
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as workdir:
        try:
            directory = unpack.prepare(entry.path, Path(workdir))
        except unpack.UnpackError as exc:
            return Row(entry.name, "invalid", _one_line(str(exc)))
        except OSError as exc:
            return Row(entry.name, "invalid", _one_line(f"{entry.path.name}: cannot be read ({exc})"))
        try:
            result = grading.grade_submission(
                exercises, directory, cassettes=cassettes, time_limit=time_limit, check_timeout=check_timeout
            )
        except StaffError as exc:
            return Row(entry.name, "error", _one_line(f"grading failed: {str(exc).splitlines()[0]}"))
        except Exception as exc:  # a crash of the grader on this submission must not stop the batch
            return Row(entry.name, "error", _one_line(f"grader crashed: {type(exc).__name__}: {exc}"))
    if json_dir is not None:
        report.write_json(result, json_dir / f"{entry.name}.json")
    scores = {e.id: e.score for e in result.exercises}
    if result.staff_errors:
        status = "grader-error"
        message = f"{len(result.staff_errors)} check(s) hit a harness problem: {result.staff_errors[0].feedback}"
    elif any(note.startswith("grading hit its time limit") for note in result.notes):
        status, message = "timeout", "; ".join(result.notes)
    elif crashed := [r for e in result.exercises for r in e.results if r.status == "error"]:
        status = "crashed"
        message = f"{len(crashed)} check(s) ended in an error: {crashed[0].check.id}: {crashed[0].feedback}"
    else:
        status, message = "graded", "; ".join(result.notes)
    return Row(entry.name, status, _one_line(message), scores, result.score)


def _safe(cell: object) -> str:
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
                _safe(row.submission),
                *(row.scores.get(e.id, "") for e in exercises),
                "" if row.total is None else row.total,
                maximum,
                row.status,
                _safe(row.message),
            ]
        )
    safe_write.write_text(path, text.getvalue())
