"""What staff need from a class: who failed what, who copied whom, and grades for Canvas and Moodle.

One small class graded by the real `batch`: a correct submission and a disguised copy of it (comments,
docstrings and names changed), the stubs, and hand-written wrong submissions that share no code.
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.staff import gradebook, lms
from tests.conftest import REFERENCE, STUBS
from tests.support import browser
from tests.test_batch import EXERCISES, MAX, run_batch
from tests.test_class_report import parse, tables_of

DAVE_BASIC = """
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    return reply.choices[0].message.content
"""
ERIN_TEMPERATURE = """
    out = {}
    for t in temperatures:
        r = client.chat.completions.create(model=model, temperature=t, messages=[{"role": "user", "content": prompt}])
        out[t] = r.choices[0].message.content
    return out
"""
FRANK_BASIC = """
    answer = client.messages.create(model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}])
    return answer.content[0].text
"""


def _stubs(target: Path) -> Path:
    shutil.copytree(STUBS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _fill(path: Path, function: str, body: str) -> None:
    """Replace the stub's `raise NotImplementedError("<function>: ...")` with `body`."""
    source = path.read_text()
    stub = f'    raise NotImplementedError("{function}: your code here")\n'
    assert source.count(stub) == 1, (path, function)
    path.write_text(source.replace(stub, body.lstrip("\n")))


def _disguise(source: str) -> str:
    """The same code with other comments, docstrings and local names: what a student hides a copy with."""
    source = re.sub(r'"""(.|\n)*?"""', '"""My own work."""', source)
    source = re.sub(r"#.*", "# see lecture notes", source)
    for old, new in (("response", "reply_obj"), ("temps", "values"), ("results", "answers")):
        source = re.sub(rf"\b{old}\b", new, source)
    return source.replace("\n\n\n", "\n\n\n\n")


def make_class(directory: Path) -> None:
    directory.mkdir(parents=True)
    shutil.copytree(REFERENCE, directory / "alice", ignore=shutil.ignore_patterns("__pycache__"))
    bob = _stubs(directory / "bob")
    for module in EXERCISES:
        (bob / f"{module}.py").write_text(_disguise((REFERENCE / f"{module}.py").read_text()))
    _stubs(directory / "carol")
    _fill(_stubs(directory / "dave") / "basic_call.py", "ask_openai", DAVE_BASIC)
    _fill(_stubs(directory / "erin") / "temperature.py", "compare_temperatures", ERIN_TEMPERATURE)
    _fill(_stubs(directory / "frank") / "basic_call.py", "ask_anthropic", FRANK_BASIC)


@dataclass
class Graded:
    root: Path
    out: Path

    @property
    def rows(self) -> list[dict[str, str]]:
        with (self.out / "grades.csv").open(newline="") as f:
            return list(csv.DictReader(f))

    @property
    def page(self) -> str:
        return (self.out / "class-report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    root = tmp_path_factory.mktemp("insight")
    make_class(root / "class")
    process = run_batch(root / "class", root / "out" / "grades.csv", "-j", "2")
    assert process.returncode == 0, process.stdout + process.stderr
    return Graded(root, root / "out")


@pytest.mark.slow
def test_the_copies_and_only_they_are_flagged_as_similar(graded: Graded):
    rows = {r["submission"]: r for r in graded.rows}
    assert rows["alice"]["total"] == rows["bob"]["total"] == str(MAX)  # the disguise kept the code working
    with (graded.out / "similarity.csv").open(newline="") as f:
        pairs = list(csv.DictReader(f))
    assert [(p["a"], p["b"]) for p in pairs] == [("alice", "bob")], pairs
    assert float(pairs[0]["score"]) >= 0.9 and set(pairs[0]["modules"].split()) >= {"basic_call:1.00"}
    tables = tables_of(graded.page)
    assert [row[:2] for row in tables["similarity"]] == [["alice", "bob"]]
    assert tables["similarity-clusters"] == [["2", "alice, bob"]]
    # The side-by-side page is a staff file beside the CSV; the class report holds no student's code.
    side = (graded.out / "similarity.html").read_text()
    assert "<mark>" in side and "reply_obj" in side
    assert "reply_obj" not in graded.page and "def ask_openai" not in graded.page
    assert "client.chat.completions.create" not in graded.page
    assert 'href="similarity.html"' in graded.page


@pytest.mark.slow
def test_students_table_and_matrix_match_the_csv(graded: Graded):
    tables = tables_of(graded.page)
    rows = graded.rows
    assert [row[: 3 + len(EXERCISES)] for row in tables["students"]] == [
        [r["submission"], r["status"], r["total"], *(r[e] for e in EXERCISES)] for r in rows
    ]
    tags = parse(graded.page).tags
    links = [attrs["href"] for tag, attrs in tags if tag == "a" and (attrs.get("href") or "").startswith("feedback/")]
    assert links == [f"feedback/{r['submission']}.md" for r in rows]
    assert all((graded.out / link).is_file() for link in links if link)
    # The matrix: a row per scored submission, "x" exactly where its feedback JSON says a check failed.
    key = tables["matrix-checks"]
    matrix = {row[0]: row[1:] for row in tables["matrix"]}
    assert sorted(matrix) == sorted(r["submission"] for r in rows)
    names = {}
    for r in rows:
        record = json.loads((graded.out / "feedback" / f"{r['submission']}.json").read_text())
        failed = {(e["id"], t["name"]) for e in record["exercises"] for t in e["tests"] if t["status"] != "passed"}
        names.update({(e["id"], t["name"]): 1 for e in record["exercises"] for t in e["tests"]})
        shown = {(key[i][1], key[i][2]) for i, cell in enumerate(matrix[r["submission"]]) if cell == "x"}
        assert shown == failed, r["submission"]
        for exercise in EXERCISES:  # full marks in the CSV is no failure in that exercise's columns
            full = r[exercise] == "10"
            assert full == (not any(e == exercise for e, _ in failed)), (r["submission"], exercise)
    assert sorted((row[1], row[2]) for row in key) == sorted(names)
    # Clusters show: the submissions failing exactly the same checks sit next to each other.
    order = [row[0] for row in tables["matrix"]]
    signature = {n: tuple(matrix[n]) for n in order}
    for a, b in itertools.pairwise(order):
        same = [n for n in order if signature[n] == signature[a]]
        assert order.index(same[-1]) - order.index(same[0]) == len(same) - 1, (a, b)


@pytest.mark.slow
def test_findings_merge_checks_failed_by_the_same_students_and_causes_name_who(graded: Graded):
    tables = tables_of(graded.page)
    findings = tables["findings"]
    failing_sets = [row[3] for row in findings]
    assert len(failing_sets) == len(set(failing_sets)), "two rows have the same failing submissions"
    # Every failed check is in exactly one finding; the stub fails every check, so carol is in every row.
    failed = [f"{row[0]}: {row[1]}" for row in tables["checks"] if row[4].split("/")[0] != row[4].split("/")[1]]
    labels = [_labels(row[2]) for row in findings]
    assert sorted(c for ls in labels for c in ls) == sorted(failed)  # every failed check in exactly one finding
    # The stub's 15 failed checks are one finding (carol, dave, erin and frank fail them all), not 15 rows.
    assert max(len(ls) for ls in labels) >= 10
    for row in tables["checks"]:
        if row[6]:
            assert re.match(r"^\d+ × ", row[6]), row  # count × cause (who)
    # The chart's labels are whole (wrapped, never cut): each finding's first check, word for word.
    start = graded.page.index('<figure id="check-chart">')
    chart = html.unescape(re.sub(r"<[^>]+>", " ", graded.page[start : graded.page.index("</figure>", start)]))
    words = " ".join(chart.split())
    for ls in labels[:15]:
        assert ls[0] in words, ls[0]


def _labels(cell: str) -> list[str]:
    """The check labels ("exercise: name") run together in a findings cell."""
    return [m.group(0) for m in re.finditer(r"(basic_call|temperature): .*?(?=(basic_call|temperature): |$)", cell)]


def _roster(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["identifier", "github_username", "github_id", "name"])
        for ident, user in rows:
            writer.writerow([ident, user, "", ""])
    return path


CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (101)", "LLM APIs (202)",
                 "Current Score"]  # fmt: skip


def _canvas_export(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CANVAS_HEADER)
        writer.writerow(["    Points Possible", "", "", "", "", "10", "20", "(read only)"])
        writer.writerow(["Liddell, Alice", "1001", "S-1", "alice@uni.edu", "A", "9", "", "90"])
        writer.writerow(["Builder, Bob", "1002", "S-2", "bob@uni.edu", "A", "8", "", "80"])
        writer.writerow(["Carroll, Carol", "1003", "S-3", "carol@uni.edu", "B", "7", "", "70"])
        writer.writerow(["Dee, Dave", "1004", "S-4", "dave@uni.edu", "B", "6", "", "60"])
        writer.writerow(["Zed, Zoe", "1005", "S-5", "zoe@uni.edu", "B", "5", "", "50"])
        writer.writerow(["Student, Test", "1999", "", "", "A", "", "", ""])
    return path


def _export(out: Path, target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "grades-export", str(out), "--to", str(target), *extra],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120,
    )  # fmt: skip


def check_canvas_rules(path: Path, export: Path) -> list[list[str]]:
    """Canvas's gradebook import rules (lib/gradebook_importer.rb): the columns, the Points Possible row, matching."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with export.open(newline="", encoding="utf-8") as f:
        source = list(csv.DictReader(f))
    header = rows[0]
    identity = [c for c in ("Student", "ID", "SIS User ID", "SIS Login ID", "Section") if c in header]
    assert header[:2] == ["Student", "ID"] and header[: len(identity)] == identity
    assert header[len(identity) :] and all(re.fullmatch(r".+ \(\d+\)", c) for c in header[len(identity) :]), header
    assert rows[1][0].strip() == "Points Possible" and rows[1][len(identity) :] == [str(MAX)]
    by_id = {r["ID"]: r for r in source if r["ID"]}
    for row in rows[2:]:
        assert len(row) == len(header)
        known = by_id[row[1]]  # every student is one Canvas has, by ID, with the identity cells as Canvas wrote them
        assert row[: len(identity)] == [known[c] for c in identity]
        assert row[-1] == "" or (row[-1].isdigit() and 0 <= int(row[-1]) <= MAX), row
    return rows


@pytest.mark.slow
def test_grades_export_for_canvas_and_moodle_matches_the_csv(graded: Graded, tmp_path: Path):
    roster = _roster(
        tmp_path / "classroom_roster.csv",
        [("1001", "alice"), ("S-2", "bob"), ("carol@uni.edu", "carol"), ("1004", "dave"), ("zoe@uni.edu", "zoe-gh"),
         ("S-9", "erin"), ("nobody@uni.edu", "")],
    )  # fmt: skip
    export = _canvas_export(tmp_path / "canvas.csv")
    target = tmp_path / "lms"
    process = _export(graded.out, target, "--roster", str(roster), "--canvas-export", str(export),
                      "--canvas-assignment", "LLM APIs")  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    totals = {r["submission"]: r["total"] for r in graded.rows}
    rows = check_canvas_rules(target / lms.CANVAS_FILE, export)
    assert rows[0][-1] == "LLM APIs (202)"
    filled = {row[0]: row[-1] for row in rows[2:]}
    assert filled == {
        "Liddell, Alice": totals["alice"],  # matched by ID
        "Builder, Bob": totals["bob"],  # by SIS User ID
        "Carroll, Carol": totals["carol"],  # by SIS Login ID (the stub: a real 0)
        "Dee, Dave": totals["dave"],
        "Zed, Zoe": "",  # in the roster, no submission: empty, never a made-up 0
        "Student, Test": "",
    }
    assert totals["carol"] == "0"
    out = " ".join(process.stdout.split())
    assert "Submissions no roster row names (not exported) (1): frank" in out
    assert "Roster students with no submission (cell left empty) (1): zoe@uni.edu (zoe-gh)" in out
    assert "Identifiers no Canvas student has (left out) (2): S-9, nobody@uni.edu" in out
    assert "Roster students with no folder name (cell left empty) (1): nobody@uni.edu" in out
    with (target / lms.MOODLE_FILE).open(newline="") as f:
        moodle = list(csv.reader(f))
    assert moodle[0] == ["Identifier", "Autograder"]
    assert dict(moodle[1:]) == {"1001": totals["alice"], "S-2": totals["bob"], "carol@uni.edu": "0",
                                "1004": totals["dave"], "zoe@uni.edu": "", "S-9": totals["erin"],
                                "nobody@uni.edu": ""}  # fmt: skip
    # Bad input is named, and nothing is written.
    wrong = _export(graded.out, tmp_path / "x", "--roster", str(roster), "--canvas-export", str(export),
                    "--canvas-assignment", "Quiz 9")  # fmt: skip
    assert wrong.returncode == 2 and "Homework 1 (101); LLM APIs (202)" in " ".join(wrong.stdout.split())
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_sharded_batch_then_merge_gives_the_same_report_and_exports(graded: Graded, tmp_path: Path):
    shards = [tmp_path / f"shard-{k}" for k in (1, 2)]
    for k, out in enumerate(shards, start=1):
        process = run_batch(graded.root / "class", out / "grades.csv", "--shard", f"{k}/2", "-j", "2")
        assert process.returncode == 0, process.stdout + process.stderr
    merged = tmp_path / "merged"
    process = subprocess.run(
        [sys.executable, "-m", "grader", "merge", str(merged), *map(str, shards)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    assert (merged / "similarity.csv").read_text() == (graded.out / "similarity.csv").read_text()
    one, other = tables_of(graded.page), tables_of((merged / "class-report.html").read_text())
    for table in ("summary", "students", "matrix", "matrix-checks", "findings", "similarity", "similarity-clusters"):
        assert one[table] == other[table], table
    roster = _roster(tmp_path / "roster.csv", [("1001", "alice"), ("1004", "dave"), ("S-3", "carol")])
    export = _canvas_export(tmp_path / "canvas.csv")
    args = ("--roster", str(roster), "--canvas-export", str(export), "--canvas-assignment", "202")
    assert _export(graded.out, tmp_path / "a", *args).returncode == 0
    assert _export(merged, tmp_path / "b", *args).returncode == 0
    for name in (lms.CANVAS_FILE, lms.MOODLE_FILE):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text(), name


@pytest.mark.slow
def test_no_similarity_turns_it_off(graded: Graded, tmp_path: Path):
    out = tmp_path / "out"
    process = run_batch(graded.root / "class", out / "grades.csv", "--no-similarity", exercises=("basic_call",))
    assert process.returncode == 0, process.stdout + process.stderr
    assert not (out / "similarity.csv").exists() and not (out / "similarity.json").exists()
    text = re.sub(r"<[^>]+>", "", (out / "class-report.html").read_text())
    assert "Not checked (--no-similarity)" in " ".join(text.split())


@pytest.mark.slow
def test_students_table_and_matrix_in_headless_chromium(graded: Graded, tmp_path: Path):
    if reason := browser.missing():
        pytest.skip(f"no browser: {reason}")
    from selenium.webdriver.common.by import By

    with browser.open_page(graded.out / "class-report.html") as page:
        assert page.errors == [] and page.resources == []
        driver = page.driver
        students = driver.find_element(By.ID, "students")
        driver.execute_script("arguments[0].scrollIntoView()", students)
        assert students.is_displayed() and students.size["height"] > 100
        first = lambda: driver.find_element(By.CSS_SELECTOR, "#students tbody tr td").text  # noqa: E731
        assert first() == "alice"
        total = driver.find_element(By.XPATH, "//table[@id='students']//th[text()='total']")
        total.click()  # ascending: a stub's 0 first
        assert driver.find_element(By.CSS_SELECTOR, "#students tbody tr td:nth-child(3)").text == "0"
        total.click()  # descending: full marks first
        assert driver.find_element(By.CSS_SELECTOR, "#students tbody tr td:nth-child(3)").text == str(MAX)
        assert first() in ("alice", "bob")
        driver.save_screenshot(str(tmp_path / "students.png"))
        matrix = driver.find_element(By.ID, "matrix")
        driver.execute_script("arguments[0].scrollIntoView()", matrix)
        assert matrix.is_displayed() and matrix.size["width"] > 200
        failed = driver.find_elements(By.CSS_SELECTOR, "#matrix td.f")
        assert failed and failed[0].value_of_css_property("background-color") == "rgba(200, 85, 61, 1)"
        driver.save_screenshot(str(tmp_path / "matrix.png"))
        if os.environ.get("GRADER_KEEP_SCREENSHOTS"):
            for shot in ("students.png", "matrix.png"):
                shutil.copyfile(tmp_path / shot, Path(os.environ["GRADER_KEEP_SCREENSHOTS"]) / shot)
        assert page.driver.get_log("browser") == []


# Fast checks of the parts, without grading.


def _tokens(directory: Path) -> dict[str, str]:
    from grader.staff import similarity

    return similarity.read_tokens(directory, list(EXERCISES))


def test_similarity_flags_a_disguised_copy_and_nothing_the_stubs_explain(tmp_path: Path):
    from grader.staff import similarity

    make_class(tmp_path / "class")
    tokens = {d.name: _tokens(d) for d in sorted((tmp_path / "class").iterdir())}
    pairs = similarity.compare(tokens, similarity.stub_hashes(EXERCISES))
    assert [(p.a, p.b) for p in pairs] == [("alice", "bob")]
    assert pairs[0].share_a > 0.95 and pairs[0].share_b > 0.95
    assert similarity.clusters(pairs) == [("alice", "bob")]
    # Without the stubs as boilerplate, the stubs alone would make every submission alike.
    unexplained = similarity.compare(tokens, {})
    assert len(unexplained) > 1 and ("carol", "dave") in [(p.a, p.b) for p in unexplained]


def test_our_overlap_is_copydetects_measure(tmp_path: Path):
    """The vectorized overlap gives copydetect's own numbers (compare_files, same k, every k-gram kept)."""
    from copydetect import CodeFingerprint, compare_files

    from grader.staff import similarity

    make_class(tmp_path / "class")
    files = [tmp_path / "class" / n / "basic_call.py" for n in ("alice", "bob", "dave", "frank")]
    files += [tmp_path / "class" / n / "temperature.py" for n in ("alice", "bob", "erin")]
    compared = 0
    for one in files:
        for other in files:
            if one == other or one.name != other.name:
                continue
            theirs = [CodeFingerprint(str(f), similarity.K, 1) for f in (one, other)]
            overlap, (sim1, sim2), _ = compare_files(*theirs)
            ours = [similarity.fingerprint(similarity.tokens_of(f.read_text(), one.stem)) for f in (one, other)]
            oa, ob = similarity.overlap(*ours)
            assert (ours[0].coverage, ours[1].coverage) == (theirs[0].token_coverage, theirs[1].token_coverage)
            assert oa == overlap and oa / ours[0].coverage == pytest.approx(sim1), (one, other)
            assert ob / ours[1].coverage == pytest.approx(sim2), (one, other)
            compared += 1
    assert compared == 18


def test_a_linked_module_is_never_read_into_the_similarity_files(tmp_path: Path):
    """A submission whose module is a link to a staff file costs its owner: the file is not read or shown."""
    from grader.staff import similarity

    secret = tmp_path / "staff-secret.py"
    secret.write_text('TOKEN = "sk-test-secret"\n' * 20)
    cls = tmp_path / "class"
    make_class(cls)
    (cls / "mallory").mkdir()
    (cls / "mallory" / "basic_call.py").symlink_to(secret)
    shutil.copy(secret, tmp_path / "copy.py")
    entries, _ = gradebook.entries(cls)
    tokens, sources = similarity.collect(entries, list(EXERCISES), tmp_path / "work")
    assert "basic_call" not in tokens.get("mallory", {})
    similarity.write_tokens(tmp_path / "out" / similarity.TOKENS_FILE, tokens)
    result = similarity.analyse(tokens, list(EXERCISES), tmp_path / "out", sources=sources, title="t")
    assert [(p.a, p.b) for p in result.pairs] == [("alice", "bob")]
    for name in (similarity.TOKENS_FILE, similarity.PAGE_FILE, similarity.CSV_FILE):
        assert "sk-test-secret" not in (tmp_path / "out" / name).read_text(), name


def test_failures_group_by_cause_and_fall_back_to_the_first_feedback_line():
    from grader.staff import class_report

    with_cause = {"status": "failed", "feedback": "Connection error.\nmore", "cause": "request differs: body.model"}
    without = {"status": "failed", "feedback": "\n  Connection   error.\nmore"}
    assert class_report.cause_of(with_cause) == "request differs: body.model"
    assert class_report.cause_of(without) == "Connection error."
    assert class_report.cause_of({"status": "failed", "feedback": "", "visibility": "hidden"}).startswith(
        "failed, no feedback (hidden"
    )


def _row(name: str, failed: set[str], checks: tuple[str, ...] = ("c1", "c2", "c3", "c4")) -> gradebook.Row:
    tests = [
        {"id": f"ex/{c}", "name": c, "max_score": 1, "visibility": "visible",
         "status": "failed" if c in failed else "passed", "feedback": f"{c} broke" if c in failed else ""}
        for c in checks
    ]  # fmt: skip
    report = {"exercises": [{"id": "ex", "score": len(checks) - len(failed), "tests": tests}]}
    return gradebook.Row(name, "graded", "", {"ex": len(checks) - len(failed)}, len(checks) - len(failed), 1.0, report)


def test_checks_failed_by_the_same_students_are_one_finding_and_the_matrix_keeps_clusters_together():
    from grader import course
    from grader.staff import class_report

    rows = [_row("a", {"c1", "c2"}), _row("b", {"c3"}), _row("c", {"c1", "c2"}), _row("d", set()), _row("e", {"c3"})]
    stats = class_report.check_stats(rows, [course.Exercise("ex", "Ex", 4)])  # type: ignore[arg-type]
    found = class_report.findings(stats)
    assert [sorted(c.name for c in f.checks) for f in found] == [["c1", "c2"], ["c3"]]
    assert [sorted(f.failing) for f in found] == [["a", "c"], ["b", "e"]]
    names, checks = class_report.matrix_order(rows, stats)
    assert names in (["a", "c", "b", "e", "d"], ["b", "e", "a", "c", "d"])
    assert [c.name for c in checks][:2] in (["c1", "c2"], ["c3", "c1"])
    label = class_report.finding_label(found[0])
    assert "\n" not in label or all(len(line) <= class_report.LABEL_WIDTH + 20 for line in label.splitlines())
    assert label.replace("\n", " ").startswith("ex: c1 (and 1 more check failed by the same submissions)")


def test_roster_and_canvas_refuse_to_guess(tmp_path: Path):
    from grader.errors import UsageError

    twice = _roster(tmp_path / "twice.csv", [("1001", "alice"), ("1002", "alice")])
    with pytest.raises(UsageError, match="'alice' appears twice"):
        lms.read_roster(twice)
    same_id = _roster(tmp_path / "same.csv", [("1001", "alice"), ("1001", "bob")])
    with pytest.raises(UsageError, match="'1001' given to more than one row"):
        lms.read_roster(same_id)
    other = tmp_path / "other.csv"
    other.write_text("login,email\nalice,alice@uni.edu\n")
    with pytest.raises(UsageError, match=r"no column 'github_username', 'identifier'.*--roster-folder-column"):
        lms.read_roster(other)
    roster = lms.read_roster(other, "login", "email")
    assert dict(roster.ids) == {"alice": "alice@uni.edu"}
    export = _canvas_export(tmp_path / "canvas.csv")
    rows = [gradebook.Row("alice", "graded", "", {}, 7), gradebook.Row("bob", "error", "grader crashed")]
    grades = lms.match(rows, lms.read_roster(_roster(tmp_path / "r.csv", [("1001", "alice"), ("1002", "bob")])), 20)
    assert grades.scores == {"1001": 7, "1002": None} and grades.not_graded == ("bob (error)",)
    made = lms.canvas(export, "LLM APIs (202)", grades)
    assert made.filled == 1
    written = tmp_path / "canvas-import.csv"
    written.write_text(made.text)
    lines = check_canvas_rules(written, export)
    assert [r[-1] for r in lines[2:]] == ["7", "", "", "", "", ""]
    for bad, message in (("Homework", "no assignment column"), ("Current Score", "no assignment column")):
        with pytest.raises(UsageError, match=message):
            lms.canvas(export, bad, grades)
    # The same identifier held by two Canvas students (in different columns): left out and listed, not guessed.
    clash = tmp_path / "clash.csv"
    clash.write_text(export.read_text() + '"Twin, Tom",1006,1001,tom@uni.edu,A,,,\n')
    both = lms.canvas(clash, "202", grades)
    assert both.ambiguous == () and both.filled == 1  # Canvas matches ID first: 1001 is Alice's ID
    clash.write_text(export.read_text() + '"Twin, Tom",1001,S-7,tom@uni.edu,A,,,\n')
    assert lms.canvas(clash, "202", grades).ambiguous == ("1001",)
