"""Judge retry behaviour: the delays the course's policy allows after each scripted answer, the
problems in what the code did, and the timeline a student reads when a retry check fails.

The policy (exercise 4): retry 408, 409, 429, 5xx and connection errors, at most `max_retries`
times; before retry n wait the server's hint (`retry-after-ms`, else `retry-after` seconds, else
an HTTP date against the clock), capped at `max_delay`, or without a hint a value in [e/2, e]
with e = min(max_delay, base_delay * 2**n); never sleep after a success or a permanent error.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from grader.clock import FrozenClock, Sleep
from grader.judge.faults import FaultInjector, Served

TOLERANCE = 1e-3  # seconds: float noise in a correct computation, far below any mistake worth catching
MAX_ROWS = 14
ASYNC_SLEEPS = ("asyncio.sleep", "anyio.sleep")


@dataclass(frozen=True)
class Policy:
    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleeps_via: tuple[str, ...] = ("time.sleep",)  # ASYNC_SLEEPS for the async variant


@dataclass(frozen=True)
class Allowed:
    low: float
    high: float

    def contains(self, seconds: float) -> bool:
        return self.low - TOLERANCE <= seconds <= self.high + TOLERANCE

    def describe(self) -> str:
        if self.low == self.high:
            return f"exactly {self.low:.2f} s"
        return f"{self.low:.2f}-{self.high:.2f} s"


def allowed_after(
    served: Sequence[Served], policy: Policy, call_starts: Collection[int] = ()
) -> list[Allowed | None]:
    """For each answered request, the delay the policy asks for before the next, or None (no sleep)."""
    allowed: list[Allowed | None] = []
    retry = 0
    for index, answer in enumerate(served):
        if index in call_starts:
            retry = 0
        if answer.outcome() == "retryable" and retry < policy.max_retries:
            hint = answer.hint
            if hint is not None:
                capped = min(hint, policy.max_delay)
                allowed.append(Allowed(capped, capped))
            else:
                ceiling = min(policy.max_delay, policy.base_delay * 2.0**retry)
                allowed.append(Allowed(ceiling / 2, ceiling))
            retry += 1
        else:  # success, permanent error, or retries spent: the call is over and the next starts afresh
            allowed.append(None)
            retry = 0
    return allowed


@dataclass(frozen=True)
class Row:
    served: Served | None  # None: before the first request
    sleeps: tuple[Sleep, ...]
    allowed: Allowed | None
    problem: str | None
    call: int | None = None  # which call of the check's, when it calls the code more than once


def rows(
    served: Sequence[Served], sleeps: Sequence[Sleep], policy: Policy, call_starts: Collection[int] = ()
) -> list[Row]:
    """What happened after each request, judged; `call_starts` are where the check called the code anew."""
    allowed = allowed_after(served, policy, call_starts)
    result: list[Row] = []
    first = served[0].seq if served else math.inf
    early = tuple(s for s in sleeps if s.seq < first)
    if early:
        result.append(Row(None, early, None, "you slept before the first attempt"))
    for i, answer in enumerate(served):
        until = served[i + 1].seq if i + 1 < len(served) else math.inf
        after = tuple(s for s in sleeps if answer.seq < s.seq < until)
        # The last request of a call may end it without a sleep: the next request belongs to a new call.
        last = i + 1 == len(served) or i + 1 in call_starts
        call = 1 + sum(1 for start in call_starts if 0 < start <= i) if call_starts else None
        result.append(Row(answer, after, allowed[i], _problem(after, allowed[i], policy, last=last), call))
    return result


def _problem(after: tuple[Sleep, ...], allowed: Allowed | None, policy: Policy, *, last: bool) -> str | None:
    wrong_via = [s.via for s in after if s.via not in policy.sleeps_via]
    if wrong_via:
        return f"slept with {wrong_via[0]}; use {' or '.join(policy.sleeps_via)} here"
    if allowed is None:
        return "no sleep is allowed here" if after else None
    if not after:
        # A delay of exactly 0 may be slept or skipped: nothing observable differs.
        return None if last or allowed.high <= TOLERANCE else "retried without sleeping"
    if len(after) > 1:
        return f"slept {len(after)} times; one sleep per retry"
    if not allowed.contains(after[0].seconds):
        return "delay outside the allowed range"
    return None


def problems(table: Sequence[Row]) -> list[str]:
    return [f"attempt {r.served.attempt if r.served else 0}: {r.problem}" for r in table if r.problem]


def _describe(row: Row) -> str:
    if row.served is None:
        head = "before attempt 1"
    else:
        head = f"attempt {row.served.attempt}: {row.served.answer()}"
        if row.call is not None:
            head = f"call {row.call}, {head}"
    if row.sleeps:
        did = "; ".join(
            f"you slept {s.seconds:.2f} s" + ("" if s.via == "time.sleep" else f" ({s.via})") for s in row.sleeps
        )
    else:
        did = "no sleep"
    allowed = f"allowed {row.allowed.describe()}" if row.allowed is not None else "no sleep allowed"
    mark = f"  <- {row.problem}" if row.problem else ""
    return f"  {head} -> {did} ({allowed}){mark}"


def render(table: Sequence[Row]) -> str:
    """The timeline a student reads: attempt, server answer, delay asked for, allowed range."""
    if not table:
        return "What your code did: it made no request at all."
    start = 0
    flagged = [i for i, r in enumerate(table) if r.problem]
    if len(table) > MAX_ROWS and flagged:
        start = max(0, min(flagged[0] - 3, len(table) - MAX_ROWS))
    shown = table[start : start + MAX_ROWS]
    lines = ["What your code did (on the grader's frozen clock; no real waiting):"]
    if start:
        lines.append(f"  ... {start} earlier attempt(s) were fine")
    lines += [_describe(r) for r in shown]
    if start + MAX_ROWS < len(table):
        lines.append(f"  ... and {len(table) - start - MAX_ROWS} more attempt(s)")
    return "\n".join(lines)


@dataclass
class Retries:
    """What a retry check reads and asserts: requests answered, delays slept, problems against the policy."""

    faults: FaultInjector
    clock: FrozenClock

    def expect(
        self, *, max_retries: int = 5, base_delay: float = 1.0, max_delay: float = 30.0, asynchronous: bool = False
    ) -> None:
        """Declare the arguments the check passes, so allowed delays (and the timeline) follow from them."""
        via = ASYNC_SLEEPS if asynchronous else ("time.sleep",)
        self.faults.policy = Policy(max_retries, base_delay, max_delay, via)

    @property
    def policy(self) -> Policy:
        policy = self.faults.policy
        return policy if isinstance(policy, Policy) else Policy()

    @property
    def requests(self) -> int:
        return self.faults.requests

    @property
    def delays(self) -> list[float]:
        return self.clock.delays()

    def attempt(self, label: str, outcome: str) -> None:
        """Record an attempt of the check's own fn that made no request (it raised `label`)."""
        self.faults.attempt(label, outcome)

    def new_call(self) -> None:
        """Say the check now calls the code under test again, so its first request is not judged as a retry."""
        self.faults.new_call()

    def table(self) -> list[Row]:
        return rows(self.faults.served, self.clock.sleeps, self.policy, self.faults.call_starts)

    def problems(self) -> list[str]:
        return problems(self.table())

    def timeline(self) -> str:
        return render(self.table())
