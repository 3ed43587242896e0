"""`python -m grader.sandbox.enter POLICY_JSON -- COMMAND...`: put the policy in force, then exec COMMAND.

Trusted code, run as the grader's user before any student code exists in the process. Every layer
named in the policy is applied or the step exits FAILED_EXIT with the reason on stderr: the report
never names a layer that was not in force.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

from grader.sandbox import confinement, copying, landlock, mounts, seccomp

_PR_SET_PDEATHSIG = 1


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


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m grader.sandbox.enter POLICY_JSON -- COMMAND...\n")
        os._exit(2)
    policy = confinement.Policy.from_json(argv[0])
    command = argv[2:]
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
        _layer("landlock", lambda: landlock.restrict(readable, [policy.box], devices, listable=policy.listable))
    if "seccomp" in layers:
        _layer("seccomp", seccomp.load)
    if policy.uid is not None:
        uid = policy.uid
        _layer("uid", lambda: _drop_uid(uid))
        # Set after the uid change, which clears it: the sandbox dies with the process that started it.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
    os.chdir(policy.home)
    os.execve(command[0], command, dict(policy.env))


if __name__ == "__main__":
    main(sys.argv[1:])
