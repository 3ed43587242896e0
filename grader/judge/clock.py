"""The sandbox's frozen clock as the judge sees it: the sleeps it reported, in order with the requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from grader.clock import FrozenClock, Sleep, next_event
from grader.judge.link import SandboxLink


class RemoteClock(FrozenClock):
    """Sleeps arrive as the sandbox reports them; `now()` is the sandbox's clock at its latest request."""

    link: SandboxLink | None = None

    @classmethod
    def attach(cls, link: SandboxLink, start: str) -> RemoteClock:
        clock = cls(datetime.fromisoformat(start))
        clock.link = link
        link.events.sinks[("sleep", 0)] = clock._reported
        return clock

    def now(self) -> float:
        reported = self.link.events.clock_now if self.link is not None else None
        return reported if reported is not None else self.start.timestamp()

    def advance(self, seconds: float) -> None:
        """The sandbox's clock advances itself; the judge only records."""

    def _reported(self, message: dict[str, Any]) -> None:
        seconds = message.get("seconds")
        at = message.get("at")
        value = float(seconds) if isinstance(seconds, int | float) else float("nan")
        when = float(at) if isinstance(at, int | float) else self.now()
        if self.link is not None:
            self.link.events.clock_now = when + (value if value == value and value > 0 else 0.0)
        self.sleeps.append(Sleep(value, str(message.get("via", "time.sleep")), when, next_event()))
