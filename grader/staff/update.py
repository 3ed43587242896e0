"""What a batch finds already written where it is told to write, and `batch --update`'s kept rows.

A gradebook is staff data: a batch of one student pointed at the class's `grades.csv` must never replace
the class with that one row. Before anything is graded, the batch reads which submissions the CSV and
the folder's manifest already hold; when some are not being graded now, it refuses, or with `--update`
keeps their rows (rebuilt from their feedback JSON, as `merge` does) and replaces only the ones it grades.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from grader import course
from grader.errors import UsageError
from grader.staff import gradebook, shards


def _csv_names(path: Path) -> list[str]:
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None:
                return []  # an empty file holds no gradebook
            if "submission" not in reader.fieldnames:
                raise UsageError(
                    f"--csv {path} exists and is not a gradebook (no 'submission' column); "
                    "choose another --csv, or move that file away. Nothing was written."
                )
            # A name that a spreadsheet would run as a formula was written with a leading quote.
            return [row["submission"][1:] if row["submission"][:2] in ("'=", "'+", "'-", "'@") else row["submission"]
                    for row in reader]  # fmt: skip
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--csv {path} exists but cannot be read ({exc}); nothing was written") from None


def existing(csv_path: Path) -> tuple[list[str], tuple[str, ...] | None]:
    """Submissions the gradebook at `csv_path` and its folder's manifest hold, and the manifest's exercises."""
    names = _csv_names(csv_path)
    exercises = None
    if (csv_path.parent / shards.MANIFEST).is_file():
        manifest = shards.read_manifest(csv_path.parent)
        names += [n for n in manifest.submissions if n not in names]
        exercises = manifest.exercises
    return sorted(set(names)), exercises


def refusal(csv_path: Path, held: Sequence[str], others: Sequence[str], directory: Path) -> UsageError:
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return UsageError(
        f"--csv {csv_path} (or {shards.MANIFEST} beside it) already holds the gradebook of {len(held)} "
        f"submission(s), {len(others)} of them not in {directory} ({shown}): writing would drop their rows. "
        f"Pass --update to re-grade only the submissions in {directory} and keep every other row, feedback file "
        "and report entry, or write to another --csv. Nothing was written."
    )


def kept_rows(names: Sequence[str], feedback_dir: Path | None, exercises: Sequence[course.Exercise],
              held_exercises: tuple[str, ...] | None) -> list[gradebook.Row]:  # fmt: skip
    """The rows `--update` keeps, rebuilt from their feedback JSON; UsageError before anything is graded."""
    if not names:
        return []
    if feedback_dir is None:
        raise UsageError("--update keeps the other rows from their feedback JSON: it cannot run with --no-feedback")
    ids = tuple(e.id for e in exercises)
    if held_exercises is not None and tuple(held_exercises) != ids:
        raise UsageError(
            f"--update: the gradebook was graded on {', '.join(held_exercises)}, this run on {', '.join(ids)}; "
            "grade the same exercises (-e) so every row has the same columns. Nothing was written."
        )
    return [shards.feedback_row(feedback_dir, name, exercises) for name in names]
