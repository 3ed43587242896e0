"""Turn one entry of a batch directory (a folder or a .zip) into a directory of exercise modules.

Any other file (a .tar.gz, a .rar, a lone .py) is refused with a message naming its format.

A zip is bounded before it is parsed: its size, and the entry count and central directory that
its end-of-central-directory record announces, are read here, strictly, before `zipfile` builds an
object per entry. It is then extracted member by member after checking every path: absolute paths,
`..` and links are refused (zip-slip), and so are archives that would unpack to more than MAX_BYTES
or MAX_MEMBERS. The modules may sit at the top level or inside one folder (`exercises/`, `alice/`).
No symbolic link is followed: an entry, a folder on the way to the modules or anything inside them
that is a link makes the submission invalid, with a message naming the link.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from grader import course
from grader.sandbox.outside import copying

MAX_MEMBERS = 2_000
MAX_BYTES = 50 * 1024 * 1024
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # the archive file itself, before anything in it is read
# A central directory entry is 46 bytes plus its name, extra field and comment: 1 KiB each on average
# is far more than any real submission uses, and keeps what the parser reads small.
MAX_DIRECTORY_BYTES = MAX_MEMBERS * 1024
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


def _link_refused(link: Path, root: Path, label: str) -> UnpackError:
    return UnpackError(label, copying.describe_link(link, root))


def _children(directory: Path, root: Path, label: str) -> list[Path]:
    """What `directory` holds, refusing any link that grading could take for a module or a folder to search."""
    children = sorted(directory.iterdir())
    for child in children:
        if child.is_symlink() and not child.name.startswith(_IGNORED):
            raise _link_refused(child, root, label)
    return children


def _has_modules(directory: Path, root: Path, label: str) -> bool:
    names = _module_names()
    return any(child.name in names and child.is_file() for child in _children(directory, root, label))


def _folders(directory: Path, root: Path, label: str) -> list[Path]:
    children = _children(directory, root, label)
    return [d for d in children if not d.is_symlink() and d.is_dir() and not d.name.startswith(_IGNORED)]


def _unlinked(found: Path, root: Path, label: str) -> Path:
    """`found`, once nothing in it (all of which is copied into the sandbox) is a link."""
    try:
        link = copying.first_link(found)
    except copying.CopyError as exc:
        raise UnpackError(label, str(exc)) from None
    if link is not None:
        raise _link_refused(link, root, label)
    return found


def locate(root: Path, label: str) -> Path:
    """The directory that holds the exercise modules: `root` itself or the one folder inside that does.

    Never follows a symbolic link: `root` being one, or one met on the way or inside the modules'
    folder, is an UnpackError naming it.
    """
    if root.is_symlink():
        raise _link_refused(root, root.parent, label)
    current = root
    for _ in range(MAX_DEPTH):
        folders = _folders(current, root, label)
        holding = [d for d in folders if _has_modules(d, root, label)]
        # The contract's own layout wins: an `exercises/` folder beside stray copies of the stubs at the
        # top (a student who copied the template's files up) is the submission.
        named = [d for d in holding if d.name == PACKAGE_FOLDER]
        if named:
            return _unlinked(named[0], root, label)
        if _has_modules(current, root, label):
            return _unlinked(current, root, label)
        if len(holding) == 1:
            return _unlinked(holding[0], root, label)
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


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header, before its name


def _end_record(tail: bytes) -> int:
    """Where in `tail` (the archive's last bytes) the end-of-central-directory record starts, as zipfile finds it."""
    size = _EOCD.size
    if len(tail) >= size and tail[-size:-size + 4] == b"PK\x05\x06" and tail[-2:] == b"\x00\x00":
        return len(tail) - size
    start = tail.rfind(b"PK\x05\x06")
    if start < 0 or start + size > len(tail):
        raise zipfile.BadZipFile("no end-of-central-directory record")
    # Strictly: its comment ends the file (zipfile would also take a record followed by other bytes).
    if start + size + _EOCD.unpack_from(tail, start)[-1] != len(tail):
        raise zipfile.BadZipFile("bytes after the end-of-central-directory record")
    return start


def _bound(f: BinaryIO, label: str) -> None:
    """Refuse the archive open as `f` unless it and the central directory it announces are within the caps.

    Read here, before `zipfile` parses the directory into one object per entry: a small file can
    announce (and hold) hundreds of thousands of tiny entries, and the parent must not build them.
    """
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode):
        raise UnpackError(label, "not a regular file; refused")
    if info.st_size > MAX_ARCHIVE_BYTES:
        raise UnpackError(label, f"the archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB; refused")
    keep = min(info.st_size, _EOCD.size + 0xFFFF)
    f.seek(info.st_size - keep)
    tail = f.read(keep)
    start = _end_record(tail)
    _, disk, cd_disk, here, count, cd_size, _, _ = _EOCD.unpack_from(tail, start)
    record = info.st_size - keep + start  # where the directory ends
    locator = start - _EOCD64_LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        _, _, _, disks = _EOCD64_LOCATOR.unpack_from(tail, locator)
        record = info.st_size - keep + locator - _EOCD64.size
        if disks > 1 or record < 0:
            raise zipfile.BadZipFile("a zip64 archive spanning several disks")
        f.seek(record)
        head = f.read(_EOCD64.size)
        if len(head) != _EOCD64.size or head[:4] != b"PK\x06\x06":
            raise zipfile.BadZipFile("a broken zip64 end-of-central-directory record")
        _, _, _, _, disk, cd_disk, here, count, cd_size, _ = _EOCD64.unpack(head)
    if disk or cd_disk or here != count:
        raise zipfile.BadZipFile("an archive spanning several disks")
    if count > MAX_MEMBERS:
        raise UnpackError(label, f"announces {count} members, more than the {MAX_MEMBERS} allowed; refused")
    if cd_size > MAX_DIRECTORY_BYTES or cd_size > record:
        raise UnpackError(label, f"announces a central directory of {cd_size} bytes, more than allowed; refused")
    f.seek(record - cd_size)
    directory = f.read(cd_size)
    # The parser reads every entry the directory's bytes hold, whatever the count says: count them.
    at = entries = 0
    while at < len(directory):
        if len(directory) - at < _ENTRY.size or directory[at : at + 4] != b"PK\x01\x02":
            raise zipfile.BadZipFile("a broken central directory")
        fields = _ENTRY.unpack_from(directory, at)
        at += _ENTRY.size + fields[12] + fields[13] + fields[14]
        entries += 1
        if entries > MAX_MEMBERS:
            raise UnpackError(label, f"more than the {MAX_MEMBERS} members allowed; refused")
    if at != len(directory) or entries != count:
        raise zipfile.BadZipFile(f"the central directory holds {entries} entries, its end record says {count}")


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract `archive` into `destination` (which must exist), refusing anything unsafe."""
    label = archive.name
    try:
        # One open file for the bound and the parse: what was bounded is what is parsed.
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            _bound(f, label)
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                _extract(zf, label, destination)
    except UnpackError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, struct.error) as exc:
        found = sniff(archive)
        actually = f"; it is a {found} archive" if found and found != "zip" else ""
        raise UnpackError(label, f"not a valid zip file ({exc}){actually}") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted members, unknown compression
        raise UnpackError(label, f"cannot be unpacked ({exc})") from None
    except OSError as exc:
        raise UnpackError(label, f"cannot be unpacked ({exc.strerror or exc})") from None


def _extract(zf: zipfile.ZipFile, label: str, destination: Path) -> None:
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


def prepare(entry: Path, workdir: Path) -> Path:
    """The directory to grade for one batch entry; zips are extracted under `workdir`."""
    if entry.is_symlink():
        raise _link_refused(entry, entry.parent, entry.name)
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
