"""The grading child's settings, resolved once from the command line into a frozen object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.course import CASSETTES_DIR
from grader.errors import UsageError
from grader.judge.launch import NO_CONFINEMENT, SandboxPlan
from grader.judge.options import OPTIONS


@dataclass(frozen=True)
class Settings:
    submission: Path  # the directory graded as the package `exercises`
    cassettes: Path
    record: bool  # record cassettes from the real APIs instead of replaying them
    check_timeout: float = 10.0  # seconds one check may take, enforced by the judge outside the sandbox
    sandbox: SandboxPlan = NO_CONFINEMENT  # the confinement layers the parent chose, and the uid
    skip: frozenset[str] = frozenset()  # checks left out: already graded (a restart, `grade --failed`)
    # Several judges share the run's exercises: each grades those its lane claims in this folder (`claims`).
    claims: Path | None = None
    lane: int = 0

    def describe(self) -> str:
        mode = "record (real APIs)" if self.record else "replay (no network)"
        return f"grader: submission={self.submission} cassettes={self.cassettes} mode={mode}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "LLM API course grader")
    for name, spec in OPTIONS.items():
        group.addoption(name, **spec)


def resolve(config: pytest.Config) -> Settings | None:
    """Settings when this pytest run grades a submission, else None (the plugin stays inert)."""
    submission = config.getoption("--grader-submission")
    if submission is None:
        return None
    path = Path(submission).resolve()
    if not path.is_dir():
        raise UsageError(f"--grader-submission {submission!r}: no such directory")
    cassettes_option = config.getoption("--grader-cassettes")
    cassettes = Path(cassettes_option).resolve() if cassettes_option else CASSETTES_DIR
    timeout = float(config.getoption("--grader-check-timeout"))
    if not timeout > 0:
        raise UsageError(f"--grader-check-timeout {timeout!r}: must be a positive number of seconds")
    layers, uid = config.getoption("--grader-sandbox-layers"), config.getoption("--grader-sandbox-uid")
    plan = SandboxPlan.from_options(layers, uid)
    skip = frozenset(config.getoption("--grader-skip") or ())
    claims_option, lane = config.getoption("--grader-claims"), int(config.getoption("--grader-lane"))
    claims = Path(claims_option) if claims_option else None
    if claims is not None and not claims.is_dir():
        raise UsageError(f"--grader-claims {claims_option!r}: no such directory")
    record = bool(config.getoption("--grader-record"))
    return Settings(path, cassettes, record, timeout, plan, skip, claims, lane)
