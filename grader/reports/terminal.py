"""The grade as a student reads it in the terminal: what to fix first, then the table and the total, last.

Each failed check is shown once; failures with one cause are one entry (an exercise not started is a
single line naming its functions); passing checks only with `verbose`. Long feedback is cut, since
the JSON report holds all of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.parent import untrusted
from grader.scoring import CheckResult, ExerciseResult, Grade

FEEDBACK_LINES = 8  # per entry; the rest is in the JSON report
_NOT_IMPLEMENTED = re.compile(r"^Not implemented yet: (\w+)")
_NOT_RUN_AGAIN = re.compile(r" (\w+)\(\) ran out of time in an earlier check, so it was not run again\.$")
_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}


def _unstarted(result: CheckResult) -> str | None:
    found = _NOT_IMPLEMENTED.match(result.feedback)
    return found.group(1) if found else None


def _entry(console: Console, mark: str, text: str, tag: str, style: str) -> None:
    """One line per entry; wrapped text keeps its indent and the tag never breaks."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_row(Text(mark, style=style), Text(text, style=style), Text(tag, style="dim"))
    console.print(grid)


def _indented(console: Console, text: str, style: str = "") -> None:
    lines = text.splitlines()
    shown = lines[:FEEDBACK_LINES]
    if len(lines) > FEEDBACK_LINES:
        shown.append(f"... ({len(lines) - FEEDBACK_LINES} more lines in the JSON report)")
    for line in shown:  # feedback quotes the submission: control characters are shown, never obeyed
        console.print(Padding(untrusted.plain(line, style=style), (0, 0, 0, 4)))


def _points(results: list[CheckResult]) -> str:
    return f"{sum(r.check.points for r in results)} pt"


def _exercise_failures(console: Console, exercise: ExerciseResult) -> None:
    failed = [r for r in exercise.results if r.status != "passed"]
    if not failed:
        return
    unstarted = [r for r in failed if _unstarted(r)]
    functions = list(dict.fromkeys(name for r in unstarted if (name := _unstarted(r))))
    if unstarted and len(failed) == len(exercise.results):  # nothing passes yet: one line, whatever else failed
        text = f"{exercise.id}: not started; write {', '.join(functions)}"
        _entry(console, "✗", text, f"{len(failed)} checks, {_points(failed)}", "red")
        return
    if unstarted:
        text = f"{exercise.id}: not written yet: {', '.join(functions)}"
        _entry(console, "✗", text, f"{len(unstarted)} checks, {_points(unstarted)}", "red")
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for r in failed:
        if r in unstarted:
            continue
        # Checks share a cause when they share their (non-empty) feedback: an import error, a hang
        # (the first timeout of a function and its later fail-fast checks read alike).
        feedback = _NOT_RUN_AGAIN.sub("", r.feedback)
        key = (r.status, feedback) if feedback else (r.status, r.check.id)
        groups.setdefault(key, []).append(r)
    for (status, feedback), members in groups.items():
        style = _STATUS_STYLE.get(status, "red")
        if len(members) == 1:
            (r,) = members
            _entry(console, "✗", f"{exercise.id}: {r.check.name}", f"{status}, {_points(members)}", style)
            _indented(console, f"hint: {r.check.hint}", "cyan")
        else:
            names = "; ".join(r.check.name for r in members)
            text = f"{exercise.id}: {len(members)} checks, one cause: {names}"
            _entry(console, "✗", text, f"{status}, {_points(members)}", style)
        _indented(console, feedback if len(members) > 1 else members[0].feedback)
        hung = list(dict.fromkeys(m.group(1) for r in members if (m := _NOT_RUN_AGAIN.search(r.feedback))))
        if len(members) > 1 and hung:
            _indented(console, f"Not run again after their first timeout: {', '.join(f'{h}()' for h in hung)}.")


def sandbox_line(sandbox: Mapping[str, Any]) -> Text:
    """The header line naming the confinement the submission ran under."""
    if not sandbox:
        return Text("Sandbox: not used", style="dim")
    level = str(sandbox.get("level", "none"))
    line = Text(f"Sandbox: {level}", style={"full": "green", "strong": "green", "partial": "yellow"}.get(level, "red"))
    line.append(f" ({', '.join(sandbox.get('layers', [])) or 'no layer'})", style="dim")
    if missing := sandbox.get("missing"):
        line.append(f"; missing: {', '.join(missing)}", style="dim")
    return line


def print_report(grade: Grade, console: Console, *, verbose: bool = False) -> None:
    """The sandbox's level, passing checks (verbose only), what to fix, notes, then the table and the total."""
    console.print(sandbox_line(grade.sandbox))
    if verbose:
        for e in grade.exercises:
            for r in e.results:
                if r.status == "passed":
                    _entry(console, "✓", f"{e.id}: {r.check.name}", _points([r]), "green")
    if any(r.status != "passed" for e in grade.exercises for r in e.results):
        console.print(Text("To fix", style="bold"))
        for e in grade.exercises:
            _exercise_failures(console, e)
        console.print()
    hidden = [(e.id, e.hidden_not_run) for e in grade.exercises if e.hidden_not_run]
    if hidden:
        total = sum(points for _, points in hidden)
        console.print(
            Text(
                f"Hidden checks worth {total} more points ({', '.join(f'{i} {p}' for i, p in hidden)}) are not in "
                "this copy of the grader; they run at official grading.",
                style="yellow",
            )
        )
    for note in grade.notes:
        console.print(untrusted.plain(f"Note: {note}", style="yellow"))
    console.print(_table(grade))
    console.print(Text(f"Total: {grade.score}/{grade.max_score} ({grade.percent:.1f}%)", style="bold"))


def _table(grade: Grade) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Exercise")
    table.add_column("Score", justify="right")
    table.add_column("Checks passed", justify="right")
    for e in grade.exercises:
        passed = sum(1 for r in e.results if r.status == "passed")
        style = "green" if e.score == e.max_score else ("red" if e.score == 0 else "yellow")
        table.add_row(e.id, Text(f"{e.score}/{e.max_score}", style=style), f"{passed}/{len(e.results)}")
    return table


@contextmanager
def progress(console: Console, total: int) -> Iterator[Callable[[int], None]]:
    """A live progress line on a terminal; nothing at all when the output is a file or a pipe.

    Yields the callback the runner calls with the number of checks finished so far.
    """
    if not console.is_terminal or total <= 0:
        yield lambda done: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("Grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("checks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("grading", total=total)
    with bar:
        yield lambda done: bar.update(task, completed=min(done, total))
