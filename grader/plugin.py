"""The grader's pytest plugin: markers, options, hooks and fixtures. The work lives in other modules."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from grader import clients, containment, hangs, leaks, network, session, settings, submission, timeline
from grader import clock as clock_layer
from grader import faults as faults_layer
from grader import replay as replay_layer
from grader import streams as streams_layer
from grader.errors import StaffError
from grader.outcomes import CheckRecord, phase_result

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SESSION not in config.stash:
        return
    for item in items:
        for required in ("points", "hint"):
            if item.get_closest_marker(required) is None:
                raise pytest.UsageError(f"{item.nodeid}: a graded check needs @pytest.mark.{required}")
    if any(item.get_closest_marker("clock") or item.get_closest_marker("faults") for item in items):
        clock_layer.warm()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    grading = item.config.stash.get(SESSION, None)
    if grading is None:
        return (yield)
    network.drain()
    record = CheckRecord(item.nodeid, _is_hidden(item))
    item.stash[RECORD] = record
    started = _REAL["perf_counter"]()
    if grading.channel is not None:
        grading.channel.started(item.nodeid)
    watch = item.stash[LEAKS] = leaks.LeakWatch(grading.keys, grading.settings.submission)
    try:
        with watch.watching_logs():
            return (yield)
    finally:
        tampered = grading.integrity.restore()
        if tampered:
            record.notes.append(
                "Your code changed the grader or pytest itself (" + ", ".join(tampered[:5]) + "); "
                "this check is failed and the originals were put back."
            )
        record.notes.extend(
            f"Your code tried to use the network ({what}); grading is offline: use the client passed in."
            for what in network.drain()
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
                }
            )


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    if SESSION not in pyfuncitem.config.stash:
        return (yield)
    try:
        return (yield)
    except BaseException as exc:
        containment.shorten_traceback(exc)
        replacement = containment.as_failure(exc)
        if replacement is exc:
            raise
        raise replacement from exc


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION in config.stash:
        # Every outcome is written; threads a submission left running must not keep the child alive.
        containment.exit_now(config.stash.get(EXIT_STATUS, 1))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    record = item.stash.get(RECORD, None)
    grading = item.config.stash.get(SESSION, None)
    if record is not None and grading is not None:
        record.phases.append(
            phase_result(call.when, call.excinfo, hidden=record.hidden, submission=grading.settings.submission)
        )
        item.stash[LEAKS].inspect_phase(call.when, report.sections, call.excinfo.value if call.excinfo else None)
    return report


@pytest.fixture
def grading(request: pytest.FixtureRequest) -> session.GradingSession:
    """The grading session of this run (settings, planted keys)."""
    found = request.config.stash.get(SESSION, None)
    if found is None:
        pytest.skip("not a grading run (no --grader-submission)")
    return found


@pytest.fixture
def exercise(request: pytest.FixtureRequest, grading: session.GradingSession) -> hangs.GuardedExercise:
    """The student's module for this check's exercise; a function that hung in an earlier check is not run again."""
    exercise_id = _exercise_id(request.node)
    return hangs.GuardedExercise(submission.load_exercise(exercise_id, grading.settings.submission), exercise_id)


@pytest.fixture
def leak_watch(request: pytest.FixtureRequest, grading: session.GradingSession) -> leaks.LeakWatch:
    """This check's key-leak guard; `leak_watch.watch(name, key)` adds a key the check makes up."""
    watch: leaks.LeakWatch = request.node.stash[LEAKS]
    return watch


@pytest.fixture
def openai_client(grading: session.GradingSession) -> Iterator[openai.OpenAI]:
    """An OpenAI client with the SDK's own retries off, so the check measures the student's code."""
    with clients.openai_client(grading.keys["OPENAI_API_KEY"]) as client:
        yield client


@pytest.fixture
def anthropic_client(grading: session.GradingSession) -> Iterator[anthropic.Anthropic]:
    """An Anthropic client with the SDK's own retries off, so the check measures the student's code."""
    with clients.anthropic_client(grading.keys["ANTHROPIC_API_KEY"]) as client:
        yield client


@pytest.fixture(autouse=True)
def replay(request: pytest.FixtureRequest) -> Iterator[replay_layer.Replay | None]:
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
    with (
        tempfile.TemporaryDirectory() as empty_dir,
        replay_layer.replaying(
            path,
            record=record_this,
            show_expected=not _is_hidden(node),
            empty_path=Path(empty_dir) / "none.yaml",
        ) as active,
    ):
        yield active
        record = node.stash.get(RECORD, None)
        if record is not None:
            record.notes.extend(active.misses)


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> Iterator[clock_layer.FrozenClock | None]:
    """The check's frozen clock (markers `clock`, `faults`): sleeps advance it and are recorded, never wait."""
    grading = request.config.stash.get(SESSION, None)
    node = request.node
    marker = node.get_closest_marker("clock")
    if grading is None or (marker is None and node.get_closest_marker("faults") is None):
        yield None
        return
    if "exercise" in request.fixturenames:
        # Imported first, so the names its modules bound to the real sleeps are replaced too.
        request.getfixturevalue("exercise")
    start = marker.args[0] if marker is not None and marker.args else clock_layer.DEFAULT_START
    with clock_layer.frozen(start, modules=submission.loaded_modules(), seed=node.nodeid) as frozen:
        yield frozen


@pytest.fixture(autouse=True)
def faults(
    request: pytest.FixtureRequest,
    replay: replay_layer.Replay | None,
    clock: clock_layer.FrozenClock | None,
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
        record.notes.extend(injector.notes())
        # Checks of a retry loop declare its arguments (`retries.expect`); their failures show the timeline.
        failed = any(p.status != "passed" for p in record.phases) or record.notes
        if failed and injector.served and isinstance(injector.policy, timeline.Policy):
            record.notes.append(timeline.render(timeline.rows(injector.served, clock.sleeps, injector.policy)))


@pytest.fixture
def retries(faults: faults_layer.FaultInjector | None, clock: clock_layer.FrozenClock | None) -> timeline.Retries:
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
