"""The class report, per-student feedback and sharding, on one small class graded by the real `batch` command."""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.staff import gradebook
from tests.conftest import REFERENCE, STUBS
from tests.support import browser
from tests.test_batch import CRASH, CRASH_ANCHOR, EXERCISES, MAX, run_batch

SOURCE_MARKER = "SOURCE-MARKER-7f3a"  # planted in submissions' code: it must never reach the page
# Feedback quotes what student code raised: the page must show it as text, never run it.
INJECTION = "<script>document.title='owned'</script><img src=x onerror=alert(1)>"
BAR = (0x3B, 0x6E, 0xA5)  # grader.staff.class_report.BAR


def _copy(target: Path) -> Path:
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def make_small_class(directory: Path) -> None:
    """A correct, a stub, a half-done, a crashing and an invalid submission, and modules that never load."""
    directory.mkdir(parents=True)
    _copy(directory / "correct")
    shutil.copytree(STUBS, directory / "stub", ignore=shutil.ignore_patterns("__pycache__"))
    half = _copy(directory / "half-done")
    stub = (STUBS / "temperature.py").read_text()
    unfinished = 'raise NotImplementedError("compare_temperatures: your code here")'
    assert stub.count(unfinished) == 1
    (half / "temperature.py").write_text(stub.replace(unfinished, f"raise RuntimeError({INJECTION!r})"))
    crash = _copy(directory / "crashing") / "basic_call.py"
    source = crash.read_text()
    crash.write_text(f"# {SOURCE_MARKER}\n" + source.replace(CRASH_ANCHOR, CRASH + CRASH_ANCHOR))
    with tarfile.open(directory / "tarball.tar.gz", "w:gz") as tar:
        tar.add(REFERENCE / "basic_call.py", "basic_call.py")
    syntax = _copy(directory / "syntax-error")
    (syntax / "basic_call.py").write_text(f"def ask_openai(:  # {SOURCE_MARKER}\n")
    imports = _copy(directory / "import-error")
    (imports / "temperature.py").write_text("import no_such_package_for_the_course\n")
    hangs = _copy(directory / "hangs-on-import")
    (hangs / "temperature.py").write_text(f"# {SOURCE_MARKER}\nwhile True:\n    pass\n")
    shutil.make_archive(str(directory / "zipped"), "zip", REFERENCE)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass
class Batch:
    root: Path
    out: Path
    process: subprocess.CompletedProcess[str]

    @property
    def csv(self) -> Path:
        return self.out / "grades.csv"

    @property
    def rows(self) -> list[dict[str, str]]:
        return _rows(self.csv)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """The small class graded once, two at a time, with default feedback and report paths."""
    root = tmp_path_factory.mktemp("class-report")
    make_small_class(root / "class")
    out = root / "out"
    process = run_batch(root / "class", out / "grades.csv", "-j", "2")
    assert process.returncode == 0, process.stdout + process.stderr
    return Batch(root, out, process)


class _Tables(HTMLParser):
    """The text of every cell of every table with an id: {table id: [[cell, ...], ...]} (body rows only)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def tables_of(page: str) -> dict[str, list[list[str]]]:
    return parse(page).tables


SCORED = ("graded", "crashed", "timeout", "grader-error")


@pytest.mark.slow
def test_every_input_gets_a_row_with_a_total_and_a_one_line_reason(batch: Batch):
    rows = {r["submission"]: r for r in batch.rows}
    assert sorted(rows) == sorted(
        ["correct", "stub", "half-done", "crashing", "tarball", "syntax-error", "import-error", "hangs-on-import",
         "zipped"]
    )  # fmt: skip
    for name, row in rows.items():
        assert int(row["total"]) == sum(int(row[e]) for e in EXERCISES), name
        assert "\n" not in row["message"] and not row["message"].startswith(name), row
    assert [rows[n]["total"] for n in ("correct", "zipped", "stub", "half-done")] == [str(MAX), str(MAX), "0", "10"]
    assert rows["tarball"]["status"] == "invalid" and rows["tarball"]["total"] == "0"
    assert rows["tarball"]["message"].startswith("a tar.gz archive; only folders and .zip archives are graded")
    assert rows["crashing"]["status"] == "crashed"
    assert rows["syntax-error"]["status"] == "graded" and rows["syntax-error"]["temperature"] == "10"
    assert rows["syntax-error"]["message"] == "basic_call: exercises/basic_call.py, line 1: SyntaxError: invalid syntax"
    assert rows["import-error"]["message"] == (
        "temperature: exercises/temperature.py, line 1: it imports 'no_such_package_for_the_course', which is not "
        "installed where your code is graded. A submission may import the Python standard library, openai, "
        "anthropic and what they bring (httpx2, pydantic, anyio)"
    )
    hang = rows["hangs-on-import"]["message"]
    # The sandbox running the import is stopped from outside, so the line it hung on is not known.
    assert hang.startswith("temperature: exercises/temperature.py: importing it did not finish"), hang
    assert rows["hangs-on-import"]["basic_call"] == "10"
    assert rows["correct"]["message"] == rows["stub"]["message"] == ""
    # Feedback for every student, on by default beside the CSV.
    feedback = batch.out / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == sorted(f"{n}{s}" for n in rows for s in (".json", ".md"))
    for name, row in rows.items():
        record = json.loads((feedback / f"{name}.json").read_text())
        assert (record["submission"], record["status"], record["score"]) == (name, row["status"], int(row["total"]))
        markdown = (feedback / f"{name}.md").read_text()
        assert markdown.startswith(f"## Grade of {name}") and f"{row['total']}/{MAX}" in markdown
    assert "SyntaxError: invalid syntax" in (feedback / "syntax-error.md").read_text()
    assert "a tar.gz archive" in (feedback / "tarball.md").read_text()
    half = json.loads((feedback / "half-done.json").read_text())
    assert [e["score"] for e in half["exercises"]] == [10, 0]


@pytest.mark.slow
def test_class_report_numbers_match_the_csv(batch: Batch):
    page = (batch.out / "class-report.html").read_text(encoding="utf-8")
    tables = tables_of(page)
    rows = batch.rows
    scored = [r for r in rows if r["status"] in SCORED]
    totals = [int(r["total"]) for r in scored]
    summary = dict(map(tuple, tables["summary"]))  # type: ignore[arg-type]
    assert summary["submissions"] == str(len(rows)) == "9"
    counts = Counter(r["status"] for r in rows)
    for status in gradebook.STATUSES:
        assert summary[f"status {status}"] == str(counts[status]), status
    assert summary["mean total"] == f"{statistics.fmean(totals):.2f}"
    assert summary["median total"] == f"{statistics.median(totals):g}"
    assert summary["full marks"] == str(sum(1 for t in totals if t == MAX))
    # The histogram's bins hold exactly the CSV's totals (bins of MAX/10, the last one closed).
    bins = [int(n) for _, n in tables["histogram-bins"]]
    expected = [0] * 10
    for total in totals:
        expected[min(total * 10 // MAX, 9)] += 1
    assert bins == expected and sum(bins) == len(scored)
    for exercise_id, _points, mean, full, zero in tables["exercises"]:
        scores = [int(r[exercise_id]) for r in scored]
        assert mean == f"{statistics.fmean(scores):.2f}", exercise_id
        assert (full, zero) == (str(scores.count(10)), str(scores.count(0))), exercise_id
    # Per check: the pass counts of the per-student feedback, hardest first.
    passes: Counter[str] = Counter()
    tries: Counter[str] = Counter()
    names = {}
    for r in scored:
        record = json.loads((batch.out / "feedback" / f"{r['submission']}.json").read_text())
        for exercise in record["exercises"]:
            for test in exercise["tests"]:
                names[(exercise["id"], test["name"])] = test["id"]
                tries[test["id"]] += 1
                passes[test["id"]] += test["status"] == "passed"
    shown = [(names[(row[0], row[1])], row[4]) for row in tables["checks"]]
    assert sorted(c for c, _ in shown) == sorted(tries)
    assert all(passed == f"{passes[c]}/{tries[c]}" for c, passed in shown)
    shares = [passes[c] / tries[c] for c, _ in shown]
    assert shares == sorted(shares)
    crashed_check = next(
        row for row in tables["checks"] if row[1].startswith("ask_anthropic sends the system prompt in the system")
    )
    assert "process ended during this check" in crashed_check[6]
    # Every failure of the syntax error is grouped under one feedback line with its count.
    assert any("1 × exercises/basic_call.py, line 1: SyntaxError" in row[6] for row in tables["checks"])
    # The problems: every row that is not plainly graded, with its reason from the CSV.
    trouble = {
        (r["submission"], r["status"], r["total"], r["message"])
        for r in rows
        if r["status"] != "graded" or r["message"]
    }
    assert {tuple(row) for row in tables["problems"]} == trouble
    # The slowest list counts graded submissions only (an invalid one took no time, a hung one is listed above).
    graded = sorted((r for r in rows if r["status"] == "graded"), key=lambda r: r["submission"])
    assert sorted(row[0] for row in tables["slowest"]) == sorted(r["submission"] for r in graded)[:10]
    assert {row[2] for row in tables["slowest"]} == {"graded"}
    # Self-contained: one inline script (the sorter) allowed by hash, nothing fetched, links stay beside the page.
    tags = parse(page).tags
    assert not [t for t, _ in tags if t in ("link", "img", "iframe", "object", "embed")]
    assert [t for t, _ in tags].count("script") == 1
    assert not [a for _, attrs in tags for a in attrs if a == "src" or a.startswith("on")]
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1]
    hrefs = [v for _, attrs in tags for a, v in attrs.items() if a.endswith("href") and v]
    beside = [v for v in hrefs if not v.startswith("#")]
    assert sorted(beside) == sorted([*(f"feedback/{r['submission']}.md" for r in rows), "similarity.html"]), beside
    assert SOURCE_MARKER not in page and "def ask_openai" not in page and str(batch.root) not in page
    # Failures are grouped by their cause, which names the exception and line but never quotes its text;
    # wherever submission text does reach the page, it is escaped, never markup.
    assert INJECTION not in page and "<script>document.title" not in page and "<img src=x" not in page
    assert '<figure id="score-histogram"><svg' in page


@pytest.mark.slow
def test_class_report_opens_in_headless_chromium_without_console_errors(batch: Batch, tmp_path: Path):
    if reason := browser.missing():
        pytest.skip(f"no browser: {reason}")
    from selenium.webdriver.common.by import By

    with browser.open_page(batch.out / "class-report.html") as page:
        assert page.errors == [] and page.resources == []
        assert page.driver.title == "Class report: class"  # the feedback's script did not run
        histogram = page.driver.find_element(By.CSS_SELECTOR, "#score-histogram svg")
        page.driver.execute_script("arguments[0].scrollIntoView()", histogram)
        assert histogram.is_displayed() and histogram.size["width"] > 300 and histogram.size["height"] > 150
        page.driver.save_screenshot(str(tmp_path / "class-report.png"))
        shot = tmp_path / "histogram.png"
        histogram.screenshot(str(shot))
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(1 << 24) or []
        bar = sum(n for n, rgb in colours if all(abs(a - b) <= 8 for a, b in zip(rgb, BAR, strict=True)))
    assert bar > 2000, f"the histogram's bars are not drawn ({bar} bar-coloured pixels in {shot})"


def test_the_browser_check_sees_console_errors_and_fetches(tmp_path: Path):
    """The checks above can fail: a script error and a remote image are both seen."""
    if reason := browser.missing():
        pytest.skip(f"no browser: {reason}")
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="https://example.invalid/x.png"><script>throw new Error("boom")</script>')
    with browser.open_page(bad) as page:
        assert any("boom" in e for e in page.errors), page.console
        assert page.resources == ["https://example.invalid/x.png"]


def test_shards_are_disjoint_cover_the_class_and_stay_put_by_name():
    names = [f"s{i:03d}" for i in range(23)]
    entries = [gradebook.Entry(n, Path(n)) for n in names]
    parts = [gradebook.shard_of(entries[::-1], k, 4) for k in range(1, 5)]
    assert sorted(e.name for part in parts for e in part) == names
    assert [len(p) for p in parts] == [6, 6, 6, 5]
    assert [e.name for e in parts[1]] == [e.name for e in gradebook.shard_of(entries, 2, 4)]
    for bad in ("0/4", "5/4", "1/0", "1", "a/b", "2/-1"):
        with pytest.raises(ValueError, match="K/N"):
            gradebook.parse_shard(bad)


def _merge(out: Path, *shards: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "merge", str(out), *map(str, shards)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_sharding_then_merging_gives_the_same_gradebook(batch: Batch, tmp_path: Path):
    shards = [tmp_path / f"shard-{k}" for k in (1, 2, 3)]
    for k, out in enumerate(shards, start=1):
        process = run_batch(batch.root / "class", out / "grades.csv", "--shard", f"{k}/3", "-j", "2")
        assert process.returncode == 0, process.stdout + process.stderr
        assert f"(shard {k}/3 of 9)" in process.stdout
    sizes = [len(_rows(out / "grades.csv")) for out in shards]
    assert sizes == [3, 3, 3]
    merged = tmp_path / "merged"
    process = _merge(merged, *shards[::-1])
    assert process.returncode == 0, process.stdout + process.stderr
    unsharded, together = _rows(batch.csv), _rows(merged / "grades.csv")
    assert len(together) == 9
    for one, other in zip(unsharded, together, strict=True):
        assert one == other
    assert sorted(p.name for p in (merged / "feedback").iterdir()) == sorted(
        p.name for p in (batch.out / "feedback").iterdir()
    )
    # Each student's feedback is the one their shard wrote (an independent grading may word a feedback
    # differently when a machine is loaded; the scores above may not differ).
    for k, out in enumerate(shards, start=1):
        for written in (out / "feedback").iterdir():
            assert (merged / "feedback" / written.name).read_bytes() == written.read_bytes(), (k, written.name)
    page = tables_of((merged / "class-report.html").read_text())
    unsharded_page = tables_of((batch.out / "class-report.html").read_text())
    for table in ("summary", "students", "matrix", "matrix-checks", "findings", "similarity"):
        assert page[table] == unsharded_page[table], table
    assert (merged / "similarity.csv").read_text() == (batch.out / "similarity.csv").read_text()
    # A missing shard, a shard given twice or a shard with a lost feedback file is named, and nothing is written.
    missing = _merge(tmp_path / "m1", shards[0], shards[2])
    assert missing.returncode == 2 and "shard 2/3 is missing" in missing.stdout, missing.stdout
    twice = _merge(tmp_path / "m2", shards[0], shards[1], shards[1], shards[2])
    assert twice.returncode == 2 and "shard 2/3 was given twice" in twice.stdout, twice.stdout
    lost = next((shards[2] / "feedback").glob("*.json"))
    lost.unlink()
    broken = _merge(tmp_path / "m3", *shards)
    assert broken.returncode == 2 and lost.name in broken.stdout and lost.stem in broken.stdout, broken.stdout
    assert not any((tmp_path / m).exists() for m in ("m1", "m2", "m3"))
