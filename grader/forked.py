"""What a child forked from a warm trusted process does first and last (Linux).

Two warm processes fork children: the fork server its sandboxes (`grader.sandbox.outside.forkserver`) and
the warm judge its judges (`grader.judge.zygote`). Each child first takes a session and output of its own
and drops every descriptor of its parent's but those it was handed; it never returns into its parent's
loop, whatever happens (`os._exit`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def own_session(log_fd: int) -> None:
    """Its own session (killed as one group), stdout and stderr to `log_fd`, stdin from /dev/null."""
    os.setsid()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)


def close_all_but(keep: Iterable[int]) -> None:
    """Every descriptor closed but 0, 1, 2 and `keep` (nothing of the parent's survives into the child)."""
    kept = sorted({0, 1, 2, *keep})
    for low, high in zip(kept, [*kept[1:], 1 << 16], strict=True):
        os.closerange(low + 1, high)


def say_failed(what: str, exc: BaseException) -> None:
    """The child's last words in its log, when it failed before it could serve."""
    try:
        os.write(2, f"grader {what}: the forked {what} failed: {type(exc).__name__}: {exc}\n".encode())
    except OSError:
        pass
