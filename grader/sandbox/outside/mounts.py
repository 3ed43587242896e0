"""The sandbox's private mount (and network) namespace, set up as root before the uid drop.

- its box (the submission copy and its home) is a tmpfs with a size and inode cap: no disk filled,
  and nothing it writes outlives it or is seen by anyone else;
- what it must read but sits under a folder its uid cannot enter (Python under /root, a test's
  tmp_path) is bound back read-only under a small empty tmpfs laid over that folder.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def mount(source: str | None, target: str | None, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    _check(_libc().mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def private_namespace(network: bool) -> None:
    # Its own IPC namespace too: SysV objects and POSIX queues die with it (seccomp also denies SysV IPC).
    unshare(CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if network else 0))
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates to the machine


def _blocking_ancestor(path: Path) -> Path | None:
    """The highest folder above `path` that others cannot enter, if any."""
    for ancestor in reversed(path.parents):
        info = os.stat(ancestor)
        if not info.st_mode & stat.S_IXOTH:
            return ancestor
    return None


def make_reachable(paths: Iterable[Path], writable: Path) -> None:
    """Bind each path back (read-only but `writable`) under a fresh tmpfs over the folder that hid it."""
    by_ancestor: dict[Path, list[tuple[Path, int]]] = {}
    for path in [*paths, writable]:
        ancestor = _blocking_ancestor(path)
        if ancestor is not None:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            by_ancestor.setdefault(ancestor, []).append((path, fd))
    for ancestor in sorted(by_ancestor, key=lambda p: len(p.parts)):
        if any(ancestor.is_relative_to(other) and ancestor != other for other in by_ancestor):
            continue  # covered by the tmpfs over a higher folder
        mount("tmpfs", str(ancestor), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for binds in by_ancestor.values():
        for path, fd in binds:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(path.parent, mode=0o755, exist_ok=True)
                path.touch(mode=0o644, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)
            if path != writable:
                mount(None, str(path), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fd)


def box_tmpfs(box: Path, *, size: int, inodes: int) -> None:
    mount("tmpfs", str(box), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={size},nr_inodes={inodes},mode=0755")


def private_shm(box: Path) -> bool:
    """/dev/shm as a folder of the box: POSIX semaphores (multiprocessing's locks, values, events) live there,
    so correct code that uses them works, counted in the box's cap and shared with no one. False where the
    machine has no /dev/shm."""
    if not os.path.isdir("/dev/shm"):
        return False
    own = box / ".shm"
    own.mkdir()
    os.chmod(own, 0o1777)  # as /dev/shm itself: anyone may create, only the owner may remove
    mount(str(own), "/dev/shm", None, MS_BIND)
    return True


def name_the_uid(box: Path, uid: int, home: Path) -> None:
    """The machine's /etc/passwd and /etc/group with a line for the box's uid, bound read-only over them.

    Correct code asks who it runs as (`pwd.getpwuid(os.getuid())`, `getpass.getuser()`); a uid with no
    entry raises KeyError there. The copies are root's, in the box, which the uid cannot write.
    """
    for name, line in (
        ("passwd", f"grader-sandbox:x:{uid}:{uid}:grader sandbox:{home}:/usr/sbin/nologin\n"),
        ("group", f"grader-sandbox:x:{uid}:\n"),
    ):
        original = Path("/etc") / name
        if not original.is_file():
            continue
        text = original.read_text(encoding="utf-8", errors="replace")
        copy = box / f".etc-{name}"
        copy.write_text(text + ("" if text.endswith("\n") or not text else "\n") + line, encoding="utf-8")
        os.chmod(copy, 0o644)
        mount(str(copy), str(original), None, MS_BIND)
        mount(None, str(original), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
