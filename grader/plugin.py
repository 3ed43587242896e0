"""The judge's pytest plugin: markers, options, hooks and fixtures. The work lives in other modules.

Student code never runs in this process: `exercise` is a proxy to the sandbox process, the clients
are handles to the sandbox's SDK clients, and every request they send is answered here (replay,
faults, gated streams) before a verdict is decided from what was served and what came back.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path, PurePath
from typing import Any

import pytest

from grader import clock as clock_layer
from grader.errors import StaffError
from grader.judge import captured, claims, leaks, seeds, session, settings, timeline
from grader.judge import faults as faults_layer
from grader.judge import replay as replay_layer
from grader.judge import streams as streams_layer
from grader.judge.clock import RemoteClock
from grader.judge.link import SandboxFailure, SandboxStartError
from grader.judge.outcomes import CheckRecord, PhaseResult, phase_result
from grader.judge.remote import Exercise, Remote, Session

MARKERS = {
    "points": "points(n): what the check is worth",
    "hint": "hint(text): shown to the student when the check fails",
    "visibility": "visibility('visible'|'hidden'): whether the check's details are shown",
    "cassette": "cassette(name|None): the cassette under cassettes/<exercise>/ (default: the test's name); "
    "None: the check expects no request at all",
    "faults": "faults(*steps): scripted API failures, request by request",
    "clock": "clock(start): run the check on a frozen clock",
}

# The real clock, kept in a dict: freezegun rewrites module attributes that hold time functions, not dict values.
_REAL = {"perf_counter": time.perf_counter}
SESSION = pytest.StashKey[session.GradingSession]()
RECORD = pytest.StashKey[CheckRecord]()
EXIT_STATUS = pytest.StashKey[int]()
LEAKS = pytest.StashKey[leaks.LeakWatch]()


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)
    resolved = settings.resolve(config)
    if resolved is not None:
        config.stash[SESSION] = session.start(resolved)


def pytest_report_header(config: pytest.Config) -> str | None:
    grading = config.stash.get(SESSION, None)
    return grading.settings.describe() if grading else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SESSION in terminalreporter.config.stash and clock_layer.TOTALS.clocks:
        terminalreporter.write_line(clock_layer.summary())


def _exercise_id(item: pytest.Item) -> str:
    return item.path.parent.name


def _is_hidden(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("visibility")
    if marker is not None:
        return bool(marker.args and marker.args[0] == "hidden")
    return item.path.name.startswith("test_hidden")


def _clock_start(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("clock")
    if marker is None and item.get_closest_marker("faults") is None:
        return None
    start = marker.args[0] if marker is not None and marker.args else clock_layer.DEFAULT_START
    return start.isoformat() if hasattr(start, "isoformat") else str(start)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grading = config.stash.get(SESSION, None)
    if grading is None:
        return
    left_out = [item for item in items if item.nodeid in grading.settings.skip]
    if left_out:
        items[:] = [item for item in items if item.nodeid not in grading.settings.skip]
        config.hook.pytest_deselected(items=left_out)
    for item in items:
        for required in ("points", "hint"):
            if item.get_closest_marker(required) is None:
                raise pytest.UsageError(f"{item.nodeid}: a graded check needs @pytest.mark.{required}")


def pytest_collection_finish(session: pytest.Session) -> None:
    if SESSION in session.config.stash:
        gc.freeze()  # pytest, the suites and the preloaded cassettes stay to the end: no collection need walk them
        gc.enable()  # off since grader.judge's __main__ started, when it runs the judge


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    grading = session.config.stash.get(SESSION, None)
    if grading is not None and grading.claims is not None:
        claims.keep_claimed(session.items, 0, _exercise_id, grading.claims)
    return (yield)


# Outside pytest-timeout's timer (tryfirst): waiting for a restarted sandbox is not the check's time. The
# judge's own deadline bounds each check's exchanges with the sandbox, its begin and end included.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    grading = item.config.stash.get(SESSION, None)
    if grading is None:
        return (yield)
    record = CheckRecord(item.nodeid, _is_hidden(item))
    item.stash[RECORD] = record
    started = _REAL["perf_counter"]()
    if grading.channel is not None:
        grading.channel.started(item.nodeid)
    watch = item.stash[LEAKS] = leaks.LeakWatch(grading.keys, grading.settings.submission)
    grading.link.phase = "setup"
    try:
        grading.sandbox.begin(
            timeout=grading.settings.check_timeout,
            exercise=_exercise_id(item),
            hidden=record.hidden,
            clock=_clock_start(item),
            seed=seeds.seed(item),
        )
    except SandboxFailure as exc:
        record.phases.append(PhaseResult("setup", exc.status, str(exc)))
    except SandboxStartError as exc:  # the machine or the grader, never the student: said to staff
        message = f"Grader problem, not your fault: {exc} (tell course staff)."
        record.phases.append(PhaseResult("setup", "error", message, staff_error=True))
    try:
        return (yield)
    finally:
        grading.link.phase = "teardown"
        ended = grading.sandbox.end()
        shown = ended or {}
        record.output = captured.render(shown.get("stdout"), shown.get("stderr"), grading.link.events.logs)
        grading.link.phase = "between checks"
        record.notes.extend(grading.link.api.refused)  # requests outside the call: the student's, said so
        if ended is not None:
            watch.inspect_sandbox(ended, grading.link.events.logs)
            record.notes.extend(
                f"Your code tried to use the network ({what}); grading is offline: use the client passed in."
                for what in ended.get("network", [])
            )
        record.notes.extend(watch.notes())
        if grading.channel is not None:
            outcome = record.outcome()
            grading.channel.write(
                {
                    "id": outcome.check_id,
                    "event": "end",
                    "status": outcome.status,
                    "feedback": leaks.redact(outcome.feedback, watch.keys),
                    "staff_error": outcome.staff_error,
                    "duration": round(_REAL["perf_counter"]() - started, 6),
                    "cause": leaks.redact(outcome.cause, watch.keys),
                    "output": leaks.redact(outcome.output, watch.keys),
                }
            )
            grading.tell_start()
        if grading.claims is not None and nextitem is not None and _exercise_id(nextitem) != _exercise_id(item):
            # pytest's loop reads the next item from this list after this hook: a lost exercise is never begun.
            items = item.session.items
            claims.keep_claimed(items, items.index(item) + 1, _exercise_id, grading.claims)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Only while the check's body runs may its API requests be served (and only those its calls send)."""
    grading = item.config.stash.get(SESSION, None)
    if grading is None:
        return (yield)
    grading.link.phase = "call"
    try:
        return (yield)
    finally:
        grading.link.phase = "teardown"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)
    grading = session.config.stash.get(SESSION, None)
    if grading is not None:
        grading.link.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    record = item.stash.get(RECORD, None)
    grading = item.config.stash.get(SESSION, None)
    if record is not None and grading is not None:
        record.phases.append(
            phase_result(call.when, call.excinfo, hidden=record.hidden, submission=grading.settings.submission)
        )
        item.stash[LEAKS].inspect_phase(call.when, (), call.excinfo.value if call.excinfo else None)
    return report


@pytest.fixture
def grading(request: pytest.FixtureRequest) -> session.GradingSession:
    """The grading session of this run (settings, planted keys, the sandbox)."""
    found = request.config.stash.get(SESSION, None)
    if found is None:
        pytest.skip("not a grading run (no --grader-submission)")
    return found


@pytest.fixture
def sandbox(grading: session.GradingSession) -> Session:
    """The sandbox as the check sees it: clients (`sandbox.client("openai", asynchronous=True)`), chdir, setenv."""
    return grading.sandbox


@pytest.fixture
def scratch(grading: session.GradingSession, request: pytest.FixtureRequest) -> PurePath:
    """A fresh folder in the sandbox's space; write files there with `sandbox.write(scratch / name, text)`."""
    return grading.sandbox.mkdtemp(prefix=f"{request.node.name[:30]}-")


@pytest.fixture
def exercise(request: pytest.FixtureRequest, grading: session.GradingSession) -> Exercise:
    """The student's module for this check's exercise, as a proxy to the sandbox that imported it."""
    return grading.sandbox.exercise(_exercise_id(request.node))


@pytest.fixture
def leak_watch(request: pytest.FixtureRequest, grading: session.GradingSession) -> leaks.LeakWatch:
    """This check's key-leak guard; `leak_watch.watch(name, key)` adds a key the check makes up."""
    watch: leaks.LeakWatch = request.node.stash[LEAKS]
    return watch


@pytest.fixture
def openai_client(grading: session.GradingSession) -> Remote:
    """The sandbox's OpenAI client, with the SDK's own retries off, so the check measures the student's code."""
    return grading.sandbox.client("openai")


@pytest.fixture
def anthropic_client(grading: session.GradingSession) -> Remote:
    """The sandbox's Anthropic client, with the SDK's own retries off, so the check measures the student's code."""
    return grading.sandbox.client("anthropic")


@pytest.fixture
def logs(grading: session.GradingSession) -> list[dict[str, Any]]:
    """The log records the sandbox emitted in this check so far (name, levelno, message), read when asked."""
    return grading.link.events.logs


@pytest.fixture(scope="session")
def no_cassette() -> Iterator[Path]:
    """A cassette path that never exists, for checks that expect no request (nothing is ever written there)."""
    with tempfile.TemporaryDirectory() as empty_dir:
        yield Path(empty_dir) / "none.yaml"


@pytest.fixture(autouse=True)
def replay(request: pytest.FixtureRequest, no_cassette: Path) -> Iterator[replay_layer.Replay | None]:
    """The check's cassette, replayed (or recorded); what was sent, and why a request matched nothing."""
    grading = request.config.stash.get(SESSION, None)
    if grading is None:
        yield None
        return
    node = request.node
    marker = node.get_closest_marker("cassette")
    name = marker.args[0] if marker is not None and marker.args else node.name
    if marker is not None and marker.args and name is None:
        path = None
    else:
        path = grading.settings.cassettes / _exercise_id(node) / f"{name}.yaml"
    record_this = (
        grading.settings.record and path is not None and not (path.is_file() and replay_layer.is_synthetic(path))
    )
    with replay_layer.replaying(
        path, record=record_this, show_expected=not _is_hidden(node), empty_path=no_cassette
    ) as active:
        yield active
        record = node.stash.get(RECORD, None)
        if record is not None:
            record.misses.extend(zip(active.misses, active.miss_causes, strict=True))


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> Iterator[RemoteClock | None]:
    """The sandbox's frozen clock in this check (markers `clock`, `faults`): its sleeps, as the judge saw them."""
    grading = request.config.stash.get(SESSION, None)
    start = _clock_start(request.node)
    if grading is None or start is None:
        yield None
        return
    frozen = RemoteClock.attach(grading.link, start)
    yield frozen
    clock_layer.TOTALS.clocks += 1
    clock_layer.TOTALS.sleeps += len(frozen.sleeps)
    clock_layer.TOTALS.seconds += frozen.total


@pytest.fixture(autouse=True)
def faults(
    request: pytest.FixtureRequest,
    replay: replay_layer.Replay | None,
    clock: RemoteClock | None,
) -> Iterator[faults_layer.FaultInjector | None]:
    """The check's scripted API answers (marker `faults`), served in front of its cassette."""
    node = request.node
    marker = node.get_closest_marker("faults")
    if replay is None or clock is None or marker is None:
        yield None
        return
    script = faults_layer.parse_script(marker.args, where=node.nodeid)
    with faults_layer.injecting(script, seed=node.nodeid, now=clock.now) as injector:
        yield injector
    record = node.stash.get(RECORD, None)
    if record is not None:
        # Checks of a retry loop declare its arguments (`retries.expect`); only their failures speak of
        # retrying and show the timeline. A check stopped by its time limit did not choose to stop retrying.
        judging = isinstance(injector.policy, timeline.Policy)
        timed_out = any(p.status == "timeout" for p in record.phases)
        stopped = any(p.by_check for p in record.phases)
        record.notes.extend(injector.notes(judging_retries=judging and not timed_out, ran_to_end=not stopped))
        failed = any(p.status != "passed" for p in record.phases) or record.notes
        if failed and injector.served and isinstance(injector.policy, timeline.Policy):
            table = timeline.rows(injector.served, clock.sleeps, injector.policy, injector.call_starts)
            record.notes.append(timeline.render(table))


@pytest.fixture
def retries(faults: faults_layer.FaultInjector | None, clock: RemoteClock | None) -> timeline.Retries:
    """Requests answered and delays slept in this check, judged against the retry policy."""
    if faults is None or clock is None:
        raise StaffError("the `retries` fixture needs a @pytest.mark.faults(...) script on the check")
    return timeline.Retries(faults, clock)


@pytest.fixture
def streams(
    request: pytest.FixtureRequest, faults: faults_layer.FaultInjector | None
) -> Iterator[streams_layer.Streams]:
    """Streamed replies served through a gate that notices a consumer reading ahead of what it delivered."""
    if request.config.stash.get(SESSION, None) is None:
        pytest.skip("not a grading run (no --grader-submission)")
    node = request.node
    state = streams_layer.Streams(show_expected=not _is_hidden(node))
    with streams_layer.gating(state):  # above the fault script and the cassette (requested after them)
        yield state
    record = node.stash.get(RECORD, None)
    if record is not None:
        record.notes.extend(state.notes())
