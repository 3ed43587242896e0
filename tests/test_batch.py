"""`grader batch`: a directory of submissions (folders and zips, good and broken) into one CSV row each."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.staff import unpack
from tests.conftest import REFERENCE, STUBS
from tests.wrong.catalogue import all_mutants

EXERCISES = ("basic_call", "temperature")  # bounded work per submission, whatever suites exist later
MAX = 20

# basic_call's import hangs in a way no signal inside the process can interrupt: the judge stops the
# sandbox from outside, and the exercise's later checks fail at once, so the run ends well within its limit.
HANGS = """
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    pass
"""
# Only the check that passes a system prompt to ask_anthropic ends the grading process.
CRASH_ANCHOR = "    response = client.messages.create(\n"
CRASH = "    if system:\n        import os\n\n        os._exit(3)\n"


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _zip(target: Path, files: dict[str, str | Path]) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for name, content in files.items():
            if isinstance(content, Path):
                zf.write(content, name)
            else:
                zf.writestr(name, content)
    return target


def _module_files(prefix: str) -> dict[str, str | Path]:
    return {f"{prefix}{p.name}": p for p in sorted(REFERENCE.glob("*.py"))}


def make_class(
    directory: Path, *, references: int = 2, stubs: int = 1, mutants_each: int = 3, broken: bool = True
) -> dict[str, str]:
    """Submissions in `directory`; returns each one's expected status (only "graded" when not broken)."""
    directory.mkdir(parents=True)
    expected: dict[str, str] = {}
    for i in range(references):
        _copy(REFERENCE, directory / f"ref-{i}")
        expected[f"ref-{i}"] = "graded"
    for i in range(stubs):
        _copy(STUBS, directory / f"stub-{i}")
        expected[f"stub-{i}"] = "graded"
    for exercise in EXERCISES:
        for mutant in [m for m in all_mutants() if m.exercise == exercise][:mutants_each]:
            name = f"mutant-{mutant.exercise}-{mutant.name}"
            mutant.write(directory / name)
            expected[name] = "graded"
    _zip(directory / "zip-top.zip", _module_files(""))
    _zip(directory / "zip-folder.zip", _module_files("exercises/"))
    _zip(directory / "zip-nested.zip", {**_module_files("alice/exercises/"), "alice/README.txt": "hi"})
    expected.update({"zip-top": "graded", "zip-folder": "graded", "zip-nested": "graded"})
    if not broken:
        return expected
    hangs = _copy(REFERENCE, directory / "00-hangs")
    (hangs / "basic_call.py").write_text(HANGS)
    crashes = _copy(REFERENCE, directory / "crashes") / "basic_call.py"
    source = crashes.read_text()
    assert source.count(CRASH_ANCHOR) == 1
    crashes.write_text(source.replace(CRASH_ANCHOR, CRASH + CRASH_ANCHOR))
    (directory / "bad.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    _zip(directory / "slip.zip", {**_module_files(""), "../../outside.py": "x = 1"})
    link = zipfile.ZipInfo("basic_call.py")
    link.external_attr = (0o120777 << 16) | 0
    with zipfile.ZipFile(directory / "link.zip", "w") as zf:
        zf.writestr(link, "/etc/passwd")
    (directory / "no-modules").mkdir()
    (directory / "no-modules" / "README.txt").write_text("I forgot my code")
    _zip(directory / "empty.zip", {})
    _zip(directory / "readme-only.zip", {"work/README.md": "code is on my laptop"})
    (directory / "notes.txt").write_text("not a submission")
    expected.update(
        {
            "00-hangs": "graded",
            "crashes": "crashed",
            "bad": "invalid",
            "slip": "invalid",
            "link": "invalid",
            "no-modules": "invalid",
            "empty": "invalid",
            "readme-only": "invalid",
            "notes": "invalid",
        }
    )
    return expected


def run_batch(
    directory: Path, csv_path: Path, *args: str, timeout: float = 900, exercises: tuple[str, ...] = EXERCISES
) -> subprocess.CompletedProcess[str]:
    """`grader batch` on `exercises` (all of the course when empty)."""
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(directory), "--csv", str(csv_path),
         *(f"--exercise={e}" for e in exercises), *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=timeout,
    )  # fmt: skip


@pytest.mark.slow
def test_a_class_with_broken_submissions_gets_one_row_each(tmp_path: Path):
    expected = make_class(tmp_path / "class")
    assert len(expected) >= 20
    gradebook, reports = tmp_path / "grades.csv", tmp_path / "reports"
    # 60 s: ample for a normal submission (about 5 s), and what the hanging one costs one worker.
    process = run_batch(tmp_path / "class", gradebook, "-j", "2", "--json-dir", str(reports), "--time-limit", "60")
    assert process.returncode == 0, process.stdout + process.stderr
    with gradebook.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == ["submission", *EXERCISES, "total", "max", "status", "message"]
    assert sorted(r["submission"] for r in rows) == sorted(expected) == [r["submission"] for r in rows]
    by_name = {r["submission"]: r for r in rows}
    for name, status in expected.items():
        row = by_name[name]
        assert row["status"] == status, row
        assert row["max"] == str(MAX)
        if status in ("graded", "crashed", "timeout"):
            assert int(row["total"]) == sum(int(row[e]) for e in EXERCISES)
            assert (reports / f"{name}.json").is_file()
        else:
            assert row["total"] == "0" and row["message"] and not row["message"].startswith(name), row
    for name in ("ref-0", "ref-1", "zip-top", "zip-folder", "zip-nested"):
        assert by_name[name]["total"] == str(MAX), name
    assert by_name["stub-0"]["total"] == "0"
    mutants = [r for n, r in by_name.items() if n.startswith("mutant-")]
    assert mutants and all(int(r["total"]) < MAX for r in mutants)
    assert "zip-slip" in by_name["slip"]["message"] and "../../outside.py" in by_name["slip"]["message"]
    assert "not a valid zip" in by_name["bad"]["message"]
    assert "symbolic link" in by_name["link"]["message"]
    for name in ("no-modules", "empty", "readme-only"):
        assert "no exercise module" in by_name[name]["message"], name
    crashed = by_name["crashes"]
    assert "test_ask_anthropic_system_parameter" in crashed["message"] and "exit code 3" in crashed["message"]
    assert crashed["temperature"] == "10" and 0 < int(crashed["basic_call"]) < 10
    hung = by_name["00-hangs"]
    assert "importing it did not finish" in hung["message"] and hung["basic_call"] == "0"
    assert hung["temperature"] == "10"
    assert not (tmp_path / "outside.py").exists() and not (tmp_path / "class" / "outside.py").exists()
    report = json.loads((reports / "ref-0.json").read_text())
    assert report["score"] == MAX
    assert by_name["notes"]["message"].startswith("a .txt file; only folders and .zip archives are graded")


def test_unpack_finds_modules_at_top_or_in_one_folder(tmp_path: Path):
    top = _zip(tmp_path / "top.zip", _module_files(""))
    nested = _zip(tmp_path / "nested.zip", {**_module_files("bob/exercises/"), "__MACOSX/._x": "junk"})
    two = _zip(tmp_path / "two.zip", {**_module_files("a/"), **_module_files("b/")})
    for archive, parts in ((top, ()), (nested, ("bob", "exercises"))):
        work = tmp_path / f"work-{archive.stem}"
        work.mkdir()
        found = unpack.prepare(archive, work)
        assert found == work.joinpath("unpacked", *parts)
        assert (found / "basic_call.py").read_bytes() == (REFERENCE / "basic_call.py").read_bytes()
    work = tmp_path / "work-two"
    work.mkdir()
    with pytest.raises(unpack.UnpackError, match=r"two.zip: several folders hold exercise modules \(a, b\)"):
        unpack.prepare(two, work)


def test_a_file_that_is_not_a_zip_is_refused_naming_its_format(tmp_path: Path):
    tgz = tmp_path / "bob.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(REFERENCE / "basic_call.py", "basic_call.py")
    (tmp_path / "eve.rar").write_bytes(b"Rar!\x1a\x07\x01\x00 rest")
    (tmp_path / "mallory.zip").write_bytes(b"Rar!\x1a\x07\x00 not a zip")
    (tmp_path / "trent.pdf").write_bytes(b"PK\x03\x04 a zip inside")
    (tmp_path / "carol.py").write_text("x = 1")
    expected = {
        "bob.tar.gz": "a tar.gz archive; only folders and .zip archives are graded: unpack it into a folder",
        "eve.rar": "a RAR archive; only folders",
        "trent.pdf": "a zip archive named 'trent.pdf' (rename it to .zip); only folders",
        "carol.py": "a .py file; only folders",
    }
    for name, message in expected.items():
        work = tmp_path / f"work-{name}"
        work.mkdir()
        with pytest.raises(unpack.UnpackError) as caught:
            unpack.prepare(tmp_path / name, work)
        assert caught.value.label == name and caught.value.reason.startswith(message), caught.value.reason
    work = tmp_path / "work-mallory"
    work.mkdir()
    with pytest.raises(unpack.UnpackError, match=r"not a valid zip file .*; it is a RAR archive"):
        unpack.prepare(tmp_path / "mallory.zip", work)


@pytest.mark.parametrize("name", ["/etc/evil.py", "a/../../evil.py", "..\\evil.py", "C:/evil.py"])
def test_unpack_refuses_paths_outside_the_archive(tmp_path: Path, name: str):
    archive = _zip(tmp_path / "evil.zip", {"basic_call.py": "x = 1", name: "x = 1"})
    destination = tmp_path / "out"
    destination.mkdir()
    with pytest.raises(unpack.UnpackError, match="zip-slip"):
        unpack.extract_zip(archive, destination)
    assert not list(tmp_path.rglob("evil.py"))


def test_unpack_refuses_an_archive_that_unpacks_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(unpack, "MAX_BYTES", 1000)
    archive = _zip(tmp_path / "big.zip", {"basic_call.py": "x" * 5000})
    destination = tmp_path / "out"
    destination.mkdir()
    with pytest.raises(unpack.UnpackError, match=r"big\.zip: would unpack to more than"):
        unpack.extract_zip(archive, destination)


def test_batch_rejects_bad_arguments_clearly(tmp_path: Path):
    missing = run_batch(tmp_path / "nowhere", tmp_path / "g.csv")
    assert missing.returncode == 2 and "nowhere" in missing.stdout
    (tmp_path / "empty").mkdir()
    empty = run_batch(tmp_path / "empty", tmp_path / "g.csv")
    assert empty.returncode == 2 and "no submissions" in empty.stdout
    jobs = run_batch(tmp_path / "empty", tmp_path / "g.csv", "-j", "0")
    assert jobs.returncode == 2 and "'0'" in jobs.stderr
    assert not (tmp_path / "g.csv").exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_one_student_batch_never_replaces_the_class_gradebook(tmp_path: Path):
    """One student re-graded into the class's --csv: refused, nothing touched; with --update, exactly that row,
    its feedback and its report entry are replaced and every other row is kept as it was."""
    whole, out = tmp_path / "class", tmp_path / "out"
    for name, source in (("alice", REFERENCE), ("bob", STUBS), ("carol", REFERENCE)):
        _copy(source, whole / name)
    grades = out / "grades.csv"
    first = run_batch(whole, grades, exercises=("basic_call",))
    assert first.returncode == 0, first.stdout + first.stderr
    before = _snapshot(out)

    one = tmp_path / "late"
    _copy(REFERENCE, one / "bob")  # bob fixed his work
    refused = run_batch(one, grades, exercises=("basic_call",))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = " ".join(refused.stdout.split())
    assert "alice, carol" in said and "--update" in said and "Nothing was written" in said
    assert _snapshot(out) == before

    updated = run_batch(one, grades, "--update", exercises=("basic_call",))
    assert updated.returncode == 0, updated.stdout + updated.stderr
    with grades.open(newline="") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    assert {n: r["total"] for n, r in rows.items()} == {"alice": "10", "bob": "10", "carol": "10"}
    after = _snapshot(out)
    for kept in ("feedback/alice.json", "feedback/alice.md", "feedback/carol.json", "feedback/carol.md"):
        assert after[kept] == before[kept], kept
    assert after["feedback/bob.json"] != before["feedback/bob.json"]
    manifest = json.loads(after["batch.json"])
    assert manifest["class"] == manifest["submissions"] == ["alice", "bob", "carol"]
    assert after["class-report.html"] != before["class-report.html"]  # rebuilt from all three rows
    assert all(name in after["class-report.html"].decode() for name in ("alice", "bob", "carol"))
