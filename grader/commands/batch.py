"""`grader batch`: grade every submission in a directory (folders and .zip files) into a CSV gradebook."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader import course, gradebook, grading, rubric, runner, terminal
from grader.errors import UsageError
from grader.exitcodes import EXIT_CANNOT_GRADE, EXIT_OK
from grader.sandbox import official

NAME = "batch"
HELP = "grade a directory of submissions in parallel into a CSV gradebook"


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"-j takes a number of parallel workers (1 or more), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="one submission per folder or .zip inside")
    parser.add_argument("--csv", type=Path, required=True, metavar="PATH", help="where to write the gradebook")
    parser.add_argument(
        "-j", "--jobs", type=_workers, default=1, metavar="N", help="submissions graded at once (default 1)"
    )
    parser.add_argument("--json-dir", type=Path, metavar="DIR", help="also write each submission's full JSON report")
    parser.add_argument(
        "-e", "--exercise", action="append", default=[], metavar="ID", help="grade only this exercise (repeatable)"
    )
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit per submission (s)")
    parser.add_argument(
        "--check-timeout", type=float, default=runner.DEFAULT_CHECK_TIMEOUT, help="time limit of each check (s)"
    )
    parser.add_argument("--cassettes", type=Path, default=course.CASSETTES_DIR, help=argparse.SUPPRESS)
    parser.add_argument(
        "--allow-weak-sandbox",
        action="store_true",
        help="grade even when this machine cannot confine student code fully",
    )


def _grade_all(
    entries: Sequence[gradebook.Entry], exercises: Sequence[course.Exercise], args: argparse.Namespace, console: Console
) -> list[gradebook.Row]:
    rows: list[gradebook.Row] = []
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Grading", total=len(entries))
        # Threads are enough: each worker waits on its own child process, where the work happens.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(
                    gradebook.grade_entry,
                    entry,
                    exercises,
                    cassettes=args.cassettes,
                    time_limit=args.time_limit,
                    check_timeout=args.check_timeout,
                    json_dir=args.json_dir,
                ): entry
                for entry in entries
            }
            for future in as_completed(futures):
                entry = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # grade_entry catches everything; this is the last line of defence
                    row = gradebook.Row(entry.name, "error", f"grader crashed: {type(exc).__name__}: {exc}")
                rows.append(row)
                score = f"{row.total}" if row.total is not None else "-"
                line = f"{row.submission}: {score} ({row.status}) {row.message}"
                progress.console.print(terminal.plain(line))
                progress.advance(task)
    return rows


def run(args: argparse.Namespace, console: Console) -> int:
    directory: Path = args.directory
    if not directory.is_dir():
        raise UsageError(f"batch {directory}: no such directory (it should hold one folder or .zip per submission)")
    official.require_full("batch", allow_weak=args.allow_weak_sandbox)
    exercises = grading.select(args.exercise)
    for exercise in exercises:  # a broken suite is found once, before any submission is graded
        rubric.load(exercise)
    entries, skipped = gradebook.entries(directory)
    if skipped:
        console.print(terminal.plain(f"Skipped (not a folder or .zip): {', '.join(skipped)}"))
    if not entries:
        raise UsageError(f"batch {directory}: no submissions (folders or .zip files) inside")
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    jobs = min(args.jobs, len(entries))
    console.print(f"Grading {len(entries)} submission(s) with {jobs} worker(s) on {os.cpu_count()} CPU(s)")
    rows = _grade_all(entries, exercises, args, console)
    gradebook.write_csv(rows, exercises, args.csv)
    counts = {s: sum(1 for r in rows if r.status == s) for s in gradebook.STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    console.print(f"Gradebook written to {escape(str(args.csv))}: {len(rows)} row(s): {summary}")
    if counts["grader-error"]:
        console.print("[bold magenta]Grader problem:[/] some checks could not be graded because of the harness.")
        return EXIT_CANNOT_GRADE
    return EXIT_OK
