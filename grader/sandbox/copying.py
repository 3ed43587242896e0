"""Copy a submission into the sandbox's box: regular files and folders only, within a cap.

Run as root before the uid drop, so it never follows a link: a symbolic link anywhere in the
submission (or the submission itself being one) is refused, since what it points at (a
classmate's folder, the reference solutions) is not the student's work. It never opens a FIFO
or device, and stops at a size cap. The parent checks for links with `first_link` before it
starts a sandbox, so that a link is the submission's fault, named, not a sandbox that failed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SKIPPED = {"__pycache__", ".git"}
MAX_SCANNED = 100_000  # entries `first_link` looks at before it gives up (the copy has its own caps)
_SHOWN = 80  # characters of a link's target quoted in a message


class CopyError(Exception):
    """The submission cannot be copied (too large, unreadable, a link); the message names the file."""


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


def copy_tree(source: Path, target: Path, *, max_bytes: int, owner: int | None) -> None:
    if source.is_symlink():
        raise CopyError(describe_link(source, source.parent))
    budget = [max_bytes]
    target.mkdir(mode=0o700)
    _chown(target, owner)
    _copy_dir(source, target, budget, owner)


def _chown(path: Path, owner: int | None) -> None:
    if owner is not None:
        os.chown(path, owner, owner, follow_symlinks=False)


def _copy_dir(source: Path, target: Path, budget: list[int], owner: int | None) -> None:
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.name in SKIPPED:
            continue
        dest = target / entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise CopyError(describe_link(Path(entry.path), source))
        if stat.S_ISDIR(info.st_mode):
            dest.mkdir(mode=0o700)
            _chown(dest, owner)
            _copy_dir(Path(entry.path), dest, budget, owner)
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
            raise CopyError(f"{source}: the submission is larger than the sandbox's space for it")
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
