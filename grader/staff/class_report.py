"""The class report: what a class got wrong, as one self-contained HTML page (staff only).

Charts are drawn by matplotlib as SVG and put inline, so the page loads nothing from anywhere; its
one script (written here, inline, allowed by the page's Content-Security-Policy by its hash and
nothing else) sorts the students table. Submissions are named by their folder names only, and
nothing from a submission appears but the feedback its checks earned (escaped): no student's code,
not even from the similarity check. Every number is computed here from the gradebook rows, the same
rows the CSV is written from; each chart has a table with its numbers.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import statistics
import textwrap
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader import course
from grader.parent import safe_write
from grader.staff.gradebook import STATUSES, Row

if TYPE_CHECKING:
    from grader.staff.similarity import Pair

SCORED = ("graded", "crashed", "timeout", "grader-error")  # rows with a real score (invalid/error have none)
BINS = 10
SLOWEST = 10
HARDEST = 15  # findings in the chart
LABEL_WIDTH = 46  # characters per line of a chart label, wrapped at spaces (a label is never cut)
SIMILAR_SHOWN = 100  # pairs listed in the page (all are in similarity.csv)
MAX_GROUP = 200  # characters of a feedback line kept as its group's label
BAR = "#3b6ea5"
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.5rem 0}figure svg{max-width:100%;height:auto}
ul.fb{margin:0;padding-left:1.1rem}.muted{color:#666}.who{color:#555;font-size:.85rem}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \\2195";color:#999}
#matrix{font-size:.72rem}#matrix td,#matrix th{padding:0 .15rem;text-align:center;min-width:.9rem}
#matrix td.s{text-align:left;white-space:nowrap}#matrix td.f{background:#c8553d;color:#fff}
#matrix td.p{background:#e3efe0;color:#e3efe0}#matrix td.x{background:#eee}
.scroll{overflow:auto;max-height:40rem}
"""
# Sorts a table.sortable by the clicked column: numbers by value, text by locale; a second click reverses.
_SCRIPT = """
for (const th of document.querySelectorAll("table.sortable th")) {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0], col = th.cellIndex;
    const dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    const key = (row) => row.cells[col].textContent.trim();
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b), nx = Number(x), ny = Number(y);
      const both = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny);
      return dir * (both ? nx - ny : x.localeCompare(y));
    });
    body.append(...rows);
  });
}
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# Nothing is fetched, and no script runs but the one above, whatever text a feedback holds.
_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'"


@dataclass(frozen=True)
class CheckStat:
    exercise: str
    check_id: str
    name: str
    points: int
    visibility: str
    attempts: int
    passed: int
    failures: tuple[tuple[str, tuple[str, ...]], ...]  # (cause, the submissions it failed), largest group first

    @property
    def share(self) -> float:
        return self.passed / self.attempts if self.attempts else 0.0

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(name for _, names in self.failures for name in names)

    @property
    def label(self) -> str:
        return f"{self.exercise}: {self.name}"


@dataclass(frozen=True)
class Finding:
    """Checks failed by exactly the same submissions: one finding, however many checks it spans."""

    checks: tuple[CheckStat, ...]

    @property
    def failing(self) -> frozenset[str]:
        return self.checks[0].failing

    @property
    def share(self) -> float:
        return self.checks[0].share


def scored(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.status in SCORED]


def cause_of(test: dict[str, Any]) -> str:
    """The failure's group: its `cause` (one line, the same for the same mistake), else its feedback's first line."""
    cause = " ".join(str(test.get("cause") or "").split())
    if not cause:
        lines = [" ".join(line.split()) for line in str(test.get("feedback", "")).splitlines()]
        cause = next((line for line in lines if line), "")
    if not cause:
        hidden = " (hidden check: its feedback is not shown)" if test.get("visibility") == "hidden" else ""
        return f"{test['status']}, no feedback{hidden}"
    return cause if len(cause) <= MAX_GROUP else cause[: MAX_GROUP - 3] + "..."


def check_stats(rows: Sequence[Row], exercises: Sequence[course.Exercise]) -> list[CheckStat]:
    """Every check's pass share over the scored submissions, hardest first, with its failures grouped by cause."""
    order = {e.id: i for i, e in enumerate(exercises)}
    seen: dict[str, dict[str, Any]] = {}
    attempts: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    failures: dict[str, dict[str, list[str]]] = {}
    position: dict[str, int] = {}
    for row in sorted(scored(rows), key=lambda r: r.submission):
        for exercise in (row.report or {}).get("exercises", []):
            for test in exercise["tests"]:
                key = test["id"]
                seen.setdefault(key, {**test, "exercise": exercise["id"]})
                position.setdefault(key, len(position))
                attempts[key] += 1
                if test["status"] == "passed":
                    passes[key] += 1
                else:
                    failures.setdefault(key, {}).setdefault(cause_of(test), []).append(row.submission)
    stats = [
        CheckStat(
            exercise=info["exercise"],
            check_id=key,
            name=str(info["name"]),
            points=int(info["max_score"]),
            visibility=str(info["visibility"]),
            attempts=attempts[key],
            passed=passes[key],
            failures=tuple(
                sorted(
                    ((cause, tuple(names)) for cause, names in failures.get(key, {}).items()),
                    key=lambda g: (-len(g[1]), g[0]),
                )
            ),
        )
        for key, info in seen.items()
    ]
    return sorted(stats, key=lambda s: (s.share, order.get(s.exercise, len(order)), position[s.check_id]))


def findings(stats: Sequence[CheckStat]) -> list[Finding]:
    """The failed checks, those with the same failing submissions merged, hardest first (order of `stats`)."""
    groups: dict[frozenset[str], list[CheckStat]] = {}
    for s in stats:
        if s.failing:
            groups.setdefault(s.failing, []).append(s)
    return [Finding(tuple(checks)) for checks in groups.values()]


def matrix_order(rows: Sequence[Row], stats: Sequence[CheckStat]) -> tuple[list[str], list[CheckStat]]:
    """Submissions and checks ordered so that those failing together sit together.

    Checks with the same failing submissions are adjacent, most failed first; submissions are then
    sorted by which of those checks they fail, so a shared mistake shows as one block.
    """
    merged = sorted(findings(stats), key=lambda f: (-len(f.failing), sorted(f.failing)))
    checks = [c for f in merged for c in f.checks] + [s for s in stats if not s.failing]
    names = sorted(r.submission for r in scored(rows))
    failing = [c.failing for c in checks]
    names.sort(key=lambda n: ([n not in f for f in failing], n))
    return names, checks


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


def finding_label(finding: Finding) -> str:
    """The finding's full label, wrapped at spaces: the first check's name, and how many more share it."""
    first = finding.checks[0].label
    more = len(finding.checks) - 1
    text = first + (f" (and {more} more check{'s' if more > 1 else ''} failed by the same submissions)" if more else "")
    return textwrap.fill(text, LABEL_WIDTH, break_long_words=False, break_on_hyphens=False)


def check_chart(found: Sequence[Finding], attempts: int) -> str:
    hardest = list(found[:HARDEST])[::-1]
    labels = [finding_label(f) for f in hardest]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure = Figure(figsize=(8, 0.22 * lines + 0.25 * len(labels) + 1.2))
    axes = figure.subplots()
    bars = axes.barh(range(len(hardest)), [100 * f.share for f in hardest], color=BAR)
    axes.set_yticks(range(len(hardest)), labels, fontsize=8)
    axes.bar_label(bars, [f"{len(f.failing)} failed" for f in hardest], padding=3, fontsize=8)
    axes.set_xlim(0, 115)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel(f"% of the {attempts} scored submissions that passed")
    axes.set_title(f"The {len(hardest)} hardest findings (checks failed by the same submissions merged)")
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


def _who(names: Sequence[str]) -> str:
    return f'<span class="who">{_e(", ".join(names))}</span>'


def _link(name: str, feedback_href: str | None) -> str:
    if feedback_href is None:
        return _e(name)
    target = f"{feedback_href.rstrip('/')}/{urllib.parse.quote(name, safe='')}.md"
    return f'<a href="{_e(target)}">{_e(name)}</a>'


def students_table(rows: Sequence[Row], exercises: Sequence[course.Exercise], feedback_href: str | None) -> str:
    """Every submission with the CSV's numbers, linked to its feedback; sortable by any column."""
    head = ("submission", "status", "total", *(e.id for e in exercises))
    body = [
        (
            _link(r.submission, feedback_href),
            _e(r.status),
            str(r.total),
            *(str(r.scores.get(e.id, 0)) for e in exercises),
        )
        for r in sorted(rows, key=lambda r: r.submission)
    ]
    table = _table("students", head, body, numeric=tuple(range(2, len(head))))
    return table.replace('<table id="students">', '<table id="students" class="sortable">', 1)


def matrix_table(rows: Sequence[Row], stats: Sequence[CheckStat]) -> tuple[str, str]:
    """Who failed what: a row per scored submission, a column per check (numbered; the key names them)."""
    names, checks = matrix_order(rows, stats)
    ran = {r.submission: {t["id"]: t["status"] for e in (r.report or {}).get("exercises", []) for t in e["tests"]}
           for r in scored(rows)}  # fmt: skip
    head = "".join(f'<th title="{_e(c.label)}">{i}</th>' for i, c in enumerate(checks, start=1))
    body = []
    for name in names:
        cells = []
        for c in checks:
            status = ran[name].get(c.check_id)
            if status is None:
                cells.append('<td class="x">-</td>')
            elif status == "passed":
                cells.append('<td class="p">.</td>')
            else:
                cells.append(f'<td class="f" title="{_e(c.label)}: {_e(status)}">x</td>')
        body.append(f'<tr><td class="s">{_e(name)}</td>{"".join(cells)}</tr>')
    matrix = (
        f'<div class="scroll"><table id="matrix"><thead><tr><th>submission</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    key = _table(
        "matrix-checks",
        ("column", "exercise", "check", "failed"),
        [(str(i), _e(c.exercise), _e(c.name), str(len(c.failing))) for i, c in enumerate(checks, start=1)],
        numeric=(0, 3),
    )
    return matrix, key


def similarity_section(pairs: Sequence[Pair] | None, clusters: Sequence[Sequence[str]], page: str | None) -> str:
    if pairs is None:
        return "<p>Not checked (<code>--no-similarity</code>).</p>"
    if not pairs:
        return "<p>No two submissions are more alike than the stubs explain.</p>"
    note = (
        f"<p>{len(pairs)} pair(s) whose code (outside the stubs) is more alike than chance; the share is the part "
        "of one submission's own code found in the other's. Code is never shown here"
        + (f': see <a href="{_e(page)}">the side-by-side staff page</a>' if page else "")
        + ". Every pair is in similarity.csv.</p>"
    )
    pair_table = _table(
        "similarity",
        ("submission", "submission", "score", "modules (share)"),
        [
            (_e(p.a), _e(p.b), f"{100 * p.score:.0f}%", _e(", ".join(f"{m} ({100 * s:.0f}%)" for m, s in p.modules)))
            for p in pairs[:SIMILAR_SHOWN]
        ],
        numeric=(2,),
    )
    more = f"<p>And {len(pairs) - SIMILAR_SHOWN} more pairs.</p>" if len(pairs) > SIMILAR_SHOWN else ""
    cluster_table = _table(
        "similarity-clusters",
        ("submissions", "members"),
        [(str(len(c)), _e(", ".join(c))) for c in clusters],
        numeric=(0,),
    )
    return note + pair_table + more + "<h3>Clusters (linked by the pairs above)</h3>" + cluster_table


def render(
    rows: Sequence[Row],
    exercises: Sequence[course.Exercise],
    *,
    title: str,
    feedback_href: str | None = None,
    similar: Sequence[Pair] | None = None,
    clusters: Sequence[Sequence[str]] = (),
    similarity_page: str | None = None,
) -> str:
    """The whole page as one string; `feedback_href` is the feedback folder relative to the page."""
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
    found = findings(stats)
    finding_table = _table(
        "findings",
        ("passed", "failed", "checks (all failed by exactly these submissions)", "submissions that failed"),
        [
            (
                _pct(f.checks[0].passed, f.checks[0].attempts),
                str(len(f.failing)),
                '<ul class="fb">' + "".join(f"<li>{_e(c.label)}</li>" for c in f.checks) + "</ul>",
                _who(sorted(f.failing)),
            )
            for f in found
        ],
        numeric=(0, 1),
    )
    checks = _table(
        "checks",
        ("exercise", "check", "points", "visibility", "passed", "share", "failures by cause: count × cause (who)"),
        [
            (
                _e(s.exercise),
                _e(s.name),
                str(s.points),
                _e(s.visibility),
                f"{s.passed}/{s.attempts}",
                _pct(s.passed, s.attempts),
                '<ul class="fb">'
                + "".join(f"<li><b>{len(who)}</b> × {_e(cause)} {_who(who)}</li>" for cause, who in s.failures)
                + "</ul>"
                if s.failures
                else "",
            )
            for s in stats
        ],
        numeric=(2, 4, 5),
    )
    matrix, matrix_key = matrix_table(rows, stats) if stats else ("<p>No check was run.</p>", "")
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
    # Only graded submissions: an invalid one takes no time and a timed-out one is in the table above.
    timed = [r for r in rows if r.status == "graded"]
    slowest = sorted(timed, key=lambda r: (-r.seconds, r.submission))[:SLOWEST]
    slow_table = _table(
        "slowest",
        ("submission", "seconds", "status"),
        [(_e(r.submission), f"{r.seconds:.1f}", _e(r.status)) for r in slowest],
        numeric=(1,),
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
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
        '<h2 id="students-heading">Students</h2>',
        "<p class=\"muted\">The gradebook's rows; click a column to sort, a name for that student's feedback.</p>"
        if feedback_href is not None
        else '<p class="muted">The gradebook\'s rows; click a column to sort (no feedback was written).</p>',
        students_table(rows, exercises, feedback_href),
        '<h2 id="matrix-heading">Who failed what</h2>',
        '<p class="muted">x: failed, -: not run. Checks failed by the same submissions sit side by side, '
        "and submissions that fail the same checks sit together; hover a column number for its check.</p>",
        matrix,
        matrix_key,
        '<h2 id="hardest">Hardest checks (checks failed by the same submissions are one finding)</h2>',
        f'<figure id="check-chart">{check_chart(found, len(graded))}</figure>' if found else "<p>No check failed.</p>",
        finding_table if found else "",
        '<h2 id="per-check">Per check, hardest first, failures grouped by cause</h2>',
        checks if stats else "<p>No check was run.</p>",
        '<h2 id="similarity-heading">Similar submissions</h2>',
        similarity_section(similar, clusters, similarity_page),
        '<h2 id="trouble">Crashed, timed out, invalid, or with a note</h2>',
        problems if troubled else "<p>None.</p>",
        '<h2 id="time">Grading time</h2>',
        f"<p>Total {sum(seconds):.1f} s of grading; median {_median(seconds)} s per submission.</p>",
        f'<figure id="time-histogram">{time_histogram(seconds)}</figure>' if seconds else "",
        "<h3>Slowest graded submissions</h3>",
        slow_table,
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write(
    rows: Sequence[Row],
    exercises: Sequence[course.Exercise],
    path: Path,
    *,
    title: str,
    feedback: Path | None = None,
    similar: Sequence[Pair] | None = None,
    clusters: Sequence[Sequence[str]] = (),
    similarity_page: Path | None = None,
) -> None:
    """Write the page; `feedback` (the folder) and `similarity_page` are linked relative to it."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def relative(target: Path | None) -> str | None:
        if target is None:
            return None
        return Path(os.path.relpath(target.resolve(), path.parent.resolve())).as_posix()

    page = render(
        rows,
        exercises,
        title=title,
        feedback_href=relative(feedback),
        similar=similar,
        clusters=clusters,
        similarity_page=relative(similarity_page),
    )
    safe_write.write_text(path, page)
