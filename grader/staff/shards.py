"""A batch's output folder: its manifest (`batch.json`), and merging the folders of a sharded batch into one.

`grader batch --shard K/N` grades the K-th of N disjoint slices of a class (every N-th submission
by name). Each shard's folder holds its CSV, its per-student feedback and a manifest naming the
shard, the whole class and the exercises, so that `merge` can prove that every submission
appears exactly once and name any shard that is missing.

A shard's folder comes from a machine that ran student code, so `merge` believes nothing in it: it
reads only fixed names (`batch.json`, the CSV name checked to be a plain file name, the feedback
folder checked to be a plain relative folder, each student's feedback by `gradebook.file_stem`),
never through a link, each file within a size cap, and every field of the manifest and of each
feedback JSON is checked for its exact type and range. A shard that fails any check is an error
(exit 2) naming it, and nothing is written.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import stat
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.markup import escape

from grader import course
from grader.errors import UsageError
from grader.parent import grading, safe_write
from grader.staff import gradebook

MANIFEST = "batch.json"
FEEDBACK_DIR = "feedback"
REPORT_FILE = "class-report.html"
SCHEMA = 1
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_FEEDBACK_BYTES = 8 * 1024 * 1024  # each student's feedback JSON or Markdown
MAX_SHARDS = 10_000
MAX_CLASS = 100_000
MAX_NAME = 1024  # characters of a submission's name
_CSV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.csv")
_FOLDER_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_KEYS = {"schema", "shard", "class", "submissions", "exercises", "csv", "feedback"}
STAFF_EXTRA = f"pip install -e '.[staff]' -c constraints{'-3.10' if sys.version_info < (3, 11) else ''}.txt"


@dataclass(frozen=True)
class Manifest:
    shard: tuple[int, int] | None  # (K, N), None for a whole class
    everyone: tuple[str, ...]  # every submission of the class, by name
    submissions: tuple[str, ...]  # the ones graded into this folder
    exercises: tuple[str, ...]
    csv: str  # file name of the gradebook in this folder
    feedback: str | None  # folder of the per-student feedback, relative to this folder when inside it


def relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def write_manifest(folder: Path, manifest: Manifest) -> None:
    data = {
        "schema": SCHEMA,
        "shard": list(manifest.shard) if manifest.shard else None,
        "class": list(manifest.everyone),
        "submissions": list(manifest.submissions),
        "exercises": list(manifest.exercises),
        "csv": manifest.csv,
        "feedback": manifest.feedback,
    }
    safe_write.write_text(folder / MANIFEST, json.dumps(data, indent=2) + "\n")


class _Bad(ValueError):
    """One field of a shard's file is not what `batch` writes."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def read_bounded(path: Path, cap: int) -> bytes:
    """The bytes of regular file `path`, never through a link, at most `cap`; UsageError naming it otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror or exc})"
        raise UsageError(f"{path}: {why}; a shard is read only from its own regular files") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UsageError(f"{path}: not a regular file; a shard is read only from its own regular files")
        data = f.read(cap + 1)
    if len(data) > cap:
        raise UsageError(f"{path}: larger than {cap // 2**20} MiB; refused")
    return data


def _names_list(value: object, what: str) -> tuple[str, ...]:
    _need(isinstance(value, list) and len(value) <= MAX_CLASS, f"{what!r} is not a list")
    assert isinstance(value, list)
    for name in value:
        _need(
            isinstance(name, str) and 0 < len(name) <= MAX_NAME and gradebook.safe_text(name) == name,
            f"{what!r} holds {str(name)[:80]!r}, not a submission's name",
        )
    _need(len(set(value)) == len(value), f"{what!r} names a submission twice")
    return tuple(value)


def _manifest(data: object) -> Manifest:
    _need(isinstance(data, dict), "not a JSON object")
    assert isinstance(data, dict)
    _need(set(data) == _KEYS, f"its keys are not {', '.join(sorted(_KEYS))}")
    _need(data["schema"] == SCHEMA and type(data["schema"]) is int, f"'schema' is not {SCHEMA}")
    shard = data["shard"]
    if shard is not None:
        _need(
            isinstance(shard, list) and len(shard) == 2 and all(type(n) is int for n in shard)
            and 1 <= shard[0] <= shard[1] <= MAX_SHARDS,
            f"'shard' is not [K, N] with 1 <= K <= N <= {MAX_SHARDS}",
        )  # fmt: skip
    everyone = _names_list(data["class"], "class")
    submissions = _names_list(data["submissions"], "submissions")
    _need(set(submissions) <= set(everyone), "'submissions' names one not in 'class'")
    known = {e.id for e in course.COURSE}
    exercises = data["exercises"]
    _need(
        isinstance(exercises, list) and 0 < len(exercises) <= len(known)
        and all(isinstance(e, str) and e in known for e in exercises) and len(set(exercises)) == len(exercises),
        "'exercises' is not a list of this course's exercise ids",
    )  # fmt: skip
    name = data["csv"]
    _need(isinstance(name, str) and _CSV_NAME.fullmatch(name) is not None, "'csv' is not a plain file name *.csv")
    feedback = data["feedback"]
    if feedback is not None:
        _need(
            isinstance(feedback, str) and len(feedback) <= 400
            and all(_FOLDER_PART.fullmatch(part) for part in feedback.split("/")),
            "'feedback' is not a folder inside the shard's folder (letters, digits, ._-)",
        )  # fmt: skip
    return Manifest(
        shard=(shard[0], shard[1]) if shard else None,
        everyone=everyone,
        submissions=submissions,
        exercises=tuple(exercises),
        csv=name,
        feedback=feedback,
    )


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file() and not path.is_symlink():
        raise UsageError(f"{folder}: no {MANIFEST}; give the output folders of `grader batch --shard K/N` runs")
    raw = read_bounded(path, MAX_MANIFEST_BYTES)
    try:
        return _manifest(json.loads(raw.decode("utf-8")))
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not a batch manifest ({type(exc).__name__}: {exc}); was it edited?") from None


def feedback_row(feedback: Path, name: str, exercises: Sequence[course.Exercise]) -> gradebook.Row:
    """Submission `name`'s row rebuilt from its feedback JSON in `feedback`, read bounded and checked field by field
    (`--update` and `grades-export` read a folder that `merge` may have written from shards)."""
    as_json, _ = gradebook.feedback_paths(feedback, name)
    raw = read_bounded(as_json, MAX_FEEDBACK_BYTES)
    try:
        return gradebook.row_of(json.loads(raw.decode("utf-8")), name, exercises)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{as_json}: not the feedback JSON of {name!r} ({exc})") from None


def _csv_names(path: Path, limit: int) -> list[str]:
    try:
        text = read_bounded(path, MAX_CSV_BYTES).decode("utf-8")
        names = []
        for row in csv.DictReader(io.StringIO(text, newline="")):
            names.append(row["submission"])
            _need(len(names) <= limit, "more rows than the shard's submissions")
        return names
    except (ValueError, KeyError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read the shard's gradebook ({type(exc).__name__}: {exc})") from None


def _folder_inside(folder: Path, relative: str, label: str) -> Path:
    """`folder/relative`, when every folder on the way is a real folder, not a link."""
    current = folder
    for part in relative.split("/"):
        current = current / part
        if current.is_symlink() or not current.is_dir():
            raise UsageError(f"{label}: {current} is not a folder of the shard (a link or missing)")
    return current


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_shards(folders: Sequence[Path], manifests: Sequence[Manifest]) -> tuple[int, tuple[str, ...]]:
    """The shard count and the class; UsageError naming any missing, repeated or inconsistent shard."""
    for folder, m in zip(folders, manifests, strict=True):
        if m.shard is None:
            raise UsageError(f"{folder}: the output of a batch without --shard; merge takes the folders of shards")
    first = manifests[0]
    assert first.shard is not None
    count = first.shard[1]
    for folder, m in zip(folders, manifests, strict=True):
        assert m.shard is not None
        if m.shard[1] != count or m.everyone != first.everyone or m.exercises != first.exercises:
            raise UsageError(
                f"{folder} (shard {m.shard[0]}/{m.shard[1]}) is not from the same batch as {folders[0]} "
                f"(shard {first.shard[0]}/{count}): the shard count, the class or the exercises differ"
            )
    held: dict[int, list[Path]] = {}
    for folder, m in zip(folders, manifests, strict=True):
        assert m.shard is not None
        held.setdefault(m.shard[0], []).append(folder)
    repeated = {k: v for k, v in held.items() if len(v) > 1}
    if repeated:
        k, where = sorted(repeated.items())[0]
        raise UsageError(f"shard {k}/{count} was given twice: {', '.join(map(str, where))}")
    missing = [k for k in range(1, count + 1) if k not in held]
    if missing:
        names = ", ".join(f"{k}/{count}" for k in missing)
        raise UsageError(
            f"shard {names} {'is' if len(missing) == 1 else 'are'} missing: none of the {len(folders)} folder(s) "
            "given holds it; download that matrix job's artifact (or re-run the job) and merge again"
        )
    return count, first.everyone


def merge(out: Path, folders: Sequence[Path], console: Console) -> list[gradebook.Row]:
    """Combine the shards' gradebooks, feedback and class report into `out`; every submission exactly once.

    Everything is read and checked before anything is written."""
    if not folders:
        raise UsageError("merge needs the output folders of the shards")
    manifests = [read_manifest(folder) for folder in folders]
    count, everyone = _check_shards(folders, manifests)
    exercises = grading.select(manifests[0].exercises)
    rows: list[gradebook.Row] = []
    files: dict[str, bytes] = {}  # file name in OUT_DIR/feedback -> its bytes
    for folder, m in zip(folders, manifests, strict=True):
        assert m.shard is not None
        label = f"{folder} (shard {m.shard[0]}/{count})"
        expected = [e.name for e in gradebook.shard_of([gradebook.Entry(n, folder) for n in everyone], *m.shard)]
        if sorted(m.submissions) != sorted(expected):
            absent = sorted(set(expected) - set(m.submissions))
            extra = sorted(set(m.submissions) - set(expected))
            raise UsageError(
                f"{label}: holds the wrong submissions for its shard"
                + (f"; missing: {_names(absent)}" if absent else "")
                + (f"; not its own: {_names(extra)}" if extra else "")
            )
        in_csv = _csv_names(folder / m.csv, len(m.submissions))
        if Counter(in_csv) != Counter(gradebook.safe_cell(n) for n in m.submissions):
            raise UsageError(f"{label}: {m.csv} does not hold exactly one row for each of its submissions")
        if m.feedback is None:
            raise UsageError(f"{label}: graded with --no-feedback; merge needs each submission's feedback JSON")
        feedback = _folder_inside(folder, m.feedback, label)
        for name in m.submissions:
            as_json, as_markdown = gradebook.feedback_paths(feedback, name)
            if not as_json.is_file() and not as_json.is_symlink():
                raise UsageError(f"{label}: {as_json}: the feedback of {name!r} is missing")
            raw = read_bounded(as_json, MAX_FEEDBACK_BYTES)
            try:
                rows.append(gradebook.row_of(json.loads(raw.decode("utf-8")), name, exercises))
            except (ValueError, RecursionError) as exc:
                raise UsageError(f"{label}: {as_json}: not the feedback JSON of {name!r} ({exc})") from None
            files[as_json.name] = raw
            if as_markdown.is_file() or as_markdown.is_symlink():
                files[as_markdown.name] = read_bounded(as_markdown, MAX_FEEDBACK_BYTES)
    seen = Counter(r.submission for r in rows)
    if sorted(seen) != sorted(everyone) or any(n > 1 for n in seen.values()):
        twice = sorted(n for n, c in seen.items() if c > 1)
        absent = sorted(set(everyone) - set(seen))
        raise UsageError(f"the shards do not cover the class exactly once; twice: {twice}; missing: {absent}")
    out.mkdir(parents=True, exist_ok=True)
    target = out / FEEDBACK_DIR
    target.mkdir(exist_ok=True)
    for file_name, data in files.items():
        safe_write.write_bytes(target / file_name, data)
    csv_name = manifests[0].csv
    gradebook.write_csv(rows, exercises, out / csv_name)
    write_manifest(
        out,
        Manifest(None, everyone, tuple(sorted(seen)), manifests[0].exercises, csv_name, FEEDBACK_DIR),
    )
    console.print(f"Merged {count} shard(s): {len(rows)} submission(s) into {escape(str(out / csv_name))}")
    similar = merge_similarity(out, folders, exercises, console)
    write_class_report(
        rows, exercises, out / REPORT_FILE, console, title="Class report", feedback=target, similar=similar
    )
    return rows


def write_class_report(
    rows: Sequence[gradebook.Row],
    exercises: Sequence[course.Exercise],
    path: Path,
    console: Console,
    *,
    title: str,
    feedback: Path | None = None,
    similar: Similar | None = None,
) -> bool:
    """Write the class report; without the staff extra (matplotlib) say how to get it and go on."""
    try:
        from grader.staff import class_report  # matplotlib: staff-only, so a student's install stays small
    except ImportError as exc:
        console.print(
            f"[yellow]Class report not written:[/] it draws its charts with matplotlib ({exc.name} is not "
            f"installed), which only staff install: {escape(STAFF_EXTRA)}"
        )
        return False
    class_report.write(
        rows,
        exercises,
        path,
        title=title,
        feedback=feedback,
        similar=None if similar is None else similar.pairs,
        clusters=() if similar is None else similar.clusters,
        similarity_page=None if similar is None else similar.page,
    )
    console.print(f"Class report written to {escape(str(path))}")
    return True


@dataclass(frozen=True)
class Similar:
    """What the similarity check found (grader.staff.similarity.Result, without importing copydetect here)."""

    pairs: Sequence[Any]
    clusters: Sequence[tuple[str, ...]]
    page: Path | None


def _similarity_module(console: Console) -> ModuleType | None:
    try:
        from grader.staff import similarity  # copydetect: staff-only, like matplotlib
    except ImportError as exc:
        console.print(
            f"[yellow]Similarity not checked:[/] it needs copydetect ({exc.name} is not installed), which only "
            f"staff install: {escape(STAFF_EXTRA)}"
        )
        return None
    return similarity


def write_similarity(
    entries: Sequence[gradebook.Entry], exercises: Sequence[course.Exercise], out: Path, console: Console, *, title: str
) -> Similar | None:
    """Fingerprint this batch's submissions into `out` (similarity.json, for merge) and compare them."""
    similarity = _similarity_module(console)
    if similarity is None:
        return None
    modules = [e.id for e in exercises]
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as workdir:
        tokens, sources = similarity.collect(entries, modules, Path(workdir))
        similarity.write_tokens(out / similarity.TOKENS_FILE, tokens)
        result = similarity.analyse(tokens, modules, out, sources=sources, title=f"Similar submissions: {title}")
    return _report_similarity(result, out, console)


def _report_similarity(result: Any, out: Path, console: Console) -> Similar:
    console.print(
        f"Similarity: {len(result.pairs)} pair(s) flagged in {len(result.clusters)} cluster(s); "
        f"{escape(str(out / 'similarity.csv'))}"
        + (f", side by side in {escape(str(result.page))}" if result.page else "")
    )
    return Similar(result.pairs, result.clusters, result.page)


def merge_similarity(
    out: Path, folders: Sequence[Path], exercises: Sequence[course.Exercise], console: Console
) -> Similar | None:
    """Compare the whole class from the shards' similarity.json, as one batch would have."""
    missing = [str(f) for f in folders if not (f / "similarity.json").is_file()]
    if missing:
        console.print(
            f"[yellow]Similarity not checked:[/] no similarity.json in {escape(', '.join(missing))} (--no-similarity)"
        )
        return None
    similarity = _similarity_module(console)
    if similarity is None:
        return None
    tokens: dict[str, dict[str, str]] = {}
    for folder in folders:
        try:
            tokens.update(similarity.load_tokens(folder / similarity.TOKENS_FILE))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    modules = [e.id for e in exercises]
    similarity.write_tokens(out / similarity.TOKENS_FILE, tokens)
    result = similarity.analyse(tokens, modules, out, sources=None, title="Similar submissions")
    return _report_similarity(result, out, console)
