"""Confinement of the process that runs student code: the policy, what this machine allows, the launch.

The launcher starts `command(policy, fd)` with `policy.env` as its whole environment: the sandbox's
first step (`grader.sandbox.outside.enter.confine`, trusted code, started as the grader's own user) puts
every layer of the policy in force on its own process, and only then does that process import the
SDKs and the submission. No preexec_fn: the parent has threads (batch), where one is unsafe.

Layers, each behind a capability check (`probe`):
- uid: its own numeric uid, so it can neither signal, trace nor read the grader, nor write its files;
- seccomp: socket() refused for every family but AF_UNIX, memfd_create and io_uring refused;
- landlock: read-only where Python, the venv and the grader live, read-write only in its box;
- netns: a network namespace with nothing but a down loopback;
- scratch-cap: its box (submission copy and home) is a tmpfs of capped size and inode count in a
  private mount namespace;
- rlimits: address space, CPU, file size, open files, no core files;
- nproc: a process cap, which only binds a non-root uid;
- session: a new session; when grading ends every process of its uid is killed (users.kill_all);
- env-allowlist: an environment built from an allow-list.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox.outside import landlock, seccomp

ALL_LAYERS = ("uid", "seccomp", "landlock", "netns", "scratch-cap", "rlimits", "nproc", "session", "env-allowlist")
# Everything a root grader on Linux with CAP_SYS_ADMIN can have.
FULL_LAYERS = ALL_LAYERS
OS_LAYERS = frozenset(ALL_LAYERS) - {"env-allowlist", "session"}
# What official grading needs protected, and the layer sets that each give it (any one set will do).
# Official grading is judged by these, not by layer names: a non-root runner (seccomp and Landlock) and a
# container without CAP_SYS_ADMIN (uid, seccomp, Landlock) both have every one of them. What is left out
# (nproc, scratch-cap, netns) bounds processes and disk, or repeats seccomp's socket rule.
PROTECTIONS: Mapping[str, tuple[frozenset[str], ...]] = {
    "no network": (frozenset({"seccomp"}), frozenset({"netns"})),
    "suites, cassettes, solutions and other submissions unreadable": (frozenset({"landlock"}),),
    "the grader's files and reports unwritable": (frozenset({"landlock"}), frozenset({"uid"})),
    # Landlock (ABI 6+, which probe() requires) scopes signals and ptrace to the sandbox's own domain;
    # seccomp refuses ptrace outright.
    "the judge and the parent out of reach (signals, ptrace, /proc)": (
        frozenset({"uid"}),
        frozenset({"landlock", "seccomp"}),
    ),
    "memory, CPU and file-size limits": (frozenset({"rlimits"}),),
    "no process outlives grading": (frozenset({"session"}),),
    "an environment without the grader's secrets": (frozenset({"env-allowlist"}),),
}
FAILED_EXIT = 121  # the confine step could not put a layer in force; its message is on stderr
SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys/devices/system/cpu")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
ENV_PASSED = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONUTF8", "PYTHONIOENCODING")  # and every LC_*


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1024**3  # address space: the child needs about 150 MiB
    cpu_seconds: int = 900
    file_bytes: int = 64 * 1024**2  # any one file, captured output included
    open_files: int = 256
    processes: int = 128  # threads count too; only binds a non-root uid
    # The whole box: submission copy, home, and (today's child) pytest's capture files. Above
    # file_bytes, so one runaway output file hits the clearer per-file limit first.
    scratch_bytes: int = 128 * 1024**2
    scratch_inodes: int = 4096


@dataclass(frozen=True)
class Capabilities:
    available: tuple[str, ...]
    missing: Mapping[str, str]  # layer -> why this machine or user cannot have it


@dataclass(frozen=True)
class Policy:
    layers: tuple[str, ...]  # the layers put in force; the confine step fails rather than skip one
    box: str  # its only writable folder: `submission` and `home` inside
    submission_source: str  # copied into box/submission before the uid drop
    readable: tuple[str, ...] = ()
    uid: int | None = None
    listable: tuple[str, ...] = ()  # folders whose entries it may list, but whose files it may not read
    limits: Limits = field(default_factory=Limits)
    env: tuple[tuple[str, str], ...] = ()

    @property
    def submission(self) -> Path:
        return Path(self.box) / "submission"

    @property
    def home(self) -> Path:
        return Path(self.box) / "home"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        data: dict[str, Any] = json.loads(text)
        return cls(
            layers=tuple(data["layers"]),
            box=data["box"],
            submission_source=data["submission_source"],
            readable=tuple(data["readable"]),
            uid=data["uid"],
            listable=tuple(data.get("listable", ())),
            limits=Limits(**data["limits"]),
            env=tuple((k, v) for k, v in data["env"]),
        )


def _can_unshare() -> str | None:
    code = "import ctypes,sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x40020000) != 0)"
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, check=False)
    return None if result.returncode == 0 else "unshare(CLONE_NEWNS|CLONE_NEWNET) is refused here"


def _private_to_others() -> str | None:
    """Why another uid could not run Python here without a mount namespace (None when it could)."""
    import tempfile

    needed = [Path(os.path.realpath(sys.executable)), Path(sys.base_prefix), Path(sys.prefix)]
    needed.append(Path(__file__).resolve().parents[1])  # the grader package the sandbox imports from
    needed.append(Path(tempfile.gettempdir()).resolve())  # where the boxes are made
    for path in needed:
        for folder in (*reversed(path.parents), path):
            if folder.is_dir() and not os.stat(folder).st_mode & stat.S_IXOTH:
                return (
                    f"the sandbox's uid could not reach {path}: {folder} is private to its owner, and no mount "
                    "namespace can be made here to bind it back (make it world-searchable, chmod o+x)"
                )
    return None


@functools.lru_cache(maxsize=1)
def probe() -> Capabilities:
    """Which layers this OS, kernel and user allow; never raises."""
    missing: dict[str, str] = {}
    linux = sys.platform.startswith("linux")
    posix = os.name == "posix"
    root = posix and os.geteuid() == 0
    if not linux:
        for layer in ("uid", "seccomp", "landlock", "netns", "scratch-cap", "nproc"):
            missing[layer] = f"Linux only (this is {sys.platform})"
    else:
        if not root:
            for layer in ("uid", "nproc", "netns", "scratch-cap"):
                missing[layer] = "needs the grader to run as root"
        elif why := _can_unshare():
            missing["netns"] = missing["scratch-cap"] = why
            # Without a mount namespace nothing can be bound back for the sandbox's uid: it must reach
            # Python, the packages and the temporary folder as any other user would.
            if why := _private_to_others():
                missing["uid"] = missing["nproc"] = why
        if why := seccomp.available():
            missing["seccomp"] = why
        if (version := landlock.abi()) < 1:
            missing["landlock"] = "the kernel has no Landlock (Linux 5.13+ with landlock in its LSM list)"
        elif version < 6:
            missing["landlock"] = f"Landlock ABI {version} cannot scope signals (needs 6+)"
    if not posix:
        missing["rlimits"] = missing["session"] = f"POSIX only (this is {sys.platform})"
    return Capabilities(tuple(layer for layer in ALL_LAYERS if layer not in missing), missing)


def official_gaps(layers: Sequence[str]) -> list[str]:
    """The protections official grading needs that `layers` do not give (empty: good enough to be official)."""
    have = set(layers)
    return [name for name, ways in PROTECTIONS.items() if not any(way <= have for way in ways)]


def level(layers: Sequence[str]) -> str:
    """full: every layer; strong: every protection official grading needs; partial: some OS layer; none."""
    if set(FULL_LAYERS) <= set(layers):
        return "full"
    if not official_gaps(layers):
        return "strong"
    return "partial" if OS_LAYERS & set(layers) else "none"


def status(caps: Capabilities) -> dict[str, Any]:
    """The report's `sandbox` field."""
    return {"level": level(caps.available), "layers": list(caps.available), "missing": dict(caps.missing)}


def describe_missing(caps: Capabilities) -> str:
    return "; ".join(f"{layer}: {why}" for layer, why in caps.missing.items())


def environment(home: Path, extra: Mapping[str, str], source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The sandbox's whole environment, from an allow-list: nothing of the grader's own leaks through."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items() if k in ENV_PASSED or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        USER="grader-sandbox",  # getpass and the SDKs read these; the uid has no passwd entry
        LOGNAME="grader-sandbox",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
    )
    env.update(extra)
    return env


def make_policy(
    caps: Capabilities,
    *,
    box: Path,
    submission: Path,
    readable: Sequence[str],
    env: Mapping[str, str],
    uid: int | None,
    listable: Sequence[str] = (),
    limits: Limits = Limits(),
) -> Policy:
    layers = tuple(layer for layer in caps.available if uid is not None or layer not in ("uid", "nproc"))
    return Policy(
        layers=layers,
        box=str(box),
        submission_source=str(submission),
        readable=tuple(readable),
        listable=tuple(listable),
        uid=uid if "uid" in layers else None,
        limits=limits,
        env=tuple(sorted(env.items())),
    )


def prepare_box(policy: Policy) -> None:
    """Lay out the box on disk when the confine step will not (no private mount namespace)."""
    from grader.sandbox.outside import copying

    box = Path(policy.box)
    box.mkdir(mode=0o700, exist_ok=True)
    if "scratch-cap" not in policy.layers:
        # No private tmpfs to make as root (a container without CAP_SYS_ADMIN, a non-root grader): the box
        # is on disk, and with its own uid the sandbox must own it to write its home.
        copying.copy_tree(
            Path(policy.submission_source), policy.submission, max_bytes=policy.limits.scratch_bytes, owner=policy.uid
        )
        policy.home.mkdir(mode=0o700)
        if policy.uid is not None:
            os.chown(policy.home, policy.uid, policy.uid)
            os.chown(box, policy.uid, policy.uid)


def command(policy: Policy, fd: int) -> list[str]:
    """The sandbox's command line: it puts `policy` in force on itself first, then serves the socket `fd`."""
    return [sys.executable, "-I", "-B", "-m", "grader.sandbox", policy.to_json(), str(fd), str(policy.submission)]
