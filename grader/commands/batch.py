"""`grader batch`: grade every submission in a directory (folders and .zip files) into a CSV gradebook,
per-student feedback and a class report; `--shard K/N` grades one N-th of the class (see `grader merge`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader import course, rubric
from grader.errors import UsageError
from grader.exitcodes import EXIT_CANNOT_GRADE, EXIT_OK
from grader.parent import grading, official, runner, untrusted
from grader.staff import gradebook, shards, update

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


def _shard(text: str) -> tuple[int, int]:
    try:
        return gradebook.parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="one submission per folder or .zip inside")
    parser.add_argument("--csv", type=Path, required=True, metavar="PATH", help="where to write the gradebook")
    parser.add_argument(
        "-j", "--jobs", type=_workers, default=1, metavar="N", help="submissions graded at once (default 1)"
    )
    parser.add_argument("--json-dir", type=Path, metavar="DIR", help="also write each submission's full JSON report")
    parser.add_argument(
        "--feedback-dir",
        type=Path,
        metavar="DIR",
        help="per-student feedback, <name>.md and <name>.json (default: feedback/ beside the CSV)",
    )
    parser.add_argument("--no-feedback", action="store_true", help="write no per-student feedback")
    parser.add_argument(
        "--report", type=Path, metavar="PATH", help="the class report (default: class-report.html beside the CSV)"
    )
    parser.add_argument("--no-report", action="store_true", help="write no class report")
    parser.add_argument(
        "--update",
        action="store_true",
        help="the --csv gradebook holds other submissions too: re-grade only those in DIR, keep every other row",
    )
    parser.add_argument(
        "--no-similarity",
        action="store_true",
        help="do not compare the submissions' code (similarity.csv, similarity.html and the report's section)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="grade only every N-th submission by name, starting at the K-th (a CI matrix job; see `merge`)",
    )
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
        # Threads are enough: each worker waits on its own child process, where the work happens. Each
        # worker's judges fork their sandboxes from one warm server, and are forked from one warm judge: the
        # SDKs, pytest and the suites are loaded once per worker.
        with runner.warm_workers(), ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(
                    gradebook.grade_entry,
                    entry,
                    exercises,
                    cassettes=args.cassettes,
                    time_limit=args.time_limit,
                    check_timeout=args.check_timeout,
                ): entry
                for entry in entries
            }
            try:
                for future in as_completed(futures):
                    entry = futures[future]
                    try:
                        row = future.result()
                    except Exception as exc:  # grade_entry catches everything; this is the last line of defence
                        row = gradebook.Row(entry.name, "error", f"grader crashed: {type(exc).__name__}: {exc}")
                    rows.append(row)
                    line = gradebook.safe_text(f"{row.submission}: {row.total} ({row.status}) {row.message}")
                    progress.console.print(untrusted.plain(line), soft_wrap=True)
                    progress.advance(task)
            except KeyboardInterrupt:
                # Ctrl-C: no queued submission starts and the running ones' judges stop now, not at their time
                # limit (the pool waits for its threads on the way out).
                for future in futures:
                    future.cancel()
                runner.stop_every_judge()
                raise
    return rows


def _finish_row(
    row: gradebook.Row, exercises: Sequence[course.Exercise], feedback_dir: Path | None, json_dir: Path | None
) -> gradebook.Row:
    """`row` with its feedback and JSON report written; a failure to write either is that row's (its message
    says so), never the batch's."""
    if feedback_dir is not None:
        try:
            gradebook.write_feedback(row, exercises, feedback_dir)
        except Exception as exc:  # whatever one submission's feedback does, the other rows are written
            row = gradebook.with_note(row, f"its feedback could not be written ({type(exc).__name__}: {exc})")
    if json_dir is not None:
        try:
            gradebook.write_report(row, json_dir)
        except Exception as exc:
            row = gradebook.with_note(row, f"its JSON report could not be written ({type(exc).__name__}: {exc})")
    return row


def run(args: argparse.Namespace, console: Console) -> int:
    directory: Path = args.directory
    if not directory.is_dir():
        raise UsageError(f"batch {directory}: no such directory (it should hold one folder or .zip per submission)")
    official.require_official("batch", allow_weak=args.allow_weak_sandbox)
    runner.judges_told()  # a bad GRADER_JUDGES stops the batch once, before any row
    exercises = grading.select(args.exercise)
    for exercise in exercises:  # a broken suite is found once, before any submission is graded
        rubric.load(exercise)
    everyone, skipped = gradebook.entries(directory)
    if skipped:
        console.print(untrusted.plain(f"Skipped (hidden): {', '.join(skipped)}"))
    if not everyone:
        raise UsageError(f"batch {directory}: no submissions (folders or .zip files) inside")
    entries = gradebook.shard_of(everyone, *args.shard) if args.shard else everyone
    out = args.csv.parent
    if args.no_feedback:
        args.feedback_dir = None
    elif args.feedback_dir is None:
        args.feedback_dir = out / shards.FEEDBACK_DIR
    report_path = None if args.no_report else (args.report or out / shards.REPORT_FILE)
    # Before anything is graded or written: a gradebook of other submissions is never replaced silently.
    held, held_exercises = update.existing(args.csv)
    others = [name for name in held if name not in {e.name for e in entries}]
    if others and not args.update:
        raise update.refusal(args.csv, held, others, directory)
    if args.update and args.shard:
        raise UsageError("--update re-grades some submissions of a whole class; it does not go with --shard")
    kept = update.kept_rows(others, args.feedback_dir, exercises, held_exercises)
    for folder in (args.json_dir, args.feedback_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(args.jobs, len(entries)))
    part = f" (shard {args.shard[0]}/{args.shard[1]} of {len(everyone)})" if args.shard else ""
    console.print(f"Grading {len(entries)} submission(s){part} with {jobs} worker(s) on {os.cpu_count()} CPU(s)")
    try:
        graded = _grade_all(entries, exercises, args, console)
    except KeyboardInterrupt:
        reports = " and the JSON reports" if args.json_dir else ""
        told = f"Nothing was written: {args.csv}, the feedback{reports} are as they were."
        raise KeyboardInterrupt(told) from None
    # Only now, once every submission is graded: a batch stopped half-way replaces no student's feedback or report.
    graded = [_finish_row(row, exercises, args.feedback_dir, args.json_dir) for row in graded]
    rows = kept + graded
    if kept:
        console.print(f"--update: {len(graded)} row(s) re-graded, {len(kept)} kept as they were")
    gradebook.write_csv(rows, exercises, args.csv)
    shards.write_manifest(
        out,
        shards.Manifest(
            shard=args.shard,
            everyone=tuple(sorted({*(e.name for e in everyone), *(r.submission for r in kept)})),
            submissions=tuple(sorted(r.submission for r in rows)),
            exercises=tuple(e.id for e in exercises),
            csv=args.csv.name,
            feedback=shards.relative(args.feedback_dir, out),
        ),
    )
    counts = {s: sum(1 for r in rows if r.status == s) for s in gradebook.STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    console.print(f"Gradebook written to {escape(str(args.csv))}: {len(rows)} row(s): {summary}")
    if args.feedback_dir is not None:
        console.print(f"Feedback for each student (Markdown and JSON) in {escape(str(args.feedback_dir))}")
    similar = None
    if kept and not args.no_similarity:
        # The comparison needs every submission's code, and --update has only the re-graded ones: the
        # similarity files of the last full batch are left as they were.
        console.print("Similarity: not recomputed by --update (the last full batch's files are kept as they were)")
    elif not args.no_similarity:
        similar = shards.write_similarity(entries, exercises, out, console, title=f"{directory.name}{part}")
    if report_path is not None:
        shards.write_class_report(
            rows,
            exercises,
            report_path,
            console,
            title=f"Class report: {directory.name}{part}",
            feedback=args.feedback_dir,
            similar=similar,
        )
    if any(r.status == "grader-error" for r in graded):
        console.print("[bold magenta]Grader problem:[/] some checks could not be graded because of the harness.")
        return EXIT_CANNOT_GRADE
    return EXIT_OK
