"""Grades into the LMS: a Canvas gradebook import and a Moodle grade import, through a roster (staff only).

Submissions are named by folder (with GitHub Classroom, the student's GitHub username). A roster
CSV maps each folder name to the student's identifier (GitHub Classroom's roster: `github_username`
to `identifier`). Nothing is guessed: names are matched exactly, and every name that matches
nothing is listed.

Canvas (`lib/gradebook_importer.rb` in canvas-lms): columns `Student`, `ID`, then `SIS User ID` and
`SIS Login ID` when the course has them, then `Section`; then one column per assignment named
`Title (id)`, and an optional `Points Possible` row first. Canvas matches students by ID, then SIS
User ID, then SIS Login ID, so the file is built from the gradebook export staff download from
Canvas: its identity columns are copied as they are and one assignment column is filled.

Moodle's grade import maps one column to a user field (username, ID number or email) and the others
to grade items: the file has the roster's identifier and one grade column.

A student with no graded submission keeps an empty cell, never a 0 that nobody earned.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError
from grader.parent import safe_write
from grader.staff import gradebook

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_MATCH = ("ID", "SIS User ID", "SIS Login ID")  # Canvas's own order
POINTS_POSSIBLE = "Points Possible"
ASSIGNMENT = re.compile(r"^(?P<title>.*) \((?P<id>\d+)\)$")
CLASSROOM_FOLDER, CLASSROOM_ID = "github_username", "identifier"  # GitHub Classroom's roster columns
# Rows whose total is a grade: an invalid submission was handed in and earned 0 by the rules;
# `error` has no score and `grader-error` a score the harness could not finish: staff look first.
EXPORTED = ("graded", "crashed", "timeout", "invalid")
CANVAS_FILE = "canvas-import.csv"
MOODLE_FILE = "moodle-import.csv"


def _read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = [{k: (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
            header = [h.strip() for h in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc})") from None
    return header, rows


@dataclass(frozen=True)
class Roster:
    """Folder name to student identifier, in the roster's order; and the students with no folder name."""

    ids: Mapping[str, str]
    unlinked: tuple[str, ...]  # identifiers whose folder-name cell is empty (never accepted the assignment)


def read_roster(path: Path, folder_column: str | None = None, id_column: str | None = None) -> Roster:
    header, rows = _read_csv(path, "roster")
    folder_column = folder_column or CLASSROOM_FOLDER
    id_column = id_column or CLASSROOM_ID
    absent = [c for c in (folder_column, id_column) if c not in header]
    if absent:
        raise UsageError(
            f"{path}: the roster has no column {', '.join(map(repr, absent))} (its columns: {', '.join(header)}); "
            "name the folder-name and identifier columns with --roster-folder-column and --roster-id-column"
        )
    ids: dict[str, str] = {}
    unlinked: list[str] = []
    for row in rows:
        folder, ident = row.get(folder_column, ""), row.get(id_column, "")
        if not folder and ident:
            unlinked.append(ident)
        elif folder and not ident:
            raise UsageError(f"{path}: {folder!r} has an empty {id_column!r}; fill it in or remove the row")
        elif folder:
            if folder in ids:
                raise UsageError(f"{path}: {folder!r} appears twice in {folder_column!r}; which student is it?")
            ids[folder] = ident
    twice = sorted(i for i, n in Counter([*ids.values(), *unlinked]).items() if n > 1)
    if twice:
        raise UsageError(f"{path}: identifier(s) {', '.join(map(repr, twice))} given to more than one row")
    return Roster(ids, tuple(unlinked))


@dataclass(frozen=True)
class Grades:
    """Each roster identifier's total (None: no grade to give) and what could not be matched."""

    scores: dict[str, int | None]  # identifier -> total, in roster order
    maximum: int
    no_submission: tuple[str, ...]  # roster identifiers (folder) with no submission folder
    not_in_roster: tuple[str, ...]  # submission folders no roster row names
    not_graded: tuple[str, ...]  # folders whose row has no exportable total (status error, grader-error)
    unlinked: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def match(rows: Sequence[gradebook.Row], roster: Roster, maximum: int) -> Grades:
    by_folder = {r.submission: r for r in rows}
    scores: dict[str, int | None] = {}
    no_submission: list[str] = []
    not_graded: list[str] = []
    for folder, ident in roster.ids.items():
        row = by_folder.get(folder)
        if row is None:
            no_submission.append(f"{ident} ({folder})")
            scores[ident] = None
        elif row.status not in EXPORTED:
            not_graded.append(f"{folder} ({row.status})")
            scores[ident] = None
        else:
            scores[ident] = row.total
    for ident in roster.unlinked:
        scores[ident] = None
    return Grades(
        scores,
        maximum,
        tuple(no_submission),
        tuple(sorted(set(by_folder) - set(roster.ids))),
        tuple(not_graded),
        roster.unlinked,
    )


def _cell(score: int | None) -> str:
    return "" if score is None else str(score)


def canvas_column(header: Sequence[str], assignment: str, path: Path) -> str:
    """The export's column for `assignment`: its exact header, or the one `Title (id)` with that title or id."""
    columns = [h for h in header if ASSIGNMENT.match(h)]
    if assignment in columns:
        return assignment
    found = [c for c in columns if (m := ASSIGNMENT.match(c)) and assignment in (m.group("title"), m.group("id"))]
    if len(found) == 1:
        return found[0]
    listed = "; ".join(columns) or "none"
    if found:
        raise UsageError(f"--canvas-assignment {assignment!r} names several columns of {path}: {'; '.join(found)}")
    raise UsageError(
        f"--canvas-assignment {assignment!r} is no assignment column of {path} (its assignments: {listed}); "
        "create the assignment in Canvas, download the gradebook again, and give its title or id"
    )


@dataclass(frozen=True)
class CanvasFile:
    text: str
    column: str
    filled: int
    not_in_canvas: tuple[str, ...]  # roster identifiers no Canvas student has
    ambiguous: tuple[str, ...]  # identifiers that more than one Canvas student has


def canvas(export: Path, assignment: str, grades: Grades) -> CanvasFile:
    """The import file for the Canvas gradebook `export`, with `assignment`'s column filled from `grades`."""
    header, rows = _read_csv(export, "Canvas gradebook export")
    if header[:2] != ["Student", "ID"]:
        raise UsageError(
            f"{export}: not a Canvas gradebook export (its first columns are {header[:2]}, not ['Student', 'ID']); "
            "download it from Canvas: Grades, Export, Export Entire Gradebook"
        )
    column = canvas_column(header, assignment, export)
    identity = [c for c in CANVAS_IDENTITY if c in header]
    students = [r for r in rows if r.get("ID") and POINTS_POSSIBLE not in r.get("Student", "")]
    placed: dict[int, int | None] = {}
    not_in_canvas: list[str] = []
    ambiguous: list[str] = []
    for ident, score in grades.scores.items():
        for key in CANVAS_MATCH:  # the first column that holds the identifier decides, as Canvas matches
            hits = [i for i, r in enumerate(students) if r.get(key) == ident]
            if hits:
                break
        if not hits:
            not_in_canvas.append(ident)
        elif len(hits) > 1:
            ambiguous.append(ident)
        else:
            placed[hits[0]] = score
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([*identity, column])
    writer.writerow([POINTS_POSSIBLE, *([""] * (len(identity) - 1)), str(grades.maximum)])
    for i, student in enumerate(students):
        writer.writerow([*(student.get(c, "") for c in identity), _cell(placed.get(i))])
    filled = sum(1 for s in placed.values() if s is not None)
    return CanvasFile(text.getvalue(), column, filled, tuple(not_in_canvas), tuple(ambiguous))


def moodle(grades: Grades, item: str, id_header: str) -> str:
    """Moodle's grade import: the identifier column and one grade item column, one row per roster student."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([id_header, item])
    for ident, score in grades.scores.items():
        writer.writerow([ident, _cell(score)])
    return text.getvalue()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_text(path, text)
