"""Copy a submission into the sandbox's box: regular files, folders and symlinks only, within a cap.

Run as root before the uid drop, so it never follows a link (a link is copied as a link and later
resolved with the sandbox's own rights), never opens a FIFO or device, and stops at a size cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SKIPPED = {"__pycache__", ".git"}


class CopyError(Exception):
    """The submission cannot be copied (too large, unreadable); the message names the file."""


def copy_tree(source: Path, target: Path, *, max_bytes: int, owner: int | None) -> None:
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
            os.symlink(os.readlink(entry.path), dest)
            _chown(dest, owner)
        elif stat.S_ISDIR(info.st_mode):
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
