"""Turn one entry of a batch directory (a folder or a .zip) into a directory of exercise modules.

A zip is extracted member by member after checking every path: absolute paths, `..` and links
are refused (zip-slip), and so are archives that would unpack to more than MAX_BYTES or
MAX_MEMBERS. The modules may sit at the top level or inside one folder (`exercises/`, `alice/`).
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from grader import course

MAX_MEMBERS = 2_000
MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 3  # folders to go down through when each level holds a single folder
_IGNORED = ("__MACOSX", ".")  # Finder's resource forks and hidden folders are never the submission


class UnpackError(Exception):
    """The entry cannot be graded as it is; the message says why, for the staff member running the batch."""


def _module_names() -> set[str]:
    return {f"{e.id}.py" for e in course.COURSE}


def _has_modules(directory: Path) -> bool:
    names = _module_names()
    return any(child.name in names and child.is_file() for child in directory.iterdir())


def _folders(directory: Path) -> list[Path]:
    return sorted(d for d in directory.iterdir() if d.is_dir() and not d.name.startswith(_IGNORED))


def locate(root: Path, label: str) -> Path:
    """The directory that holds the exercise modules: `root` itself or the one folder inside that does."""
    current = root
    for _ in range(MAX_DEPTH):
        if _has_modules(current):
            return current
        folders = _folders(current)
        holding = [d for d in folders if _has_modules(d)]
        if len(holding) == 1:
            return holding[0]
        if len(holding) > 1:
            names = ", ".join(d.name for d in holding)
            raise UnpackError(f"{label}: several folders hold exercise modules ({names}); keep one")
        if len(folders) != 1:
            break
        current = folders[0]
    expected = ", ".join(sorted(_module_names())[:3])
    raise UnpackError(f"{label}: no exercise module ({expected}, ...) at the top level or inside one folder")


def _safe_parts(name: str, label: str) -> tuple[str, ...]:
    path = PurePosixPath(name.replace("\\", "/"))
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if path.is_absolute() or ".." in parts or (parts and ":" in parts[0]):
        raise UnpackError(f"{label}: member {name!r} would be written outside the archive's folder (zip-slip); refused")
    return parts


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract `archive` into `destination` (which must exist), refusing anything unsafe."""
    label = archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise UnpackError(f"{label}: {len(members)} members, more than the {MAX_MEMBERS} allowed")
            if sum(m.file_size for m in members) > MAX_BYTES:
                raise UnpackError(f"{label}: would unpack to more than {MAX_BYTES // 2**20} MiB; refused")
            written = 0
            for member in members:
                parts = _safe_parts(member.filename, label)
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise UnpackError(f"{label}: member {member.filename!r} is a symbolic link; refused")
                if not parts:
                    continue
                target = destination.joinpath(*parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, target.open("wb") as out:
                    while chunk := source.read(1 << 16):
                        written += len(chunk)
                        if written > MAX_BYTES:  # sizes in the directory can lie
                            raise UnpackError(f"{label}: unpacks to more than {MAX_BYTES // 2**20} MiB; refused")
                        out.write(chunk)
    except UnpackError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UnpackError(f"{label}: not a valid zip file ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted members, unknown compression
        raise UnpackError(f"{label}: cannot be unpacked ({exc})") from None
    except OSError as exc:
        raise UnpackError(f"{label}: cannot be unpacked ({exc.strerror or exc})") from None


def prepare(entry: Path, workdir: Path) -> Path:
    """The directory to grade for one batch entry; zips are extracted under `workdir`."""
    if entry.is_dir():
        return locate(entry, entry.name)
    target = workdir / "unpacked"
    target.mkdir()
    try:
        extract_zip(entry, target)
        return locate(target, entry.name)
    except UnpackError:
        shutil.rmtree(target, ignore_errors=True)
        raise
