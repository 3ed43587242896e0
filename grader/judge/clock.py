"""The sandbox's frozen clock as the judge sees it: the sleeps it reported, in order with the requests."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from grader import gate
from grader.clock import MAX_ADVANCE, FrozenClock, Sleep, next_event
from grader.judge.link import SandboxLink

MAX_TOTAL = 10 * MAX_ADVANCE  # a century past the start: every HTTP date and struct_time the judge makes exists


class RemoteClock(FrozenClock):
    """Sleeps arrive as the sandbox reports them; `now()` is the clock's start plus what was slept.

    The sandbox's own readings of its clock are never used: a submission can set its clock anywhere (a
    year far past 9999 made the fault script's HTTP dates raise OverflowError in the judge). Each reported
    sleep is a number the judge validates (finite, at least 0) and bounds before it moves the judge's view
    of the clock, so every date the judge writes stays within MAX_TOTAL of the start.
    """

    link: SandboxLink | None = None
    advanced: float = 0.0

    @classmethod
    def attach(cls, link: SandboxLink, start: str) -> RemoteClock:
        clock = cls(datetime.fromisoformat(start))
        clock.link = link
        link.events.sinks[("sleep", 0)] = clock._reported
        return clock

    def now(self) -> float:
        return self.start.timestamp() + self.advanced

    def advance(self, seconds: float) -> None:
        """The sandbox's clock advances itself; the judge only records."""

    def _reported(self, message: dict[str, Any]) -> None:
        seconds = message.get("seconds")
        try:
            value = float(seconds) if type(seconds) in (int, float) else float("nan")  # type: ignore[arg-type]
        except OverflowError:  # an int past any float
            value = float("inf")
        when = self.now()
        if math.isfinite(value) and value > 0:
            self.advanced = min(self.advanced + min(value, MAX_ADVANCE), MAX_TOTAL)
        via = message.get("via")
        shown = gate.text(via, 40) if type(via) is str else "an unknown sleep"
        self.sleeps.append(Sleep(value, shown, when, next_event()))
