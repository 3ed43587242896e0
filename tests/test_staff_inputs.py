"""Issue 20, classes 8-12: what staff commands read from a class is untrusted input.

Every test here is an attack first: each one got through on the code before the fix (the report of
issue 20 says how each failed there). Black-box where it can be (the CLI in a subprocess), so that
the same file runs against the code before and after.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import course, rubric
from grader.sandbox.outside import copying
from grader.staff import unpack
from tests.conftest import REFERENCE, ROOT, STUBS, run_grade

EXERCISE = "basic_call"  # one exercise: bounded work for each graded submission
WEIGHT = next(e.weight for e in course.COURSE if e.id == EXERCISE)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    return {**base, "COLUMNS": "200", **extra}


def _cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=timeout
    )


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


# --- class 12: archives bounded before parsing ------------------------------------------------------

_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_EOCD = struct.Struct("<4s4H2LH")


def _directory_bomb(path: Path, entries: int, *, announced: int | None = None) -> Path:
    """A zip that is only a central directory of `entries` tiny entries (5-byte names, no data)."""
    names = [f"{i:05d}".encode() for i in range(entries)]
    directory = b"".join(
        _ENTRY.pack(b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, len(n), 0, 0, 0, 0, 0, 0) + n for n in names
    )
    count = entries if announced is None else announced
    path.write_bytes(directory + _EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), 0, 0))
    return path


_MEASURE = """
import sys, tracemalloc
from pathlib import Path
from grader.staff import unpack
tracemalloc.start()
try:
    unpack.extract_zip(Path(sys.argv[1]), Path(sys.argv[2]))
    print("EXTRACTED")
except unpack.UnpackError as exc:
    print("REFUSED", exc.reason)
print("PEAK", tracemalloc.get_traced_memory()[1])
"""


# The lying record announces 1 entry for a directory (2 MB, under the directory's byte cap) of 40,000.
@pytest.mark.parametrize(("entries", "announced"), [(60_000, None), (40_000, 1)], ids=["honest-count", "count-lies"])
def test_a_zip_announcing_a_huge_directory_is_refused_before_it_is_parsed(
    tmp_path: Path, entries: int, announced: int | None
):
    """Tens of thousands of entries in 2-3 MB: zipfile builds an object per entry (tens of MB) unless bounded first."""
    bomb = _directory_bomb(tmp_path / "bomb.zip", entries, announced=announced)
    assert bomb.stat().st_size < 4 * 2**20
    (tmp_path / "out").mkdir()
    process = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(bomb), str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    lines = dict(line.split(" ", 1) for line in process.stdout.splitlines())
    assert "REFUSED" in lines, process.stdout
    assert "members" in lines["REFUSED"], lines["REFUSED"]
    # Reading the end record and (for the lying count) counting the 3 MB directory's entries in place.
    assert int(lines["PEAK"]) < 8 * 2**20, f"the parent used {int(lines['PEAK']) / 2**20:.1f} MiB on one upload"
    assert not list((tmp_path / "out").iterdir())


def test_a_zip64_end_record_announcing_2_to_the_40_entries_is_refused(tmp_path: Path):
    record64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 2**40, 2**40, 2**40, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1)
    eocd = _EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    bomb = tmp_path / "bomb64.zip"
    bomb.write_bytes(record64 + locator + eocd)
    with pytest.raises(unpack.UnpackError, match=r"announces 1099511627776 members"):
        unpack.extract_zip(bomb, tmp_path)


def test_ordinary_zips_still_unpack_after_the_bound(tmp_path: Path):
    """The bound reads the end record as zipfile does: with a comment, zip64 and data before the archive."""
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.comment = b"made by a tool that comments its archives"
        for path in sorted(REFERENCE.glob("*.py")):
            zf.write(path, f"exercises/{path.name}")
    forced64 = tmp_path / "forced64.zip"
    with zipfile.ZipFile(forced64, "w") as zf, zf.open("basic_call.py", "w", force_zip64=True) as member:
        member.write((REFERENCE / "basic_call.py").read_bytes())
    prefixed = tmp_path / "prefixed.zip"
    prefixed.write_bytes(b"#!/bin/sh\nexit 0\n" + plain.read_bytes())
    for archive, inside in ((plain, "exercises/basic_call.py"), (forced64, "basic_call.py"), (prefixed, None)):
        out = tmp_path / f"out-{archive.stem}"
        out.mkdir()
        unpack.extract_zip(archive, out)
        if inside:
            assert (out / inside).read_bytes() == (REFERENCE / "basic_call.py").read_bytes()
    with pytest.raises(unpack.UnpackError, match="not a valid zip"):
        broken = tmp_path / "trailing.zip"
        broken.write_bytes(plain.read_bytes()[:-3])
        unpack.extract_zip(broken, tmp_path / "out-plain")


# --- class 11: no link followed when a submission is located or copied -----------------------------


def test_locate_refuses_every_kind_of_link_and_names_it(tmp_path: Path):
    classmate = _copy(REFERENCE, tmp_path / "class" / "bob")
    alice = tmp_path / "class" / "alice"
    alice.mkdir()
    (alice / "exercises").symlink_to(classmate)  # a linked modules folder, as git would check it out
    carol = tmp_path / "class" / "carol"
    carol.symlink_to(REFERENCE)  # the whole entry is a link to the grader's own reference solutions
    dave = _copy(STUBS, tmp_path / "class" / "dave")
    (dave / "basic_call.py").unlink()
    (dave / "basic_call.py").symlink_to(REFERENCE / "basic_call.py")  # one linked module
    eve = _copy(STUBS, tmp_path / "class" / "eve" / "exercises")
    (eve / "helpers").mkdir()
    (eve / "helpers" / "data.json").symlink_to("/etc/passwd")  # a link anywhere inside what is copied
    for name, link in (("alice", "exercises"), ("carol", "carol"), ("dave", "basic_call.py"),
                       ("eve", "exercises/helpers/data.json")):  # fmt: skip
        work = tmp_path / f"work-{name}"
        work.mkdir()
        with pytest.raises(unpack.UnpackError) as caught:
            unpack.prepare(tmp_path / "class" / name, work)
        assert f"{link!r} is a symbolic link" in caught.value.reason, (name, caught.value.reason)
    assert unpack.prepare(classmate, tmp_path / "work-alice") == classmate


def test_the_copy_into_the_sandbox_refuses_links(tmp_path: Path):
    source = _copy(STUBS, tmp_path / "submission")
    (source / "basic_call.py").unlink()
    (source / "basic_call.py").symlink_to(REFERENCE / "basic_call.py")
    with pytest.raises(copying.CopyError, match=r"'basic_call\.py' is a symbolic link"):
        copying.copy_tree(source, tmp_path / "box", max_bytes=2**26, owner=None)
    linked = tmp_path / "linked"
    linked.symlink_to(REFERENCE)
    with pytest.raises(copying.CopyError, match="'linked' is a symbolic link"):
        copying.copy_tree(linked, tmp_path / "box2", max_bytes=2**26, owner=None)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["linked-folder", "linked-module"])
def test_grade_refuses_a_submission_with_a_link_in_one_line(tmp_path: Path, how: str):
    if how == "linked-folder":
        submission = tmp_path / "exercises"
        submission.symlink_to(REFERENCE)
        named = "'exercises' is a symbolic link"
    else:
        submission = _copy(STUBS, tmp_path / "exercises")
        (submission / "basic_call.py").unlink()
        (submission / "basic_call.py").symlink_to(REFERENCE / "basic_call.py")
        named = "'basic_call.py' is a symbolic link"
    run = run_grade(tmp_path, Path("exercises"), EXERCISE)
    assert run.returncode == 2 and run.report is None, run.output
    assert named in run.output and "Traceback" not in run.output, run.output
    assert "Grader problem" not in run.output


# --- class 9: official and CI modes carry nothing over ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["GITHUB_ACTIONS=true", "--official"])
def test_a_forged_report_earns_nothing_in_official_or_ci_grading(tmp_path: Path, mode: str):
    exercise = next(e for e in course.COURSE if e.id == EXERCISE)
    checks = [{"id": c.id, "status": "passed"} for c in rubric.load(exercise).checks]
    # What a student commits: a report in which every check passed, at the path the workflow grades to.
    (tmp_path / "report.json").write_text(json.dumps({"schema": 1, "exercises": [{"tests": checks}]}))
    submission = _copy(STUBS, tmp_path / "exercises")
    outputs, summary = tmp_path / "github-output", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    args = ["--failed", EXERCISE]
    if mode == "--official":
        args += ["--official", "--github"]
    else:
        env["GITHUB_ACTIONS"] = "true"
    run = run_grade(tmp_path, submission, *args, env=env)
    assert run.returncode == 0, run.output
    assert run.report is not None and run.report["score"] == 0, run.output
    assert all(t["status"] != "passed" for t in run.exercise(EXERCISE)["tests"])
    sent = outputs.read_text()
    assert "score=0\n" in sent
    result = next(line.removeprefix("result=") for line in sent.splitlines() if line.startswith("result="))
    classroom = json.loads(base64.b64decode(result))  # what GitHub Classroom's reporter adds up
    assert sum(t["score"] for t in classroom["tests"]) == 0 and classroom["max_score"] == WEIGHT
    assert "--failed is ignored in official and CI grading" in run.output


# --- class 10: shard artifacts are untrusted --------------------------------------------------------


def _record(name: str) -> dict[str, object]:
    return {"schema": 1, "score": 0, "max_score": WEIGHT, "exercises": [], "notes": ["no exercise module"],
            "submission": name, "status": "invalid", "message": "no exercise module", "seconds": 0.1}  # fmt: skip


def _make_shards(root: Path, names: tuple[str, ...] = ("ann", "ben", "cat")) -> list[Path]:
    """The output folders of `batch --shard K/2` for a class in which nothing could be graded (no grading needed)."""
    folders = []
    ordered = sorted(names)
    for k in (1, 2):
        folder = root / f"shard-{k}"
        (folder / "feedback").mkdir(parents=True)
        mine = ordered[k - 1 :: 2]
        with (folder / "grades.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["submission", EXERCISE, "total", "max", "status", "message"])
            for name in mine:
                writer.writerow([name, 0, 0, WEIGHT, "invalid", "no exercise module"])
                (folder / "feedback" / f"{name}.json").write_text(json.dumps(_record(name)))
                (folder / "feedback" / f"{name}.md").write_text(f"# Grade of {name}: invalid\n")
        manifest = {"schema": 1, "shard": [k, 2], "class": list(ordered), "submissions": mine,
                    "exercises": [EXERCISE], "csv": "grades.csv", "feedback": "feedback"}  # fmt: skip
        (folder / "batch.json").write_text(json.dumps(manifest))
        folders.append(folder)
    return folders


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_merge_of_honest_shards_still_works(tmp_path: Path):
    shards = _make_shards(tmp_path / "shards")
    process = _cli("merge", str(tmp_path / "out"), *map(str, shards))
    assert process.returncode == 0, process.stdout + process.stderr
    assert sorted(_rows(tmp_path / "out" / "grades.csv")) == ["ann", "ben", "cat"]
    assert (tmp_path / "out" / "feedback" / "ben.md").read_text() == "# Grade of ben: invalid\n"


def _attack_csv_path(shards: list[Path], tmp: Path) -> None:
    # The shard reads and the merge would write OUT_DIR/../../escaped.csv: outside the output folder.
    shutil.copyfile(shards[0] / "grades.csv", shards[0] / ".." / ".." / "escaped.csv")
    _edit(shards[0] / "batch.json", csv="../../escaped.csv")


def _attack_feedback_elsewhere(shards: list[Path], tmp: Path) -> None:
    elsewhere = tmp / "elsewhere"
    shutil.copytree(shards[0] / "feedback", elsewhere)
    _edit(shards[0] / "batch.json", feedback=str(elsewhere))


def _attack_feedback_link(shards: list[Path], tmp: Path) -> None:
    secret = tmp / "secret.json"  # a file of the merging machine, read through a link planted in the artifact
    secret.write_text(json.dumps({**_record("ann"), "message": "TOP SECRET"}))
    (shards[0] / "feedback" / "ann.json").unlink()
    (shards[0] / "feedback" / "ann.json").symlink_to(secret)


def _attack_markdown_link(shards: list[Path], tmp: Path) -> None:
    secret = tmp / "secret.md"
    secret.write_text("TOP SECRET\n")
    (shards[0] / "feedback" / "ann.md").unlink()
    (shards[0] / "feedback" / "ann.md").symlink_to(secret)


def _attack_shard_types(shards: list[Path], tmp: Path) -> None:
    _edit(shards[0] / "batch.json", shard=["1", 2])


def _attack_class_string(shards: list[Path], tmp: Path) -> None:
    for folder in shards:
        _edit(folder / "batch.json", **{"class": "abc"})


def _attack_score_text(shards: list[Path], tmp: Path) -> None:
    _edit(shards[0] / "feedback" / "ann.json", score="10")


def _attack_score_huge(shards: list[Path], tmp: Path) -> None:
    _edit(shards[0] / "feedback" / "ann.json", score=10**12)


def _attack_tests_not_a_list(shards: list[Path], tmp: Path) -> None:
    _edit(shards[0] / "feedback" / "ann.json", exercises=[{"id": EXERCISE, "score": 0, "tests": "xyz"}])


def _attack_huge_manifest(shards: list[Path], tmp: Path) -> None:
    _edit(shards[0] / "batch.json", padding="x" * (17 * 2**20))


ATTACKS = {f.__name__.removeprefix("_attack_"): f for f in (
    _attack_csv_path, _attack_feedback_elsewhere, _attack_feedback_link, _attack_markdown_link, _attack_shard_types,
    _attack_class_string, _attack_score_text, _attack_score_huge, _attack_tests_not_a_list, _attack_huge_manifest,
)}  # fmt: skip


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_bad_shard_is_an_error_naming_it_and_nothing_is_written(tmp_path: Path, attack: str):
    work = tmp_path / "a" / "b"
    shards = _make_shards(work / "shards")
    ATTACKS[attack](shards, tmp_path)
    before = _files(tmp_path)
    out = work / "o1" / "o2" / "out"  # OUT_DIR/../../escaped.csv is a new file: a write there is seen
    process = _cli("merge", str(out), *map(str, shards))
    output = process.stdout + process.stderr
    assert process.returncode == 2, output
    assert "Traceback" not in output and str(shards[0]) in output, output
    assert _files(tmp_path) == before, sorted(map(str, _files(tmp_path) - before))


# --- class 8: one submission never aborts a batch ---------------------------------------------------

_SURROGATE = 'raise ImportError("cannot load \\ud800 module")\n'


@pytest.mark.slow
def test_hostile_names_links_and_bombs_cost_their_own_row_only(tmp_path: Path):
    """One batch: every submission gets its row, the CSV is written, feedback names are bounded and unique."""
    root = tmp_path / "class"
    bob = _copy(REFERENCE, root / "bob")
    long_a, long_b = "x" * 250, "x" * 249 + "y"  # legal names; `<name>.json.tmp` is not
    _copy(STUBS, root / long_a)
    (root / long_b).mkdir()
    odd = "we\nird ☃ =name"
    _copy(STUBS, root / odd)
    os.mkdir(os.fsencode(root) + b"/bad\xff")  # not UTF-8: the name is shown with an escape
    _copy(STUBS, Path(os.fsdecode(os.fsencode(root) + b"/bad\xff")) / "exercises")
    surrogate = _copy(STUBS, root / "surrogate")
    (surrogate / "basic_call.py").write_text(_SURROGATE)
    (root / "alice").mkdir()
    (root / "alice" / "exercises").symlink_to(bob)  # a classmate's work through a link
    (root / "carol").symlink_to(REFERENCE)  # the reference solutions through a link
    _directory_bomb(root / "bomb.zip", 60_000)
    gradebook_csv = tmp_path / "out" / "grades.csv"
    process = _cli("batch", str(root), "--csv", str(gradebook_csv), f"--exercise={EXERCISE}", "-j", "2",
                   "--time-limit", "120", "--no-report")  # fmt: skip
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    rows = _rows(gradebook_csv)
    expected = {
        "bob": "graded", long_a: "graded", long_b: "invalid", odd: "graded", "bad\\xff": "graded",
        "surrogate": "graded", "alice": "invalid", "carol": "invalid", "bomb": "invalid",
    }  # fmt: skip
    assert {n: r["status"] for n, r in rows.items()} == {gradebook_name(n): s for n, s in expected.items()}, output
    assert rows["bob"]["total"] == str(WEIGHT)
    assert rows["alice"]["total"] == "0" and "'exercises' is a symbolic link" in rows["alice"]["message"]
    assert "'carol' is a symbolic link" in rows["carol"]["message"]
    assert "announces 60000 members" in rows["bomb"]["message"]
    assert rows["surrogate"]["total"] == "0" and "cannot load" in rows["surrogate"]["message"], rows["surrogate"]
    feedback = sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir())
    assert len(feedback) == 2 * len(expected), feedback
    assert all(len(name.encode()) <= 120 and "\n" not in name for name in feedback), feedback
    for name in (long_a, long_b, odd, "bad\\xff"):
        records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "feedback").glob("*.json")]
        assert [r["submission"] for r in records].count(name) == 1, name


def gradebook_name(name: str) -> str:
    """A name as the CSV shows it: a leading = + - @ is quoted against formulas."""
    return "'" + name if name[:1] in "=+-@" else name


# --- the untouched batch-directory layout still holds -----------------------------------------------


def test_unpack_still_finds_modules_beside_hidden_links(tmp_path: Path):
    """A link the grader never looks into (a hidden folder beside the submission's folder) is no reason to refuse."""
    repo = tmp_path / "repo"
    _copy(REFERENCE, repo / "exercises")
    (repo / ".venv").symlink_to("/usr")
    work = tmp_path / "work"
    work.mkdir()
    assert unpack.prepare(repo, work) == repo / "exercises"


def test_feedback_file_names_are_bounded_unique_and_keep_plain_names():
    from grader.staff import gradebook

    plain = ["alice", "bob-2", "submission_123456", "a.b+c@d", "x" * 100]
    odd = ["x" * 101, "x" * 250, "x" * 249 + "y", "José", "Jose\u0301", "a b", "a_b~0123456789ab", "../../etc",
           ".hidden", "-rf", "a\nb", "bad\\xff", "~"]  # fmt: skip
    stems = {name: gradebook.file_stem(name) for name in plain + odd}
    assert all(stems[name] == name for name in plain)
    assert all("~" in stems[name] and stems[name] != name for name in odd), stems
    assert len(set(stems.values())) == len(stems), stems
    for stem in stems.values():
        assert len(stem.encode()) <= 100 and "/" not in stem and not stem.startswith((".", "-")), stem


def test_staff_files_are_never_written_through_a_link_at_a_temporary_name(tmp_path: Path):
    # Feedback, a shard's manifest and autograder.zip are each written beside a temporary file and renamed:
    # a link planted at the temporary name (a shared class folder) must be neither followed nor written through.
    from grader.staff import gradebook, gradescope_zip, shards

    secret = tmp_path / "secret.txt"
    secret.write_text("staff only\n")
    out = tmp_path / "out"
    out.mkdir()
    exercises = [course.exercise("basic_call")]
    feedback_json, feedback_md = gradebook.feedback_paths(out, "ann")
    for planted in (feedback_json, feedback_md, out / shards.MANIFEST, out / "autograder.zip"):
        planted.with_name(planted.name + ".tmp").symlink_to(secret)
    gradebook.write_feedback(gradebook.Row("ann", "invalid", "no modules"), exercises, out)
    manifest = shards.Manifest(None, ("ann",), ("ann",), ("basic_call",), "grades.csv", None)
    shards.write_manifest(out, manifest)
    gradescope_zip.build(out)
    assert secret.read_text() == "staff only\n"
    assert "ann" in feedback_md.read_text() and shards.read_manifest(out) == manifest
    assert zipfile.ZipFile(out / "autograder.zip").namelist()


def test_a_cassette_put_back_is_never_written_through_a_link_at_a_temporary_name(tmp_path: Path):
    from grader.staff import record_guard

    secret, cassette = tmp_path / "secret.txt", tmp_path / "cassettes" / "basic_call" / "test_a.yaml"
    secret.write_text("staff only\n")
    cassette.parent.mkdir(parents=True)
    cassette.write_bytes(b"interactions: []\nversion: 1\n")
    before = record_guard.snapshot(tmp_path / "cassettes")
    assert cassette in before
    cassette.write_bytes(b"a failed recording\n")
    cassette.with_name(cassette.name + ".restore.tmp").symlink_to(secret)
    record_guard.restore(cassette, before)
    assert secret.read_text() == "staff only\n"
    assert cassette.read_bytes() == b"interactions: []\nversion: 1\n"


@pytest.mark.parametrize("told", ["abc", "0", "-1", "2.5", " 2"])
def test_a_bad_grader_judges_is_named_before_anything_is_graded(tmp_path: Path, told: str):
    said = f"GRADER_JUDGES={told!r} (from the environment) is not a number of judges"
    graded = run_grade(tmp_path, REFERENCE, env={"GRADER_JUDGES": told})
    assert graded.returncode == 2 and said in " ".join(graded.output.split()), graded.output
    assert graded.report is None
    classroom, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(REFERENCE, classroom / "ann", ignore=shutil.ignore_patterns("__pycache__"))
    batch = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(classroom), "--csv", str(out / "grades.csv")],
        capture_output=True, text=True, env={**os.environ, "GRADER_JUDGES": told, "COLUMNS": "200"},
    )  # fmt: skip
    assert batch.returncode == 2 and said in " ".join(batch.stdout.split()), batch.stdout + batch.stderr
    assert not out.exists()
