"""Keep or refuse what a recording run wrote: snapshot the cassettes before, judge each written file after.

The child pytest process writes cassettes (it is where the reference solution runs); the parent
takes a snapshot first and afterwards restores the previous version of any file it refuses, so a
refused cassette never stays on disk. A recording is all or nothing: when any of it fails, every
file it touched (written, created or deleted) is put back as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.parent import safe_write
from grader.staff import cassette_diff, secrets_scan


@dataclass
class Verdict:
    path: Path
    kept: bool
    reasons: list[str] = field(default_factory=list)  # why it was refused (never the secret itself)
    changes: cassette_diff.CassetteChanges | None = None


def snapshot(directory: Path) -> dict[Path, bytes]:
    """The bytes of every cassette under `directory`, keyed by path."""
    if not directory.is_dir():
        return {}
    return {path: path.read_bytes() for path in sorted(directory.rglob("*.yaml"))}


def written_since(directory: Path, before: Mapping[Path, bytes]) -> list[Path]:
    """Cassettes created or rewritten since the snapshot."""
    return [path for path, data in snapshot(directory).items() if before.get(path) != data]


def deleted_since(directory: Path, before: Mapping[Path, bytes]) -> list[Path]:
    """Cassettes of the snapshot that are gone (a re-recording removes its file first)."""
    return [path for path in before if not path.is_file()]


def touched_since(directory: Path, before: Mapping[Path, bytes]) -> list[Path]:
    """Every cassette created, rewritten or deleted since the snapshot."""
    return sorted({*written_since(directory, before), *deleted_since(directory, before)})


def restore_all(directory: Path, before: Mapping[Path, bytes]) -> list[Path]:
    """Put every touched cassette back as the snapshot had it; the paths restored come back."""
    touched = touched_since(directory, before)
    for path in touched:
        path.parent.mkdir(parents=True, exist_ok=True)
        restore(path, before)
    return touched


def restore(path: Path, before: Mapping[Path, bytes]) -> None:
    """Put back the previous version of `path`, or remove it when it is new."""
    previous = before.get(path)
    if previous is None:
        path.unlink(missing_ok=True)
        return
    safe_write.write_bytes(path, previous)  # a fresh name, never a fixed one a link could stand at


def _parse(data: bytes) -> object:
    return yaml.safe_load(data.decode("utf-8"))


def judge(
    path: Path,
    before: Mapping[Path, bytes],
    secrets: Mapping[str, str],
    *,
    check_failed: bool,
    name: str,
) -> Verdict:
    """Keep the freshly written `path`, or restore its previous version and say why."""
    raw = path.read_bytes()
    verdict = Verdict(path, kept=True)
    try:
        current = _parse(raw)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        current = None
        verdict.reasons.append(f"the file is not valid YAML ({type(exc).__name__})")
    if current is not None:
        verdict.reasons.extend(f"secret at {f}" for f in secrets_scan.scan_cassette(current, secrets))
    if not verdict.reasons:
        raw_finding = secrets_scan.scan_raw(raw.decode("utf-8", "replace"), secrets)
        if raw_finding:
            verdict.reasons.append(f"secret in the file's text: {raw_finding}")
    if check_failed:
        verdict.reasons.append("its check failed while recording, so the recording is not trusted")
    if verdict.reasons:
        verdict.kept = False
        restore(path, before)
        return verdict
    previous_bytes = before.get(path)
    try:
        previous = _parse(previous_bytes) if previous_bytes is not None else None
    except (yaml.YAMLError, UnicodeDecodeError):
        previous = None  # a corrupt previous version: everything now counts as added
    verdict.changes = cassette_diff.compare(name, previous, current)
    return verdict
