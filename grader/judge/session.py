"""What the judge sets up once, before any check runs: keys, cassettes, and the sandbox (started at once)."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.channel import ChildChannel
from grader.judge import early, replay
from grader.judge.claims import Claims
from grader.judge.launch import Launcher, sandbox_keys
from grader.judge.link import SandboxLink
from grader.judge.remote import Session
from grader.judge.settings import Settings


@dataclass(frozen=True)
class GradingSession:
    settings: Settings
    channel: ChildChannel | None
    keys: dict[str, str]
    link: SandboxLink
    sandbox: Session
    claims: Claims | None = None  # this judge's lane, when several judges share the run's exercises
    said: set[str] = field(default_factory=set)  # why sandboxes start as interpreters, once told to the parent

    def tell_start(self) -> None:
        """Once sandboxes start as interpreters (no fork server here, or it failed), say so and why."""
        reason = self.link.launcher.fallback
        if reason is None or self.said or self.channel is None:
            return
        self.channel.write({"event": "sandbox-start", "start": "interpreter", "reason": reason})
        self.said.add(reason)


def start(settings: Settings) -> GradingSession:
    channel = ChildChannel.from_environment()
    started = early.take(settings.submission, settings.sandbox, settings.record)
    if started is not None:
        keys = started.keys
        link = SandboxLink(settings.submission, started.launcher, online=settings.record)
        if started.process is not None and started.sock is not None:
            link.adopt(started.process, started.sock)
    else:
        keys, extra = sandbox_keys(settings.record)
        link = SandboxLink(settings.submission, Launcher(settings.sandbox, {**keys, **extra}), online=settings.record)
        if link.launcher.server is None:
            link.start()  # it imports the SDKs while this process collects the suites (a server does, if any)
    if not settings.record:
        replay.preload(settings.cassettes)
    claims = None if settings.claims is None else Claims(settings.claims, settings.lane)
    return GradingSession(settings, channel, keys, link, Session(link), claims)
