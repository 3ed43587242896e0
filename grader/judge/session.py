"""What the judge sets up once, before any check runs: keys, cassettes, and the sandbox (started at once)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from grader.channel import ChildChannel
from grader.judge import replay
from grader.judge.launch import Launcher
from grader.judge.link import SandboxLink
from grader.judge.remote import Session
from grader.judge.settings import Settings

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
# Where a recording run's reference solution sends its requests (staff only; a local fake in tests).
RECORD_VARIABLES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


def planted_keys() -> dict[str, str]:
    """Realistic in shape, obviously fake, different every run (so a leak can be searched for)."""
    return {
        "OPENAI_API_KEY": f"sk-proj-GRADER-FAKE-{secrets.token_urlsafe(24)}",
        "ANTHROPIC_API_KEY": f"sk-ant-api03-GRADER-FAKE-{secrets.token_urlsafe(24)}",
    }


@dataclass(frozen=True)
class GradingSession:
    settings: Settings
    channel: ChildChannel | None
    keys: dict[str, str]
    link: SandboxLink
    sandbox: Session


def start(settings: Settings) -> GradingSession:
    channel = ChildChannel.from_environment()
    if settings.record:
        keys = {name: os.environ.get(name, "") for name in KEY_VARIABLES}
        extra = {name: os.environ[name] for name in RECORD_VARIABLES if name in os.environ}
    else:
        keys = planted_keys()
        extra = {}
        replay.preload(settings.cassettes)
    link = SandboxLink(settings.submission, Launcher(settings.sandbox, {**keys, **extra}))
    link.start()  # it imports the SDKs while this process collects the suites
    return GradingSession(settings, channel, keys, link, Session(link))
