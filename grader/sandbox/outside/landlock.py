"""Landlock rules of the sandbox: read-only where it runs from, read-write only in its box.

Through landlockpy (typed, no dependencies, knows ABI 1-11 and drops what the kernel lacks). Besides
files it closes TCP (ABI 4+) and scopes signals and abstract UNIX sockets to the sandbox (ABI 6+),
so even without a separate uid the sandbox cannot signal, trace or read /proc of the grader.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def abi() -> int:
    """The kernel's Landlock ABI version; 0 when there is none (or no binding)."""
    try:
        import landlockpy
    except ImportError:
        return 0
    try:
        return int(landlockpy.abi_version())
    except (OSError, landlockpy.LandlockError):
        return 0


def restrict(
    readable: Iterable[str], writable: Iterable[str], devices: Iterable[str], *, listable: Iterable[str] = ()
) -> None:
    """Enforce the rules on this process and its future children (irreversible)."""
    from landlockpy import AccessFS, Ruleset, Scope, fs_for_abi, net_for_abi

    version = abi()
    # ioctl on devices is left alone: the terminal and /dev/null need it and it opens no file.
    handled = fs_for_abi(version) & ~AccessFS.IOCTL_DEV
    read_dir = AccessFS.READ_FILE | AccessFS.READ_DIR | AccessFS.EXECUTE
    read_file = AccessFS.READ_FILE | AccessFS.EXECUTE
    write = handled & ~AccessFS.EXECUTE  # nothing written by the sandbox is executed
    with Ruleset(
        handled_fs=handled, handled_net=net_for_abi(version), scoped=Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET
    ) as ruleset:
        for path in readable:
            if os.path.exists(path):
                ruleset.allow_path(path, read_dir if os.path.isdir(path) else read_file)
        for path in listable:  # names only: how Python finds a package, never what its files say
            if os.path.isdir(path):
                ruleset.allow_path(path, AccessFS.READ_DIR)
        for path in devices:
            if os.path.exists(path):
                ruleset.allow_path(path, AccessFS.READ_FILE | AccessFS.WRITE_FILE)
        for path in writable:
            ruleset.allow_path(path, write)
        ruleset.restrict()
