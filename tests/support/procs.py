"""This machine's processes as /proc shows them (Linux): what a test checks was left running, and who started
what. One reading of /proc/PID/stat for every test that asks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str  # "R", "S", ... "Z" for a zombie (ended, not yet reaped)
    start: int  # clock ticks after boot: with the pid, names one process even if the pid is reused
    reaped_faults: int  # cminflt: page faults of the children it has waited for
    command: str


def read(pid: int) -> Proc | None:
    """The process `pid`, or None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # from the 3rd field (state) on: the command name may hold ")"
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]), int(fields[8]), command)


def every() -> list[Proc]:
    found = (read(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit())
    return [p for p in found if p is not None]


def descendants(root: int) -> list[Proc]:
    """Every process below `root`, zombies included."""
    procs = every()
    tree, grew = {root}, True
    while grew:
        more = {p.pid for p in procs if p.ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return [p for p in procs if p.pid in tree and p.pid != root]


def children(pid: int) -> list[int]:
    """The pids of `pid`'s children, zombies included (a child not yet reaped is still one)."""
    return [p.pid for p in every() if p.ppid == pid]


def parent(pid: int) -> int:
    found = read(pid)
    if found is None:
        raise ProcessLookupError(pid)
    return found.ppid


def alive(process: Proc | int) -> bool:
    """Whether it runs: it exists, is no zombie and, given as a `Proc`, is still that process (same start)."""
    now = read(process if isinstance(process, int) else process.pid)
    if now is None or now.state == "Z":
        return False
    return isinstance(process, int) or now.start == process.start
