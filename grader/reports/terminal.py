"""The grade as a student reads it in the terminal: what to fix first, then the table and the total, last.

Each failed check is shown once; failures with one cause are one entry (an exercise not started is a
single line naming its functions); passing checks only with `verbose`. Long feedback is cut, since
the JSON report holds all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.parent import untrusted
from grader.reports import grouping
from grader.scoring import CheckResult, Grade

FEEDBACK_LINES = 8  # per entry; the rest is in the JSON report
OUTPUT_LINES = 10  # the last lines the code printed, under its failure; the JSON report keeps 20 per stream
_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}


def _wrapped(console: Console, text: Text, width: int) -> list[Text]:
    lines = list(text.wrap(console, max(20, width)))
    for line in lines:
        line.rstrip()
    return lines or [Text("")]


def _entry(console: Console, mark: str, text: Text | str, tag: str, style: str) -> None:
    """The entry's first line ends with its tag (right-aligned); wrapped text keeps its indent. No trailing spaces."""
    body = text if isinstance(text, Text) else Text(text)
    body.stylize(style)
    width = console.width
    lines = _wrapped(console, body, width - len(mark) - len(tag) - 3)
    first = Text(f"{mark} ", style=style).append_text(lines[0])
    first.append(" " * max(1, width - len(first) - len(tag)) + tag, style="dim")
    console.print(first, no_wrap=True, crop=False, soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(" " * (len(mark) + 1)).append_text(line), no_wrap=True, crop=False, soft_wrap=True)


def _say(console: Console, text: Text) -> None:
    """A line of text, wrapped to the terminal without trailing spaces."""
    for line in _wrapped(console, text, console.width):
        console.print(line, no_wrap=True, crop=False, soft_wrap=True)


def _indented(console: Console, text: str, style: str = "", *, limit: int = FEEDBACK_LINES, tail: bool = False) -> None:
    lines = text.splitlines()
    shown = lines[-limit:] if tail else lines[:limit]
    more = f"... ({len(lines) - limit} more lines in the JSON report)"
    if len(lines) > limit:
        shown = [more, *shown] if tail else [*shown, more]
    for line in shown:  # feedback quotes the submission: control characters are shown, never obeyed
        for part in _wrapped(console, untrusted.plain(line, style=style), console.width - 4):
            console.print(Text("    ").append_text(part), no_wrap=True, crop=False, soft_wrap=True)


def _exercise_failures(console: Console, exercise: grouping.Exercise) -> None:
    for entry in grouping.entries(exercise):
        style = _STATUS_STYLE.get(entry.status, "red")
        _entry(console, "✗", Text(f"{entry.exercise}: ").append_text(untrusted.plain(entry.title)), entry.tag, style)
        if entry.checks:
            _indented(console, f"checks: {'; '.join(entry.checks)}", "dim")
        if entry.hint:
            _indented(console, f"hint: {entry.hint}", "cyan")
        if entry.feedback:
            _indented(console, entry.feedback)
        if entry.not_run_again:
            names = ", ".join(f"{h}()" for h in entry.not_run_again)
            _indented(console, f"Not run again after their first timeout: {names}.")
        if entry.output:
            _indented(console, entry.output, "dim", limit=OUTPUT_LINES, tail=True)


_LEVEL_STYLE = {"full": "green", "strong": "green", "partial": "yellow"}


def sandbox_line(sandbox: Mapping[str, Any], *, verbose: bool = False, official: bool = False) -> Text:
    """The sandbox's level in one short line; its layers and what is missing only with `verbose` (and in the JSON).

    Official grading (staff read it) always gets the detail, and a weak level there is no student's normal.
    """
    if not sandbox:
        return Text("Sandbox: not used", style="dim")
    level = str(sandbox.get("level", "none"))
    line = Text(f"Sandbox: {level}", style=_LEVEL_STYLE.get(level, "red"))
    if level == "partial" and not official:
        # A student's own machine rarely allows every layer; nothing there needs their action.
        line.append(" (normal on your own computer; nothing to do)", style="dim")
    if verbose or official:
        line.append(f" ({', '.join(sandbox.get('layers', [])) or 'no layer'})", style="dim")
        if missing := sandbox.get("missing"):
            line.append(f"; missing: {', '.join(missing)}", style="dim")
    return line


def print_report(grade: Grade, console: Console, *, verbose: bool = False, official: bool = False) -> None:
    """The sandbox's level, passing checks (verbose only), what to fix, notes, then the table and the total."""
    _say(console, sandbox_line(grade.sandbox, verbose=verbose, official=official))
    if verbose:
        for e in grade.exercises:
            for r in e.results:
                if r.status == "passed":
                    _entry(console, "✓", f"{e.id}: {r.check.name}", _points([r]), "green")
    failing = [grouping.from_grade(e, grade) for e in grade.exercises]
    if any(grouping.entries(f) for f in failing):
        console.print(Text("To fix", style="bold"))
        for f in failing:
            _exercise_failures(console, f)
        console.print()
    for note in grade.notes:
        _say(console, untrusted.plain(f"Note: {note}", style="yellow"))
    console.print(_table(grade))
    _say(console, Text(total_line(grade), style="bold"))


def _points(results: list[CheckResult]) -> str:
    return f"{sum(r.check.points for r in results)} pt"


def total_line(grade: Grade) -> str:
    """The total; with hidden checks absent from this copy, the public score and what they hold apart."""
    hidden = sum(e.hidden_not_run for e in grade.exercises)
    if not hidden:
        return f"Total: {grade.score}/{grade.max_score} ({grade.percent:.1f}%)"
    public = grade.max_score - hidden
    return (
        f"Total: {grade.score}/{public} in public checks; "
        f"{hidden} pt more are graded by hidden checks when you submit"
    )


def _table(grade: Grade) -> Table:
    hidden = any(e.hidden_not_run for e in grade.exercises)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Exercise")
    table.add_column("Public" if hidden else "Score", justify="right")
    if hidden:
        table.add_column("Hidden", justify="right")
    table.add_column("Checks passed", justify="right")
    for e in grade.exercises:
        passed = sum(1 for r in e.results if r.status == "passed")
        public = e.max_score - e.hidden_not_run
        style = "green" if e.score == public else ("red" if e.score == 0 else "yellow")
        row: list[str | Text] = [e.id, Text(f"{e.score}/{public}", style=style)]
        if hidden:
            row.append(Text(f"+{e.hidden_not_run} pt" if e.hidden_not_run else "", style="dim"))
        table.add_row(*row, f"{passed}/{len(e.results)}")
    return table


SLOW_AFTER = 2.0  # seconds a check runs before the progress line says how long it has run


@contextmanager
def progress(
    console: Console, names: Mapping[str, str], *, check_timeout: float
) -> Iterator[Callable[[int, tuple[str, float] | None], None]]:
    """A live progress line on a terminal naming the check that runs; nothing when the output is a file or a pipe.

    `names`: the checks to run (id: name). Yields the callback the runner calls with the number of checks
    finished so far and the check running now, with the seconds it has run.
    """
    total = len(names)
    if not console.is_terminal or total <= 0:
        yield lambda done, running: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=10),
        MofNCompleteColumn(),
        TextColumn("checks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("Grading", total=total)

    def update(done: int, running: tuple[str, float] | None) -> None:
        text = "Grading"
        if running is not None:
            check_id, seconds = running
            name = names.get(check_id, check_id.rpartition("::")[2])
            text = f"{name[:32]} (check {min(done + 1, total)} of {total})"
            if seconds >= SLOW_AFTER:
                text += f": {seconds:.0f} s of its {check_timeout:g} s"
        bar.update(task, completed=min(done, total), description=escape(text))

    with bar:
        yield update
