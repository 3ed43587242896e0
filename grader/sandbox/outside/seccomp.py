"""The seccomp filter of the sandbox: no network (every socket family but AF_UNIX), no memfd.

Loaded through pyseccomp (a ctypes binding of libseccomp with libseccomp's own Python API). The
filter is inherited across fork and exec, so a subprocess or a new interpreter is held the same way.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

# Denied outright: memory outside RLIMIT_AS (memfd), routes around the socket() rule (io_uring can
# open sockets itself), ways to gain privileges or reach other processes (namespaces, ptrace, bpf), and
# SysV IPC and POSIX message queues: they outlive the sandbox that made them and are shared by the
# machine's IPC namespace, so a later sandbox (a visible check after a hidden one) could read them.
_DENIED = (
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "ipc",  # the multiplexed form on 32-bit architectures
    "mq_open",  # POSIX message queues live in the IPC namespace too
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "memfd_create",
    "memfd_secret",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "userfaultfd",
    "perf_event_open",
    "bpf",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "keyctl",
    "add_key",
    "request_key",
    "open_by_handle_at",
    "name_to_handle_at",
)
# clone() flags that would make a new namespace (a user namespace gives a fresh set of capabilities).
_CLONE_NAMESPACES = (0x10000000, 0x40000000, 0x20000000, 0x04000000, 0x08000000, 0x00020000, 0x02000000)


def available() -> str | None:
    """None when a filter can be loaded here, else why not."""
    try:
        import pyseccomp  # noqa: F401  (raises when libseccomp.so is missing)
    except (ImportError, OSError, RuntimeError) as exc:
        return f"pyseccomp/libseccomp unavailable ({exc})"
    return None


def load() -> None:
    """Install the filter on this process (and everything it starts)."""
    import pyseccomp as sc

    f: Any = sc.SyscallFilter(sc.ALLOW)
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    for name in _DENIED:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, RuntimeError, ValueError):
            pass  # a syscall this architecture or libseccomp does not know cannot be called either
    for flag in _CLONE_NAMESPACES:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes libc fall back to clone.
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.load()
