"""The judge's first act, before pytest loads: start the sandbox, so that it imports the SDKs meanwhile.

`python -m grader.judge` calls `start` with its command line, then runs pytest in the same process;
the plugin's session takes the sandbox over with `take` when its settings name the same submission
and confinement. A judge run any other way (pytest with the plugin, in the harness's own tests)
starts its sandbox from the session instead, at pytest_configure.
"""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass
from pathlib import Path

from grader.judge import launch
from grader.judge.options import OPTIONS


@dataclass(frozen=True)
class Started:
    submission: Path
    plan: launch.SandboxPlan
    record: bool
    keys: dict[str, str]
    launcher: launch.Launcher
    process: launch.SandboxProcess | None  # None: the launcher's fork server is warming up instead
    sock: socket.socket | None


_started: list[Started] = []


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name, spec in OPTIONS.items():
        parser.add_argument(name, **spec)
    return parser.parse_known_args(argv)[0]


def start(argv: list[str]) -> None:
    """Start the sandbox the command line asks for (pytest's own parsing, later, is what is checked)."""
    try:
        options = _options(argv)
    except SystemExit:  # a malformed option: pytest will say so
        return
    submission = Path(options.grader_submission).resolve() if options.grader_submission else None
    if submission is None or not submission.is_dir():
        return
    plan = launch.SandboxPlan.from_options(options.grader_sandbox_layers, options.grader_sandbox_uid)
    keys, extra = launch.sandbox_keys(options.grader_record)
    launcher = launch.Launcher(plan, {**keys, **extra}, server_fd=options.grader_fork_server)
    if launcher.server is not None:  # it imports the SDKs now; the first check forks its sandbox
        _started.append(Started(submission, plan, options.grader_record, keys, launcher, None, None))
        return
    process, sock = launch.spawn(launcher, submission)
    _started.append(Started(submission, plan, options.grader_record, keys, launcher, process, sock))


def take(submission: Path, plan: launch.SandboxPlan, record: bool) -> Started | None:
    """The sandbox started for these settings, handed over once; None if there is none."""
    if not _started:
        return None
    started = _started.pop()
    if (started.submission, started.plan, started.record) == (submission, plan, record):
        return started
    if started.process is not None:  # started for other settings: never serve it
        started.process.kill()
        started.process.wait()
    if started.sock is not None:
        started.sock.close()
    started.launcher.close()
    return None
