"""The sandbox's first step, `confine(POLICY_JSON)`: put the policy in force on this very process.

Trusted code, run as the grader's user by `python -m grader.sandbox` before it imports anything of
the submission's side: the same process then serves the judge, confined (one interpreter start, not
two with an exec between). Every layer named in the policy is applied or the process exits
FAILED_EXIT with the reason on stderr: the report never names a layer that was not in force.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

from grader.sandbox.outside import confinement, copying, landlock, mounts, seccomp

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


def _layer(name: str, step: Callable[[], object]) -> None:
    try:
        step()
    except Exception as exc:
        sys.stderr.write(f"grader sandbox: could not put layer {name!r} in force: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(confinement.FAILED_EXIT)


def _rlimits(policy: confinement.Policy) -> None:
    import resource

    limits = policy.limits
    pairs = [
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def _nproc(policy: confinement.Policy) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NPROC, (policy.limits.processes, policy.limits.processes))


def _namespaces(policy: confinement.Policy) -> None:
    box = Path(policy.box)
    mounts.private_namespace(network="netns" in policy.layers)
    mounts.box_tmpfs(box, size=policy.limits.scratch_bytes, inodes=policy.limits.scratch_inodes)
    copying.copy_tree(
        Path(policy.submission_source), policy.submission, max_bytes=policy.limits.scratch_bytes, owner=policy.uid
    )
    policy.home.mkdir(mode=0o700)
    if policy.uid is not None:
        os.chown(policy.home, policy.uid, policy.uid)
        mounts.name_the_uid(box, policy.uid, policy.home)
    mounts.private_shm(box)
    # Last: the tmpfs laid over a hidden folder also hides the submission's source from here on.
    # Listable folders are not bound whole (their own modes could bar the uid): the readable files in
    # them are, and binding a file makes its folders on the way.
    mounts.make_reachable([Path(p) for p in policy.readable if os.path.exists(p)], box)


def _drop_uid(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"still running as uid {os.geteuid()} after setuid({uid})")


def preload() -> None:
    """Import what `confine` uses, once, in a fork server: each sandbox it forks then confines itself
    without importing anything (these imports were about 30 ms of CPU per sandbox). A library that
    fails to import here is not kept, and fails again, as a refused layer, in the sandbox's `confine`."""
    import resource  # noqa: F401

    seccomp.available()
    landlock.abi()


def confine(policy_json: str) -> None:
    """Every layer of the policy in force on this process (or exit FAILED_EXIT), then into its home."""
    policy = confinement.Policy.from_json(policy_json)
    layers = set(policy.layers)
    if "scratch-cap" in layers:
        _layer("scratch-cap", lambda: _namespaces(policy))
    if "rlimits" in layers:
        _layer("rlimits", lambda: _rlimits(policy))
    if "nproc" in layers:
        _layer("nproc", lambda: _nproc(policy))
    if "landlock" in layers:
        devices = [d for d in confinement.DEVICES if os.path.exists(d)]
        readable = (*confinement.SYSTEM_READABLE, *policy.readable)
        # /dev/shm is writable only where it is a folder of the box (scratch-cap), never the machine's.
        own_shm = ["/dev/shm"] if "scratch-cap" in layers and os.path.isdir("/dev/shm") else []
        writable = [policy.box, *own_shm]
        _layer("landlock", lambda: landlock.restrict(readable, writable, devices, listable=policy.listable))
    if "seccomp" in layers:
        _layer("seccomp", seccomp.load)
    if policy.uid is not None:
        uid = policy.uid
        _layer("uid", lambda: _drop_uid(uid))
        libc = ctypes.CDLL(None, use_errno=True)
        # Set after the uid change, which clears it: the sandbox dies with the process that started it.
        libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
        # The uid change also made the process undumpable, which an exec as the new uid would have
        # undone: its own /proc/self stays its own, as in any process its uid starts.
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    os.chdir(policy.home)
