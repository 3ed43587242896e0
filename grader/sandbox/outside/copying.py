"""Copy a submission into the sandbox's box: regular files and folders only, within a budget.

Run as root before the uid drop, so it never follows a link: a symbolic link anywhere in the
submission (or the submission itself being one) is refused, since what it points at (a
classmate's folder, the reference solutions) is not the student's work. The parent checks for
links with `first_link` before it starts a sandbox, so that a link is the submission's fault,
named, not a sandbox that failed. It never opens a FIFO or device, and stays within a budget of
bytes and files: the Python modules first, then the other files smallest first. What does not fit
is left out, never an error: the modules still grade, and the report names what was left out in one
line (`select` and `describe`, which the parent calls on the same folder).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SKIPPED = {"__pycache__", ".git"}
MAX_SCANNED = 100_000  # entries `first_link` looks at before it gives up (the copy has its own caps)
_SHOWN = 80  # characters of a link's target quoted in a message
# Of the box's 128 MiB and 4,096 inodes: the rest is the sandbox's home (files a check writes, caches).
MAX_BYTES = 32 * 1024**2
MAX_FILES = 1_000
MAX_DEPTH = 32  # folders: deeper files are left out


class CopyError(Exception):
    """The submission cannot be copied (unreadable, a link); the message names the file."""


def describe_link(link: Path, root: Path) -> str:
    """One line naming `link` (relative to `root`) and what it points at, for the student and staff."""
    try:
        name = link.relative_to(root).as_posix()
    except ValueError:
        name = link.name
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    shown = target if len(target) <= _SHOWN else target[:_SHOWN] + "..."
    return (
        f"{name!r} is a symbolic link (to {shown!r}); links are never followed: "
        "submit the files themselves, not a link to them"
    )


def first_link(source: Path) -> Path | None:
    """The first symbolic link met in the tree the copy would take from `source` (itself included), or None."""
    if source.is_symlink():
        return source
    pending = [source]
    scanned = 0
    while pending:
        folder = pending.pop()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            scanned += 1
            if scanned > MAX_SCANNED:
                raise CopyError(f"{source}: more than {MAX_SCANNED} files and folders; refused")
            if entry.name in SKIPPED:
                continue
            if entry.is_symlink():
                return Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return None


@dataclass(frozen=True)
class Selection:
    """What of a submission goes into the box: paths relative to it (POSIX form), and what is left out."""

    copied: frozenset[str]
    left_out: tuple[str, ...]  # the largest first


def _entries(source: Path) -> list[tuple[int, int, str]]:
    """(0 for a module and 1 for anything else, size, path) of every regular file, never following a link.

    Files deeper than MAX_DEPTH folders are not listed (so left out): the copy recurses only into folders
    that hold a chosen file, and no module that grading imports sits that deep.
    """
    found: list[tuple[int, int, str]] = []
    pending = [(source, PurePosixPath())]
    while pending:
        folder, prefix = pending.pop()
        try:
            listing = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            if entry.name in SKIPPED:
                continue
            relative = prefix / entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode) and len(relative.parts) < MAX_DEPTH:
                pending.append((Path(entry.path), relative))
            elif stat.S_ISREG(info.st_mode):
                found.append((0 if entry.name.endswith(".py") else 1, info.st_size, str(relative)))
    return found


def select(source: Path, *, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> Selection:
    """The files of `source` that fit the budget: its modules first, then the rest smallest first."""
    copied: set[str] = set()
    left_out: list[tuple[int, str]] = []
    size_left = max_bytes
    for _, size, path in sorted(_entries(source)):
        if len(copied) < max_files and size <= size_left:
            copied.add(path)
            size_left -= size
        else:
            left_out.append((size, path))
    return Selection(frozenset(copied), tuple(path for _, path in sorted(left_out, key=lambda e: (-e[0], e[1]))))


def describe(selection: Selection) -> str | None:
    """One line naming what was left out, or None when everything fits."""
    if not selection.left_out:
        return None
    first, more = selection.left_out[0], len(selection.left_out) - 1
    others = f" and {more:,} more file(s)" if more else ""
    return (
        f"{first}{others} left out of grading: a submission gets {MAX_BYTES // 1024**2} MiB and {MAX_FILES:,} files "
        "in the sandbox (Python modules first, then the smallest files); the modules were graded"
    )


def copy_tree(source: Path, target: Path, *, max_bytes: int, owner: int | None) -> None:
    if source.is_symlink():
        raise CopyError(describe_link(source, source.parent))
    selection = select(source, max_bytes=min(max_bytes, MAX_BYTES))
    budget = [min(max_bytes, MAX_BYTES)]
    target.mkdir(mode=0o700)
    _chown(target, owner)
    _copy_dir(source, target, budget, owner, selection.copied, PurePosixPath())


def _chown(path: Path, owner: int | None) -> None:
    if owner is not None:
        os.chown(path, owner, owner, follow_symlinks=False)


def _copy_dir(
    source: Path, target: Path, budget: list[int], owner: int | None, chosen: frozenset[str], prefix: PurePosixPath
) -> None:
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.name in SKIPPED:
            continue
        relative = prefix / entry.name
        dest = target / entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise CopyError(describe_link(Path(entry.path), source))
        if stat.S_ISDIR(info.st_mode):
            if not any(path.startswith(f"{relative}/") for path in chosen):
                continue  # nothing chosen inside: no folder (each is an inode of the box)
            dest.mkdir(mode=0o700)
            _chown(dest, owner)
            _copy_dir(Path(entry.path), dest, budget, owner, chosen, relative)
        elif str(relative) not in chosen:
            continue
        elif stat.S_ISREG(info.st_mode):
            _copy_file(Path(entry.path), dest, budget, owner)
        # FIFOs, sockets and devices are left out: nothing in a submission needs one.


def _copy_file(source: Path, dest: Path, budget: list[int], owner: int | None) -> None:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        if info.st_size > budget[0]:
            return  # it grew since it was chosen: left out, as anything that does not fit
        budget[0] -= info.st_size
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while chunk := os.read(fd, 1 << 20):
                os.write(out, chunk)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    _chown(dest, owner)
