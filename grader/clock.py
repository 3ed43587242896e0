"""A frozen clock for checks that wait: sleeping advances it and is recorded, nothing waits for real.

freezegun freezes `time.time`, `time.monotonic` and `datetime.now` (they move together when the
clock advances). `real_asyncio=True` keeps the event loop on the real monotonic clock, so asyncio
itself still works. The sleeps (`time.sleep`, `asyncio.sleep`, `anyio.sleep`) are replaced by
fakes that record the delay asked for and advance the frozen clock, both on their modules and
where a student bound the real function to a name of their own (`from time import sleep`). The
SDKs' own retry jitter is made deterministic. Every patch is undone when the clock stops.

A process that calls `hold()` first (the sandbox does, before it imports the SDKs) runs on a clock
that follows the real one between checks, and each check's freeze nests inside it.

A student who waits some other way (a saved reference to the real sleep, `threading.Event.wait`,
`select`) really waits, and the check's time limit (pytest-timeout) stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import Any

import anyio
import freezegun

# The real functions, taken when the grader is imported: before any student module is.
REAL_TIME_SLEEP = time.sleep
REAL_ASYNCIO_SLEEP = asyncio.sleep
REAL_ANYIO_SLEEP = anyio.sleep

# A whole second, so HTTP dates (which have one-second resolution) land exactly on the clock.
DEFAULT_START = datetime(2025, 3, 14, 12, 0, 0, tzinfo=timezone.utc)
# The clock never advances further than this in one sleep (datetime overflows near year 9999);
# the delay asked for is still recorded in full.
MAX_ADVANCE = 10 * 365 * 86400.0
# The value the SDKs' `random()` returns while frozen: their jitter factor becomes a fixed 0.875.
SDK_RANDOM = 0.5
SDK_MODULES = ("openai._base_client", "anthropic._base_client")

_order = itertools.count()


def next_event() -> int:
    """A sequence number shared by every recorded event (requests and sleeps), to order a timeline."""
    return next(_order)


@dataclass(frozen=True)
class Sleep:
    seconds: float  # as asked for (not clipped)
    via: str  # time.sleep | asyncio.sleep | anyio.sleep
    at: float  # the frozen time.time() when it was asked for
    seq: int


@dataclass
class FrozenClock:
    """The state of one frozen clock: what was slept, and the time now."""

    start: datetime
    sleeps: list[Sleep] = field(default_factory=list)
    _factory: Any = None

    def now(self) -> float:
        """The frozen `time.time()` (freezegun's, while the clock runs)."""
        return time.time()

    def advance(self, seconds: float) -> None:
        if self._factory is not None and seconds > 0:
            self._factory.tick(min(seconds, MAX_ADVANCE))

    def delays(self, via: str | None = None) -> list[float]:
        return [s.seconds for s in self.sleeps if via is None or s.via == via]

    @property
    def total(self) -> float:
        """Simulated seconds of waiting (negative requests count as none)."""
        return sum(max(0.0, s.seconds) for s in self.sleeps if math.isfinite(s.seconds))

    def _record(self, seconds: float, via: str) -> None:
        self.sleeps.append(Sleep(seconds, via, self.now(), next_event()))
        self.advance(seconds)


@dataclass
class Totals:
    """Every clock of this process added up (printed in the child's summary, read by the benchmark)."""

    clocks: int = 0
    sleeps: int = 0
    seconds: float = 0.0


TOTALS = Totals()


def _seconds(value: object, via: str) -> float:
    """The delay as the real function takes it (numbers, or objects with __float__/__index__)."""
    kind = type(value)
    if isinstance(value, int | float) or hasattr(kind, "__float__") or hasattr(kind, "__index__"):
        return float(value)  # type: ignore[arg-type]
    raise TypeError(f"{via}(): '{kind.__name__}' object cannot be interpreted as an integer or float")


# Packages whose `asyncio.sleep(0)` is a checkpoint of their own (seen while recording over real sockets).
_CHECKPOINTING = ("asyncio", "anyio", "httpcore2", "httpx2")


def _library_caller() -> bool:
    caller = sys._getframe(2).f_globals.get("__name__", "")
    return isinstance(caller, str) and caller.split(".")[0] in _CHECKPOINTING


def _fakes(clock: FrozenClock) -> dict[int, tuple[object, object]]:
    def sleep(secs: float, /) -> None:
        seconds = _seconds(secs, "time.sleep")
        if math.isnan(seconds):
            raise ValueError("Invalid value NaN (not a number)")
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        clock._record(seconds, "time.sleep")

    async def asyncio_sleep(delay: float, result: Any = None) -> Any:
        if delay == 0 and _library_caller():
            return await REAL_ASYNCIO_SLEEP(0, result)  # an event-loop checkpoint, not a wait
        clock._record(_seconds(delay, "asyncio.sleep"), "asyncio.sleep")
        await REAL_ASYNCIO_SLEEP(0)  # still a suspension point, as the real one is
        return result

    async def anyio_sleep(delay: float) -> None:
        seconds = _seconds(delay, "anyio.sleep")
        if not seconds >= 0:
            raise ValueError("delay must be a non-negative number")
        clock._record(seconds, "anyio.sleep")
        await REAL_ASYNCIO_SLEEP(0)

    return {
        id(REAL_TIME_SLEEP): (REAL_TIME_SLEEP, sleep),
        id(REAL_ASYNCIO_SLEEP): (REAL_ASYNCIO_SLEEP, asyncio_sleep),
        id(REAL_ANYIO_SLEEP): (REAL_ANYIO_SLEEP, anyio_sleep),
    }


_held: list[bool] = []  # hold() has run in this process


def _sdk_random() -> float:
    return SDK_RANDOM


def _set(stack: ExitStack, target: object, name: str, value: object) -> None:
    original = getattr(target, name)
    setattr(target, name, value)
    stack.callback(setattr, target, name, original)


# Modules freezegun need not scan for bound clock functions when a freeze starts outside `hold()` (the
# scan touches every attribute of every loaded module). None of them reads the clock. freezegun also
# hands the REAL time to any call with one of these within five frames up the stack, so code that calls
# student or grader code, or runs the grader's fault and stream layers (the SDK clients, httpx2, pytest),
# must never be listed. Under `hold()`, as in the sandbox, no freeze scans, so the list is not given:
# there it would only exempt these modules from the frozen clock, which nothing needs.
UNSCANNED_PACKAGES = (
    "openai.types", "anthropic.types", "pydantic", "pydantic_core", "rich", "pygments", "yaml",
    "jiter", "annotated_types", "typing_extensions", "idna",
)  # fmt: skip


@contextmanager
def frozen(
    start: datetime | str = DEFAULT_START, *, modules: Iterable[ModuleType] = (), seed: str | None = None
) -> Iterator[FrozenClock]:
    """Freeze the clock at `start`; `modules` (the student's) get their own bound sleeps replaced too.

    With `seed`, the global `random` is seeded for the block (and restored after), so a jittered
    implementation draws the same delays on every run of the check.
    """
    clock = FrozenClock(start if isinstance(start, datetime) else datetime.fromisoformat(start))
    fakes = _fakes(clock)
    with ExitStack() as stack:
        clock._factory = stack.enter_context(
            freezegun.freeze_time(clock.start, real_asyncio=True, ignore=[] if _held else list(UNSCANNED_PACKAGES))
        )
        _set(stack, time, "sleep", fakes[id(REAL_TIME_SLEEP)][1])
        _set(stack, asyncio, "sleep", fakes[id(REAL_ASYNCIO_SLEEP)][1])
        _set(stack, anyio, "sleep", fakes[id(REAL_ANYIO_SLEEP)][1])
        for module in modules:
            for name, value in list(vars(module).items()):
                found = fakes.get(id(value))
                if found is not None and found[0] is value:
                    _set(stack, module, name, found[1])
        if seed is not None:
            stack.callback(random.setstate, random.getstate())
            random.seed(seed)
        for sdk in SDK_MODULES:
            loaded = sys.modules.get(sdk)
            if loaded is not None and hasattr(loaded, "random"):
                _set(stack, loaded, "random", _sdk_random)
        try:
            yield clock
        finally:
            TOTALS.clocks += 1
            TOTALS.sleeps += len(clock.sleeps)
            TOTALS.seconds += clock.total


def hold() -> None:
    """Put this process under a clock that follows the real one, before the SDKs and the submission
    are imported: their modules then bind freezegun's functions as they load, and every check's
    `frozen()` nests inside it. freezegun scans the loaded modules only for the outermost freeze,
    and that is this one, with few modules loaded; a scan with both SDKs loaded cost seconds."""
    freezegun.freeze_time(datetime.now(timezone.utc), tick=True, real_asyncio=True).start()
    _held.append(True)


def summary() -> str:
    """One line for the child's terminal summary (the benchmark reads it)."""
    return (
        f"grader clock: simulated {TOTALS.seconds:.2f} s of waiting in {TOTALS.sleeps} sleep(s) "
        f"on {TOTALS.clocks} frozen clock(s)"
    )
