"""What the grading child sets up once, before any check runs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from grader import integrity, network, replay, submission
from grader.channel import ChildChannel
from grader.settings import Settings

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


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
    integrity: integrity.Snapshot


def start(settings: Settings) -> GradingSession:
    # The channel is taken out of the environment before any student module is imported.
    channel = ChildChannel.from_environment()
    if settings.record:
        keys = {name: os.environ.get(name, "") for name in KEY_VARIABLES}
    else:
        keys = planted_keys()
        os.environ.update(keys)
        for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
            os.environ.pop(name, None)
        network.install()
        replay.preload(settings.cassettes)
    submission.install_package(settings.submission)
    return GradingSession(settings, channel, keys, integrity.Snapshot())
