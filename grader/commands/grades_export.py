"""`grader grades-export OUT_DIR --roster CSV`: a batch's (or a merge's) grades as LMS import files.

Writes `moodle-import.csv` and, given the gradebook export downloaded from Canvas, `canvas-import.csv`
into OUT_DIR (or --to). Students are matched through the roster, exactly; roster names with no
submission, submissions with no roster row and identifiers Canvas does not know are listed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.errors import UsageError
from grader.exitcodes import EXIT_OK
from grader.parent import grading
from grader.staff import gradebook, lms, shards

NAME = "grades-export"
HELP = "write a Canvas and a Moodle grade import from a batch's output, matching students through a roster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="the output folder of `batch` or `merge`")
    parser.add_argument(
        "--roster",
        type=Path,
        required=True,
        metavar="CSV",
        help="folder name to student identifier (GitHub Classroom's roster)",
    )
    parser.add_argument(
        "--roster-folder-column", metavar="NAME", help=f"roster column of folder names (default {lms.CLASSROOM_FOLDER})"
    )
    parser.add_argument(
        "--roster-id-column", metavar="NAME", help=f"roster column of student identifiers (default {lms.CLASSROOM_ID})"
    )
    parser.add_argument("--canvas-export", type=Path, metavar="CSV", help="the gradebook export downloaded from Canvas")
    parser.add_argument(
        "--canvas-assignment", metavar="TITLE", help="the assignment column to fill: 'Title (id)', its title or its id"
    )
    parser.add_argument("--moodle-item", default="Autograder", metavar="NAME", help="the Moodle grade column's name")
    parser.add_argument(
        "--moodle-id-header", default="Identifier", metavar="NAME", help="the Moodle identifier column's name"
    )
    parser.add_argument("--to", type=Path, metavar="DIR", help="where to write the files (default OUT_DIR)")


def rows_of(out: Path) -> tuple[list[gradebook.Row], int]:
    """The rows of a batch or merge output folder (from its feedback JSON) and the maximum total."""
    if not (out / shards.MANIFEST).is_file():
        raise UsageError(f"{out}: no {shards.MANIFEST}; give the output folder of `grader batch` or `grader merge`")
    manifest = shards.read_manifest(out)
    if manifest.feedback is None:
        raise UsageError(f"{out}: graded with --no-feedback; the export reads each submission's feedback JSON")
    feedback = out / manifest.feedback
    exercises = grading.select(manifest.exercises)
    rows = [shards.feedback_row(feedback, n, exercises) for n in manifest.submissions]
    maximum = sum(e.weight for e in exercises)
    return rows, maximum


def _list(console: Console, what: str, names: tuple[str, ...]) -> None:
    if names:
        console.print(f"[yellow]{escape(what)} ({len(names)}):[/] {escape(', '.join(names))}", soft_wrap=True)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.canvas_export is not None and not args.canvas_assignment:
        raise UsageError("--canvas-export needs --canvas-assignment: the title or id of the assignment to fill")
    if args.canvas_assignment and args.canvas_export is None:
        raise UsageError("--canvas-assignment needs --canvas-export: the gradebook export downloaded from Canvas")
    rows, maximum = rows_of(args.out)
    roster = lms.read_roster(args.roster, args.roster_folder_column, args.roster_id_column)
    grades = lms.match(rows, roster, maximum)
    target: Path = args.to or args.out
    canvas = None
    if args.canvas_export is not None:
        canvas = lms.canvas(args.canvas_export, args.canvas_assignment, grades)
    lms.write(target / lms.MOODLE_FILE, lms.moodle(grades, args.moodle_item, args.moodle_id_header))
    graded = sum(1 for s in grades.scores.values() if s is not None)
    console.print(f"Moodle import written to {escape(str(target / lms.MOODLE_FILE))}: {graded} grade(s)")
    if canvas is not None:
        lms.write(target / lms.CANVAS_FILE, canvas.text)
        console.print(
            f"Canvas import written to {escape(str(target / lms.CANVAS_FILE))}: column {escape(canvas.column)}, "
            f"{canvas.filled} grade(s)"
        )
        _list(console, "Identifiers no Canvas student has (left out)", canvas.not_in_canvas)
        _list(console, "Identifiers more than one Canvas student has (left out)", canvas.ambiguous)
    _list(console, "Roster students with no submission (cell left empty)", grades.no_submission)
    _list(console, "Roster students with no folder name (cell left empty)", grades.unlinked)
    _list(console, "Submissions no roster row names (not exported)", grades.not_in_roster)
    _list(console, "Submissions with no grade to export (cell left empty; see the gradebook)", grades.not_graded)
    return EXIT_OK
