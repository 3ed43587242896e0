"""The trusted parent's own hardening: not dumpable, so no other process of its user can read its memory."""

from __future__ import annotations

import ctypes
import sys

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def make_undumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0) on Linux: no core file, no ptrace or /proc/<pid>/mem by its own user."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
