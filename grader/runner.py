"""Run the suites in one child pytest process and collect its outcomes (the parent side)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import channel
from grader.course import SUITES_DIR
from grader.errors import StaffError
from grader.rubric import ExerciseRubric, suite_files
from grader.scoring import Outcome

# Variables that must never reach student code: real credentials and endpoints.
_SECRET_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_BASE_URL)$|^GITHUB_|^ACTIONS_|^AWS_", re.I)
OUTPUT_CAP = 20_000


@dataclass(frozen=True)
class ChildRun:
    outcomes: dict[str, Outcome]
    returncode: int | None  # None when the time limit ended it
    output: str  # the child's stdout and stderr, truncated; for staff
    rejected_records: int


def child_environment(*, record: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if record or not _SECRET_NAME.search(k)}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _tail(path: Path) -> str:
    data = path.read_bytes()
    text = data[-OUTPUT_CAP:].decode("utf-8", "replace")
    return ("... (output truncated)\n" if len(data) > OUTPUT_CAP else "") + text


def run_child(
    rubrics: Sequence[ExerciseRubric],
    *,
    submission: Path,
    cassettes: Path,
    time_limit: float,
    record: bool = False,
    only: Sequence[str] = (),
    suites_dir: Path = SUITES_DIR,
) -> ChildRun:
    files = [str(f) for r in rubrics for f in suite_files(r.exercise.id, suites_dir)]
    parent_channel = channel.open_parent_channel()
    env = child_environment(record=record)
    env[channel.ENV_VAR] = str(parent_channel.fd)
    command = [
        sys.executable, "-m", "pytest",
        "-c", str(suites_dir / "pytest.ini"), "--rootdir", str(suites_dir),
        "-p", "grader.plugin", "-p", "pytest_timeout",
        "--grader-submission", str(submission), "--grader-cassettes", str(cassettes),
        "-q", "--no-header", "-rN", "--tb=short",
        *(["--grader-record"] if record else []),
        *(["-k", " or ".join(only)] if only else []),
        *files,
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="grader-run-") as workdir:
        log = Path(workdir) / "child-output.txt"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(parent_channel.fd,),
                start_new_session=True,  # one process group: nothing the student starts outlives grading
            )
            os.close(parent_channel.fd)
            returncode: int | None
            try:
                returncode = process.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        output = _tail(log)
    records, rejected = channel.read_records(parent_channel)
    channel.close_parent_channel(parent_channel)
    outcomes = {
        r["id"]: Outcome(r["id"], str(r["status"]), str(r.get("feedback", "")), bool(r.get("staff_error")))
        for r in records
        if isinstance(r, dict) and "id" in r
    }
    if not outcomes and returncode is not None and returncode not in (0, 1):
        raise StaffError(
            f"the grading child process ended (exit code {returncode}) before any check ran; its output:\n{output}"
        )
    return ChildRun(outcomes, returncode, output, rejected)
