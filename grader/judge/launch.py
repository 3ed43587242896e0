"""How the judge starts a sandbox: confined by the layers the parent found, in a fresh box each time.

The policy comes from `grader.sandbox.confinement`: the sandbox's first, trusted step puts every
layer in force on its own process (uid, seccomp, Landlock, namespaces, rlimits) before it imports
the SDKs or the submission. What the sandbox may read is narrower than the judge's own view: Python and
the installed packages, and of the grader only the modules the sandbox runs; never the suites,
the cassettes, the reference solutions or anything else in the repository.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.sandbox import confinement, users

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
# Where a recording run's reference solution sends its requests (staff only; a local fake in tests).
RECORD_VARIABLES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")

# The grader's own modules the sandbox imports (grader/sandbox/ is readable whole).
SANDBOX_MODULES = ("__init__.py", "wire.py", "gate.py", "submission.py", "clock.py", "given.py", "py.typed")


@dataclass(frozen=True)
class SandboxPlan:
    """What the parent decided for this run's sandboxes: their layers and (as root) their uid."""

    layers: tuple[str, ...]
    uid: int | None

    @classmethod
    def from_options(cls, layers: str, uid: int | None) -> SandboxPlan:
        chosen = tuple(name for name in layers.split(",") if name in confinement.ALL_LAYERS)
        return cls(chosen, uid if "uid" in chosen else None)


NO_CONFINEMENT = SandboxPlan((), None)


def readable_paths() -> tuple[str, ...]:
    """Python, the installed packages (each but the grader's own), and the sandbox's grader modules."""
    package = Path(grader.__file__).resolve().parent
    paths: set[str] = {sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    if sys.prefix != sys.base_prefix:  # a venv: its configuration and interpreter links, not all of it
        venv = Path(sys.prefix)
        paths.update(str(venv / name) for name in ("pyvenv.cfg", "bin", "lib64") if (venv / name).exists())
    for entry in sys.path:
        if not entry or not os.path.isdir(entry) or not entry.startswith((sys.prefix, sys.base_prefix)):
            continue
        if not (Path(entry) / "grader").exists():
            paths.add(entry)
            continue
        # An installed grader sits here with its suites: list the folder, read every other package.
        paths.update(str(child) for child in Path(entry).iterdir() if child.name != "grader")
    paths.add(str(package / "sandbox"))
    paths.update(str(package / name) for name in SANDBOX_MODULES if (package / name).exists())
    return tuple(sorted(paths))


def listable_paths() -> tuple[str, ...]:
    """Folders whose entries the sandbox may list (not read): where Python finds the grader package."""
    package = Path(grader.__file__).resolve().parent
    return (str(package), str(package.parent))


class Launcher:
    """Starts sandboxes for one judge; each start gets a fresh box under a private folder."""

    def __init__(self, plan: SandboxPlan, env: dict[str, str]) -> None:
        self.plan = plan
        self.extra_env = env
        self.root = Path(tempfile.mkdtemp(prefix="grader-judge-"))
        os.chmod(self.root, 0o711)  # the sandbox's uid may pass through to its own box, never list
        self.starts = 0
        self.log: Path | None = None

    def __call__(self, sock: socket.socket, submission: Path) -> subprocess.Popen[bytes]:
        """Start a sandbox serving `sock` (its end of the pair) on its own copy of `submission`."""
        self.starts += 1
        box = self.root / f"box-{self.starts}"
        home = box / "home"
        policy = confinement.make_policy(
            confinement.Capabilities(self.plan.layers, {}),
            box=box,
            submission=submission,
            readable=readable_paths(),
            listable=listable_paths(),
            env=confinement.environment(home, self.extra_env),
            uid=self.plan.uid,
        )
        confinement.prepare_box(policy)
        self.log = self.root / f"sandbox-{self.starts}.log"
        with open(self.log, "wb") as log:
            return subprocess.Popen(
                confinement.command(policy, sock.fileno()),
                pass_fds=(sock.fileno(),),
                cwd=self.root,
                env=dict(policy.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def clean_up(self) -> None:
        """Every process of the sandbox's uid, wherever it went (setsid, double fork)."""
        if self.plan.uid is not None:
            users.kill_all(self.plan.uid)

    def close(self) -> None:
        """After the judge's last sandbox: its processes killed, then every box and log removed."""
        self.clean_up()
        shutil.rmtree(self.root, ignore_errors=True)

    def last_words(self) -> str:
        """The end of the latest sandbox's own output (the confine step's reason when a layer failed)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_bytes()[-2000:].decode("utf-8", "replace")


def planted_keys() -> dict[str, str]:
    """Realistic in shape, obviously fake, different every run (so a leak can be searched for)."""
    return {
        "OPENAI_API_KEY": f"sk-proj-GRADER-FAKE-{secrets.token_urlsafe(24)}",
        "ANTHROPIC_API_KEY": f"sk-ant-api03-GRADER-FAKE-{secrets.token_urlsafe(24)}",
    }


def sandbox_keys(record: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(the keys the sandbox gets, other variables it gets): planted fakes, or the real ones to record."""
    if record:
        keys = {name: os.environ.get(name, "") for name in KEY_VARIABLES}
        return keys, {name: os.environ[name] for name in RECORD_VARIABLES if name in os.environ}
    return planted_keys(), {}


def spawn(launcher: Launcher, submission: Path) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start one sandbox serving `submission` on a new socket; the judge's end of the socket comes back."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return launcher(theirs, submission), ours
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()


def layers_option(layers: Sequence[str]) -> str:
    return ",".join(layers) or "none"
