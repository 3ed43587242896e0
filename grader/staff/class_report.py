"""The class report: what a class got wrong, as one self-contained HTML page (staff only).

Charts are drawn by matplotlib as SVG and put inline, so the page loads nothing from anywhere and
runs no script. Submissions are named by their folder names only, and nothing from a submission
appears but the feedback its checks earned (escaped). Every number is computed here from the
gradebook rows, the same rows the CSV is written from; each chart has a table with its numbers.
"""

from __future__ import annotations

import html
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader import course
from grader.staff.gradebook import STATUSES, Row

SCORED = ("graded", "crashed", "timeout", "grader-error")  # rows with a real score (invalid/error have none)
BINS = 10
TOP_FEEDBACK = 3
SLOWEST = 10
MAX_GROUP = 200  # characters of a feedback line kept as its group's label
BAR = "#3b6ea5"
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.5rem 0}figure svg{max-width:100%;height:auto}
ul.fb{margin:0;padding-left:1.1rem}.muted{color:#666}
"""


@dataclass(frozen=True)
class CheckStat:
    exercise: str
    check_id: str
    name: str
    points: int
    visibility: str
    attempts: int
    passed: int
    failures: tuple[tuple[str, int], ...]  # (feedback, submissions), most common first

    @property
    def share(self) -> float:
        return self.passed / self.attempts if self.attempts else 0.0


def scored(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.status in SCORED]


def _group(test: dict[str, Any]) -> str:
    lines = [" ".join(line.split()) for line in str(test.get("feedback", "")).splitlines()]
    first = next((line for line in lines if line), "")
    if not first:
        hidden = " (hidden check: its feedback is not shown)" if test.get("visibility") == "hidden" else ""
        return f"{test['status']}, no feedback{hidden}"
    return first if len(first) <= MAX_GROUP else first[: MAX_GROUP - 3] + "..."


def check_stats(rows: Sequence[Row], exercises: Sequence[course.Exercise]) -> list[CheckStat]:
    """Every check's pass share over the scored submissions, hardest first, with its commonest failures."""
    order = {e.id: i for i, e in enumerate(exercises)}
    seen: dict[str, dict[str, Any]] = {}
    attempts: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    failures: dict[str, Counter[str]] = {}
    position: dict[str, int] = {}
    for row in scored(rows):
        for exercise in (row.report or {}).get("exercises", []):
            for test in exercise["tests"]:
                key = test["id"]
                seen.setdefault(key, {**test, "exercise": exercise["id"]})
                position.setdefault(key, len(position))
                attempts[key] += 1
                if test["status"] == "passed":
                    passes[key] += 1
                else:
                    failures.setdefault(key, Counter())[_group(test)] += 1
    stats = [
        CheckStat(
            exercise=info["exercise"],
            check_id=key,
            name=str(info["name"]),
            points=int(info["max_score"]),
            visibility=str(info["visibility"]),
            attempts=attempts[key],
            passed=passes[key],
            failures=tuple(failures.get(key, Counter()).most_common(TOP_FEEDBACK)),
        )
        for key, info in seen.items()
    ]
    return sorted(stats, key=lambda s: (s.share, order.get(s.exercise, len(order)), position[s.check_id]))


def _svg(figure: Figure, salt: str) -> str:
    # A fixed salt per chart keeps the SVG's ids stable between runs and distinct between the charts of one page.
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def score_histogram(totals: Sequence[int], maximum: int) -> tuple[str, list[tuple[float, float, int]]]:
    """The histogram of totals as SVG, and its bins (low, high, count); the last bin includes the maximum."""
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    edges = [maximum * i / BINS for i in range(BINS + 1)]
    counts, _, _ = axes.hist(list(totals), bins=edges, color=BAR, edgecolor="white")
    axes.set_xlabel(f"total score (out of {maximum})")
    axes.set_ylabel("submissions")
    axes.set_title("Score distribution")
    axes.set_xlim(0, maximum)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    bins = [(edges[i], edges[i + 1], int(counts[i])) for i in range(BINS)]
    return _svg(figure, "score-histogram"), bins


def check_chart(stats: Sequence[CheckStat], limit: int = 15) -> str:
    hardest = list(stats[:limit])[::-1]
    figure = Figure(figsize=(7, 0.3 * len(hardest) + 1.2))
    axes = figure.subplots()
    axes.barh([f"{s.exercise}: {s.name}"[:60] for s in hardest], [100 * s.share for s in hardest], color=BAR)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of submissions that passed")
    axes.set_title(f"The {len(hardest)} hardest checks")
    return _svg(figure, "check-chart")


def time_histogram(seconds: Sequence[float]) -> str:
    figure = Figure(figsize=(7, 2.8))
    axes = figure.subplots()
    axes.hist(list(seconds), bins=min(20, max(1, len(seconds))), color=BAR, edgecolor="white")
    axes.set_xlabel("grading time per submission (s)")
    axes.set_ylabel("submissions")
    axes.set_title("Grading time")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _svg(figure, "time-histogram")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(table_id: str, head: Sequence[str], body: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table; cells are already-escaped HTML, `numeric` columns align right."""
    rows = [
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in body
    ]
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table id="{table_id}"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _mean(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):.2f}" if values else "-"


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def render(rows: Sequence[Row], exercises: Sequence[course.Exercise], *, title: str) -> str:
    """The whole page as one string."""
    maximum = sum(e.weight for e in exercises)
    graded = scored(rows)
    totals = [r.total for r in graded]
    counts = Counter(r.status for r in rows)
    summary = _table(
        "summary",
        ("figure", "value"),
        [
            ("submissions", str(len(rows))),
            *((f"status {s}", str(counts[s])) for s in STATUSES),
            ("scored (graded, crashed, timeout, grader-error)", str(len(graded))),
            ("mean total", _mean(totals)),
            ("median total", _median(totals)),
            ("full marks", str(sum(1 for t in totals if t == maximum))),
            ("maximum", str(maximum)),
        ],
        numeric=(1,),
    )
    histogram, bins = score_histogram(totals, maximum)
    last = len(bins) - 1
    bin_table = _table(
        "histogram-bins",
        ("total score", "submissions"),
        [(_e(f"{lo:g} ≤ total {'≤' if i == last else '<'} {hi:g}"), str(n)) for i, (lo, hi, n) in enumerate(bins)],
        numeric=(1,),
    )
    per_exercise = _table(
        "exercises",
        ("exercise", "points", "mean score", "full marks", "zero"),
        [
            (
                _e(e.id),
                str(e.weight),
                _mean([r.scores.get(e.id, 0) for r in graded]),
                str(sum(1 for r in graded if r.scores.get(e.id, 0) == e.weight)),
                str(sum(1 for r in graded if r.scores.get(e.id, 0) == 0)),
            )
            for e in exercises
        ],
        numeric=(1, 2, 3, 4),
    )
    stats = check_stats(rows, exercises)
    checks = _table(
        "checks",
        ("exercise", "check", "points", "visibility", "passed", "share", "commonest failures (submissions)"),
        [
            (
                _e(s.exercise),
                _e(s.name),
                str(s.points),
                _e(s.visibility),
                f"{s.passed}/{s.attempts}",
                _pct(s.passed, s.attempts),
                '<ul class="fb">' + "".join(f"<li><b>{n}</b> × {_e(text)}</li>" for text, n in s.failures) + "</ul>"
                if s.failures
                else "",
            )
            for s in stats
        ],
        numeric=(2, 4, 5),
    )
    rank = {s: i for i, s in enumerate(STATUSES)}
    troubled = sorted(
        (r for r in rows if r.status != "graded" or r.message), key=lambda r: (rank.get(r.status, 99), r.submission)
    )
    problems = _table(
        "problems",
        ("submission", "status", "total", "reason"),
        [(_e(r.submission), _e(r.status), str(r.total), _e(r.message)) for r in troubled],
        numeric=(2,),
    )
    seconds = [r.seconds for r in rows]
    slowest = sorted(rows, key=lambda r: (-r.seconds, r.submission))[:SLOWEST]
    slow_table = _table(
        "slowest",
        ("submission", "seconds", "status"),
        [(_e(r.submission), f"{r.seconds:.1f}", _e(r.status)) for r in slowest],
        numeric=(1,),
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{len(rows)} submission(s), exercises {_e(", ".join(e.id for e in exercises))}. '
        "Submissions are named by their folder names. Means and shares count the scored submissions "
        "(not the invalid ones or those the grader could not grade).</p>",
        '<h2 id="summary-heading">Summary</h2>',
        summary,
        '<h2 id="distribution">Score distribution</h2>',
        f'<figure id="score-histogram">{histogram}</figure>',
        bin_table,
        '<h2 id="per-exercise">Per exercise</h2>',
        per_exercise,
        '<h2 id="per-check">Per check, hardest first</h2>',
        f'<figure id="check-chart">{check_chart(stats)}</figure>' if stats else "<p>No check was run.</p>",
        checks,
        '<h2 id="trouble">Crashed, timed out, invalid, or with a note</h2>',
        problems if troubled else "<p>None.</p>",
        '<h2 id="time">Grading time</h2>',
        f"<p>Total {sum(seconds):.1f} s of grading; median {_median(seconds)} s per submission.</p>",
        f'<figure id="time-histogram">{time_histogram(seconds)}</figure>' if seconds else "",
        "<h3>Slowest submissions</h3>",
        slow_table,
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write(rows: Sequence[Row], exercises: Sequence[course.Exercise], path: Path, *, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(rows, exercises, title=title), encoding="utf-8")
    tmp.replace(path)
