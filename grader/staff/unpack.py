"""Turn one entry of a batch directory (a folder or a .zip) into a directory of exercise modules.

Any other file (a .tar.gz, a .rar, a lone .py) is refused with a message naming its format.

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
PACKAGE_FOLDER = "exercises"
_IGNORED = ("__MACOSX", ".")  # Finder's resource forks and hidden folders are never the submission


# Archive formats named by suffix (longest first) and by their first bytes, so that a refusal names
# the format the student used and the way forward.
ARCHIVE_SUFFIXES = (
    (".tar.gz", "tar.gz"), (".tar.bz2", "tar.bz2"), (".tar.xz", "tar.xz"), (".tar.zst", "tar.zst"),
    (".tgz", "tar.gz"), (".tbz2", "tar.bz2"), (".txz", "tar.xz"), (".tar", "tar"), (".gz", "gzip"),
    (".bz2", "bzip2"), (".xz", "xz"), (".zst", "zstd"), (".rar", "RAR"), (".7z", "7-Zip"), (".zip", "zip"),
)  # fmt: skip
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
          (b"Rar!\x1a\x07", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7-Zip"), (b"PK\x03\x04", "zip"))  # fmt: skip


_COMPRESSED_TAR = {"tar.gz": "gzip", "tar.bz2": "bzip2", "tar.xz": "xz", "tar.zst": "zstd"}


class UnpackError(Exception):
    """The entry cannot be graded as it is; the message says why, for the staff member running the batch."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label = label
        self.reason = reason  # the message without the file's name, for a gradebook row that already names it


def split_suffix(name: str) -> tuple[str, str]:
    """`bob.tar.gz` -> ("bob", ".tar.gz"): the stem a batch names the submission by, and the suffix."""
    lower = name.lower()
    for suffix, _ in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    stem, dot, rest = name.rpartition(".")
    return (stem, dot + rest) if stem else (name, "")


def sniff(path: Path) -> str | None:
    """The archive format `path` holds, from its first bytes (tar from its header), or None."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return None
    for magic, label in _MAGIC:
        if head.startswith(magic):
            return label
    return "tar" if head[257:262] == b"ustar" else None


def describe_format(path: Path) -> str:
    """What a file that is not a zip is, for the message that refuses it."""
    by_name = next((label for suffix, label in ARCHIVE_SUFFIXES if path.name.lower().endswith(suffix)), None)
    found = sniff(path)
    if found == "zip" and by_name != "zip":
        return f"a zip archive named {path.name!r} (rename it to .zip)"
    if by_name and found and found != by_name and _COMPRESSED_TAR.get(by_name) != found:
        return f"a file named like a {by_name} archive that holds a {found} archive"
    if by_name or found:
        return f"a {by_name or found} archive"
    suffix = split_suffix(path.name)[1]
    return f"a {suffix} file" if suffix else "a file without an extension"


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
        folders = _folders(current)
        holding = [d for d in folders if _has_modules(d)]
        # The contract's own layout wins: an `exercises/` folder beside stray copies of the stubs at the
        # top (a student who copied the template's files up) is the submission.
        named = [d for d in holding if d.name == PACKAGE_FOLDER]
        if named:
            return named[0]
        if _has_modules(current):
            return current
        if len(holding) == 1:
            return holding[0]
        if len(holding) > 1:
            names = ", ".join(d.name for d in holding)
            raise UnpackError(label, f"several folders hold exercise modules ({names}); keep one")
        if len(folders) != 1:
            break
        current = folders[0]
    expected = ", ".join(sorted(_module_names())[:3])
    raise UnpackError(label, f"no exercise module ({expected}, ...) at the top level or inside one folder")


def _safe_parts(name: str, label: str) -> tuple[str, ...]:
    path = PurePosixPath(name.replace("\\", "/"))
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if path.is_absolute() or ".." in parts or (parts and ":" in parts[0]):
        raise UnpackError(label, f"member {name!r} would be written outside the archive's folder (zip-slip); refused")
    return parts


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract `archive` into `destination` (which must exist), refusing anything unsafe."""
    label = archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise UnpackError(label, f"{len(members)} members, more than the {MAX_MEMBERS} allowed")
            if sum(m.file_size for m in members) > MAX_BYTES:
                raise UnpackError(label, f"would unpack to more than {MAX_BYTES // 2**20} MiB; refused")
            written = 0
            for member in members:
                parts = _safe_parts(member.filename, label)
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise UnpackError(label, f"member {member.filename!r} is a symbolic link; refused")
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
                            raise UnpackError(label, f"unpacks to more than {MAX_BYTES // 2**20} MiB; refused")
                        out.write(chunk)
    except UnpackError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        found = sniff(archive)
        actually = f"; it is a {found} archive" if found and found != "zip" else ""
        raise UnpackError(label, f"not a valid zip file ({exc}){actually}") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted members, unknown compression
        raise UnpackError(label, f"cannot be unpacked ({exc})") from None
    except OSError as exc:
        raise UnpackError(label, f"cannot be unpacked ({exc.strerror or exc})") from None


def prepare(entry: Path, workdir: Path) -> Path:
    """The directory to grade for one batch entry; zips are extracted under `workdir`."""
    if entry.is_dir():
        return locate(entry, entry.name)
    if split_suffix(entry.name)[1].lower() != ".zip":
        what = describe_format(entry)
        raise UnpackError(entry.name, f"{what}; only folders and .zip archives are graded: unpack it into a folder")
    target = workdir / "unpacked"
    target.mkdir()
    try:
        extract_zip(entry, target)
        return locate(target, entry.name)
    except UnpackError:
        shutil.rmtree(target, ignore_errors=True)
        raise
