"""Run the suites in one child pytest process and collect its outcomes (the parent side)."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import channel
from grader.course import SUITES_DIR
from grader.errors import StaffError, UsageError
from grader.judge import launch, zygote
from grader.parent import processes, warm_judges
from grader.rubric import ExerciseRubric, checks_of_file, suite_files
from grader.sandbox.outside import confinement, forkserver, users
from grader.scoring import Outcome

# Variables that must never reach student code: real credentials and endpoints.
_SECRET_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_BASE_URL)$|^GITHUB_|^ACTIONS_|^AWS_", re.I)
OUTPUT_CAP = 20_000
# Each restart follows a crash pinned on one check, so this bounds the cost of a submission that keeps crashing.
MAX_RESTARTS = 8
NOTHING_COLLECTED = 5  # pytest's exit code when no check was selected to run
DEFAULT_CHECK_TIMEOUT = 10.0  # seconds per check; the frozen clock means no honest check comes close

Running = tuple[str, float]  # the check running now and the seconds it has run so far
# Told, while a run goes on, how many checks have ended and which one runs (for the live progress line).
Progress = Callable[[int, Running | None], None]


def no_progress(done: int, running: Running | None) -> None:
    """A Progress that shows nothing."""


@dataclass(frozen=True)
class ChildRun:
    outcomes: dict[str, Outcome]
    returncode: int | None  # None when the time limit ended it
    output: str  # the child's stdout and stderr, truncated; for staff
    rejected_records: int
    hit_time_limit: bool
    sandbox: dict[str, Any]  # confinement.status() of the layers the child ran under


def child_environment(*, record: bool) -> dict[str, str]:
    """The environment of a recording child (trusted reference code that needs the real keys)."""
    env = {k: v for k, v in os.environ.items() if record or not _SECRET_NAME.search(k)}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Options from the caller's environment would override the grader's own (pytest-timeout reads
    # PYTEST_TIMEOUT before the ini file and the command line).
    for name in ("PYTEST_ADDOPTS", "PYTEST_TIMEOUT", "PYTEST_PLUGINS"):
        env.pop(name, None)
    return env


def _tail(path: Path) -> str:
    data = path.read_bytes()
    text = data[-OUTPUT_CAP:].decode("utf-8", "replace")
    return ("... (output truncated)\n" if len(data) > OUTPUT_CAP else "") + text


class _SharedServers(threading.local):
    """One warm fork server per batch worker (thread), started on its first submission."""

    server: launch.ForkServer | None = None
    root: Path | None = None


_shared: list[tuple[_SharedServers, list[tuple[launch.ForkServer, Path]]]] = []


@contextmanager
def shared_fork_servers() -> Iterator[None]:
    """Within the block, the judges each thread starts fork their sandboxes from one server per thread
    (it imports the SDKs once for every submission the thread grades); all of them end with the block."""
    if not forkserver.available():
        yield
        return
    started: list[tuple[launch.ForkServer, Path]] = []
    _shared.append((_SharedServers(), started))
    try:
        yield
    finally:
        _shared.pop()
        for server, root in started:
            server.close()
            processes.release_spared(_server_pid(server))
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def warm_workers() -> Iterator[None]:
    """Within the block (a batch, a watch session), each thread's judges fork their sandboxes from one warm
    server and are themselves forked from one warm judge (`warm_judges`): both start-ups are paid once per
    thread, not once per submission or round."""
    try:
        with shared_fork_servers(), warm_judges.warm_judges(child_environment(record=False)):
            yield
    finally:
        _stopping.clear()


_stopping = threading.Event()


class Stopping(KeyboardInterrupt):
    """`stop_every_judge` was called: this grade is abandoned, not scored (a KeyboardInterrupt, so that no
    `except Exception` turns it into a row)."""


def stop_every_judge() -> None:
    """Ctrl-C in a batch: every running judge is stopped at once (its watchdog), none is restarted and none
    starts, whichever worker thread it belongs to; until the `warm_workers` block ends."""
    _stopping.set()


def _server_pid(server: launch.ForkServer) -> int:
    assert server.process is not None  # started here, not attached
    return server.process.pid


def _worker_server() -> launch.ForkServer | None:
    """This thread's warm server in a `shared_fork_servers` block (started and ready), else None."""
    if not _shared:
        return None
    local, started = _shared[-1]
    if local.server is None:
        root = Path(tempfile.mkdtemp(prefix="grader-forkserver-"))
        home = root / "home"
        home.mkdir(mode=0o700)
        env = confinement.environment(home, {})
        server = processes.start_spared(lambda: launch.ForkServer(root, env), _server_pid)
        started.append((server, root))
        try:
            server.reset()  # waits until it is ready: a judge handed this server never sees its greeting
        except launch.ForkServerError:
            return None
        local.server = server
    return local.server


def _let_go(server: launch.ForkServer | None) -> None:
    """After a judge: its sandboxes still running are killed; a server that does not answer is dropped."""
    if server is None or not _shared:
        return
    try:
        server.reset()
    except launch.ForkServerError:
        _shared[-1][0].server = None


@dataclass(frozen=True)
class _Attempt:
    records: list[dict[str, Any]]
    returncode: int | None
    output: str
    rejected: int
    stopped_by: str


class _Watchdog:
    """Stops the child when one check runs far past its own time limit.

    pytest-timeout stops a check from inside (SIGALRM); code that keeps the interpreter from
    handling the signal (deep recursion unwinding, C loops) is stopped from outside instead.
    """

    def __init__(
        self,
        parent_channel: channel.ParentChannel,
        hard_limit: float,
        progress: Progress,
        cancelled: threading.Event | None = None,
        held: Callable[[bool], None] | None = None,
        suspect: float = 0.0,
    ) -> None:
        self._channel = parent_channel
        self._held, self._suspect = held, suspect  # told, at each poll, whether one check has run past `suspect` s
        self._cancelled = cancelled  # set when a parallel judge's caller gave up (Ctrl-C): stop at once
        self._hard_limit = hard_limit
        self._running: tuple[str, float] | None = None
        self._progress = progress  # told how many checks have ended, for the live progress line

    def __call__(self) -> bool:
        if _stopping.is_set() or (self._cancelled is not None and self._cancelled.is_set()):
            return True
        records, _ = channel.read_records(self._channel)
        ended = {r["id"] for r in records if r.get("event") == "end"}
        started = [r["id"] for r in records if r.get("event") == "start" and r["id"] not in ended]
        if not started:
            self._running = None
            self._progress(len(ended), None)
            if self._held is not None:
                self._held(False)
            return False
        if self._running is None or self._running[0] != started[-1]:
            self._running = (str(started[-1]), time.monotonic())
        running_for = time.monotonic() - self._running[1]
        self._progress(len(ended), (self._running[0], running_for))
        if self._held is not None:
            self._held(running_for > self._suspect)
        return running_for > self._hard_limit


@dataclass(frozen=True)
class _RunSettings:
    """What every attempt of one child run shares."""

    files: tuple[str, ...]  # the suite files
    submission: Path
    cassettes: Path
    record: bool
    only: tuple[str, ...]  # -k expressions, when only some checks run
    suites_dir: Path
    check_timeout: float
    caps: confinement.Capabilities | None  # None: no sandbox (recording runs trusted reference code)
    uid: int | None  # the sandbox's own uid, when the grader runs as root
    # The fork server this run's parallel judges share (each over a connection of its own); None: the batch
    # worker's server, or each judge starts its own.
    server: launch.ForkServer | None = None
    # Parallel judges: each grades the exercises its lane claims in this folder (`grader.judge.claims`).
    claims: Path | None = None
    lane: int = 0
    # The warm judge every judge of this run forks from: the grade's own (parallel judges), or the one of the thread
    # that started the grade in a batch or watch block; None: each judge starts as an interpreter. Chosen when the
    # grade starts, in that thread, which waits for the grade: a relief or restarted judge, started from a lane's
    # thread, forks from a zygote that outlives it (a zygote dies with the thread that started it).
    zygote: warm_judges.Zygote | None = None


@dataclass(frozen=True)
class _Launched:
    """One attempt's judge, started: `_collect` waits for it and reads what it reported."""

    parent_channel: channel.ParentChannel
    workdir: tempfile.TemporaryDirectory[str]
    log: Path
    judge: processes.Limited
    server: launch.ForkServer | None  # the batch worker's fork server this judge used


def _launch(run: _RunSettings, skip: Sequence[str], *, time_limit: float) -> _Launched:
    if _stopping.is_set():
        raise Stopping()
    server = run.server or (None if run.record else _worker_server())
    server_fd = None
    if server is not None:
        try:
            server_fd = server.connect()  # closed when the judge ends: the server then kills its sandboxes
        except launch.ForkServerError:
            server = None  # the judge starts its own
    parent_channel = channel.open_parent_channel()
    env = child_environment(record=run.record)
    env[channel.ENV_VAR] = channel.handoff(parent_channel.fd)
    workdir = tempfile.TemporaryDirectory(prefix="grader-run-")
    # Every temporary folder the judge makes (its sandboxes' boxes, its fork server's home) lies in here, so
    # a judge stopped where it was (Ctrl-C, its time limit) leaves none behind: the workdir goes after it.
    # Its sandboxes' uid may pass through to their boxes (never list); the judge's log is ours alone.
    scratch = Path(workdir.name) / "tmp"
    scratch.mkdir()
    for folder in (scratch, Path(workdir.name)):
        os.chmod(folder, 0o711)
    env["TMPDIR"] = str(scratch)
    # The judge (this child) is trusted and runs as we do; it starts the sandbox with these layers.
    caps, uid = run.caps, run.uid
    layers = (
        () if caps is None else tuple(x for x in caps.available if uid is not None or x not in ("uid", "nproc"))
    )
    command = [
        sys.executable, "-m", "grader.judge", *zygote.judge_arguments(run.suites_dir),
        "--grader-submission", str(run.submission), "--grader-cassettes", str(run.cassettes),
        # A grading run reads each check's outcome from the plugin, never pytest's traceback of it, which costs
        # a parse of every frame's source file: 20-30 ms per failed check, seconds for a stub. A recording's
        # tracebacks are for staff.
        "-q", "--no-header", "-rN", "--tb=short" if run.record else "--tb=line", "--show-capture=no",
        # The judge enforces each check's time outside the sandbox; pytest-timeout only backs up the judge.
        "--grader-check-timeout", f"{run.check_timeout:g}", "-o", f"timeout={run.check_timeout * 2 + 10:g}",
        "--grader-sandbox-layers", launch.layers_option(layers),
        *(["--grader-sandbox-uid", str(uid)] if uid is not None and "uid" in layers else []),
        *(["--grader-record"] if run.record else []),
        *(["--grader-fork-server", str(server_fd)] if server_fd is not None else []),
        *(["--grader-claims", str(run.claims), "--grader-lane", str(run.lane)] if run.claims is not None else []),
        *(["-k", " or ".join(run.only)] if run.only else []),
        *(arg for check_id in skip for arg in ("--grader-skip", check_id)),
        *run.files,
    ]  # fmt: skip
    log = Path(workdir.name) / "child-output.txt"
    os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    pass_fds = (parent_channel.fd, parent_channel.results_fd, *([] if server_fd is None else [server_fd]))
    limits = processes.Limits(time_limit=time_limit)
    try:
        judge = _start_judge(
            processes.Command(tuple(command), Path(workdir.name), env, log, pass_fds, limits), run
        )
    except BaseException:
        os.close(parent_channel.fd)
        channel.close_parent_channel(parent_channel)
        workdir.cleanup()
        raise
    finally:
        if server_fd is not None:
            os.close(server_fd)  # the judge has its copy
    return _Launched(parent_channel, workdir, log, judge, server if run.server is None else None)


def _start_judge(command: processes.Command, run: _RunSettings) -> processes.Limited:
    """The judge forked from the run's warm zygote, else started as an interpreter: the same program, arguments,
    environment, descriptors and limits either way."""
    warm = run.zygote
    if warm is not None:
        try:
            return warm.start(command)
        except warm_judges.ZygoteError:
            if warm.closed:  # its grade or block was abandoned (Ctrl-C), perhaps while it warmed up
                raise Stopping() from None
            # otherwise that zygote's judges start as interpreters from now on
    return processes.start_limited(command)


def _collect(
    launched: _Launched,
    run: _RunSettings,
    *,
    progress: Progress,
    stop_now: bool = False,
    cancelled: threading.Event | None = None,
    held: Callable[[bool], None] | None = None,
) -> _Attempt:
    """Wait for the attempt's judge (or, `stop_now`, stop it), then read its records; nothing of it stays."""
    parent_channel = launched.parent_channel
    watchdog = _Watchdog(
        parent_channel, run.check_timeout * 2 + 70, progress, cancelled, held, suspect(run.check_timeout)
    )
    try:  # the channel's folder goes whatever happens, a Ctrl-C while the grading process waits here included
        with launched.workdir:
            try:
                ended = processes.finish_limited(launched.judge, watchdog=watchdog, stop_now=stop_now)
            finally:
                os.close(parent_channel.fd)
                _let_go(launched.server)
                if run.uid is not None:
                    users.kill_all(run.uid)  # whatever the sandbox left running, even if the judge could not
            output = _tail(launched.log)
        records, rejected = channel.read_records(parent_channel)
    finally:
        channel.close_parent_channel(parent_channel)
    kept = [r for r in records if isinstance(r, dict) and ("id" in r or r.get("event") == "sandbox-start")]
    return _Attempt(kept, ended.returncode, output, rejected, ended.stopped_by)


def run_child(
    rubrics: Sequence[ExerciseRubric],
    *,
    submission: Path,
    cassettes: Path,
    time_limit: float,
    record: bool = False,
    only: Sequence[str] = (),
    suites_dir: Path = SUITES_DIR,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    skip: Sequence[str] = (),
    progress: Progress = no_progress,
    judges: int | None = None,
) -> ChildRun:
    """Run the suites but the `skip` checks; when student code kills the child, pin it on the running check
    and go on without it. `progress` is told how many checks have ended."""
    pending = start_child(
        [r.exercise.id for r in rubrics], submission=submission, cassettes=cassettes, time_limit=time_limit,
        record=record, only=only, suites_dir=suites_dir, check_timeout=check_timeout, skip=skip, judges=judges,
    )  # fmt: skip
    try:
        return pending.finish(progress)
    finally:
        pending.cancel()


JUDGES_VARIABLE = "GRADER_JUDGES"  # how many judges grade one submission in parallel (staff, benchmarks)


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def judges_told() -> int | None:
    """GRADER_JUDGES when it is set (UsageError naming a value that is not 1 or more); commands ask it before
    they grade anything, so a bad value stops the command once instead of costing every submission its row."""
    told = os.environ.get(JUDGES_VARIABLE, "")
    if not told:
        return None
    if not (told.isdecimal() and int(told) >= 1):
        raise UsageError(
            f"{JUDGES_VARIABLE}={told!r} (from the environment) is not a number of judges: set it to 1 or more "
            "(how many judges grade one submission at once), or unset it for one judge per core"
        )
    return int(told)


def default_judges(exercises: int, *, record: bool, only: Sequence[str]) -> int:
    """How many judges grade one submission at once: one per core, where a shared warm fork server makes a
    judge cheap; one in a batch (it grades submissions in parallel already), a recording or a `-k` run."""
    told = judges_told()
    if told is not None:
        return min(told, exercises)
    if record or only or _shared or not forkserver.available():
        return 1
    return max(1, min(cores(), exercises))


def claim_order(exercise_ids: Sequence[str], suites_dir: Path = SUITES_DIR) -> list[str]:
    """The order in which parallel judges claim the exercises: most checks first (ties in course order).

    The longest exercises start at once and the short ones fill in at the end, so the judges end close
    together; and an exercise whose many functions all hang, the longest chain of timeouts, starts first."""
    checks = {e: sum(len(checks_of_file(f, e)) for f in suite_files(e, suites_dir)) for e in exercise_ids}
    return sorted(exercise_ids, key=lambda e: -checks[e])  # stable: ties keep course order


def suspect(check_timeout: float) -> float:
    """Seconds after which a check looks held up (a loop, a wait): an honest check on the frozen clock takes
    milliseconds, so its judge's exercises not yet begun are worth handing to another judge."""
    return min(2.0, check_timeout / 2)


class _Lane:
    """One judge's share of a run: its settings (its own sandbox uid, its lane) and its first attempt."""

    def __init__(self, run: _RunSettings, slot: users.Slot | None) -> None:
        self.run, self.slot = run, slot
        self.first: _Launched | None = None


class PendingRun:
    """A child run whose judges are already starting: `finish` grades to the end; `cancel` stops them
    and frees their uids (a no-op once finished). Its caller reads the rubrics meanwhile.

    Parallel judges (lanes) are each handed every exercise and grade those they claim first
    (`grader.judge.claims`); their outcomes are merged. While a lane's check is held up (`suspect`) and
    exercises are still unclaimed, one more lane starts, so that a hanging function holds up only its own
    exercise. Each exercise is graded whole by one judge, as one judge grading everything would grade it, so
    the grade is the same however the exercises fell."""

    def __init__(
        self,
        runs: Sequence[tuple[_RunSettings, users.Slot | None]],
        time_limit: float,
        skip: Sequence[str],
        server: tuple[launch.ForkServer, Path] | None = None,
        claims: Path | None = None,
        exercises: int = 1,
        zygote: warm_judges.Zygote | None = None,
    ) -> None:
        self._time_limit, self._skip = time_limit, tuple(skip)
        self._deadline = time.monotonic() + time_limit
        self._server, self._claims, self._zygote = server, claims, zygote
        self._wanted, self._exercises = len(runs), exercises
        self._lanes = [_Lane(run, slot) for run, slot in runs]  # each slot is freed by `_release` from here on
        self._lock = threading.Lock()
        self._held: set[int] = set()  # lanes whose check has run past `suspect`
        # Set as each lane's thread has finished its lane. Waited on instead of joining the threads: up to Python
        # 3.12, a join that Ctrl-C interrupts marks a thread that still runs as ended, so a join after it would
        # return at once and the grade would end while a lane still stops its judge and clears its folders.
        self._ended: list[threading.Event] = []
        self._results: list[ChildRun | BaseException | None] = []
        try:
            for lane in self._lanes:
                # A grade's own zygote is still warming up: its lanes' judges are forked in their own threads
                # once it is ready (`finish`), while the caller goes on.
                if self._zygote is None:
                    lane.first = _launch(lane.run, sorted(self._skip), time_limit=time_limit)
        except BaseException:
            self.cancel()
            raise

    @property
    def submission(self) -> Path:
        return self._lanes[0].run.submission

    @property
    def judges(self) -> int:
        """The lanes started so far (more start while checks are held up)."""
        return len(self._lanes)

    def finish(self, progress: Progress = no_progress) -> ChildRun:
        try:
            if len(self._lanes) == 1 and self._claims is None:
                return self._finish_lane(self._lanes[0], progress)
            return self._finish_parallel(progress)
        finally:
            self._release()

    def _finish_lane(
        self,
        lane: _Lane,
        progress: Progress,
        cancelled: threading.Event | None = None,
        held: Callable[[bool], None] | None = None,
    ) -> ChildRun:
        first, lane.first = lane.first, None
        return _run_attempts(
            lane.run, first, deadline=self._deadline, time_limit=self._time_limit, skip=self._skip,
            progress=progress, cancelled=cancelled, held=held,
        )  # fmt: skip

    def _finish_parallel(self, progress: Progress) -> ChildRun:
        together = _Together(progress)
        cancelled = threading.Event()
        try:
            # Started inside the `try`: a Ctrl-C while the lanes' threads start stops those already running.
            with self._lock:
                for lane in self._lanes:
                    self._grade_lane(lane, together, cancelled)
            waited = 0
            while True:
                with self._lock:  # lanes may start while others run: wait until none is left
                    if waited == len(self._ended):
                        break
                    ended = self._ended[waited]
                ended.wait()
                waited += 1
        except BaseException:  # Ctrl-C: every judge is stopped (its watchdog) before the caller goes on
            cancelled.set()
            try:
                if self._zygote is not None:
                    self._zygote.close()  # lanes still waiting for it to warm up start no judge
            finally:
                with self._lock:
                    every = list(self._ended)
                for ended in every:
                    _wait_out(ended)
            raise
        for result in self._results:
            if isinstance(result, BaseException):
                raise result
        return _merged([r for r in self._results if isinstance(r, ChildRun)])

    def _grade_lane(self, lane: _Lane, together: _Together, cancelled: threading.Event) -> None:
        """Finish `lane` (already launched) in a thread of its own; called with the lock held."""
        i = len(self._results)
        self._results.append(None)
        ended = threading.Event()

        def grade() -> None:
            held = functools.partial(self._held_up, i, together, cancelled)
            try:
                self._results[i] = self._finish_lane(lane, functools.partial(together.tell, i), cancelled, held)
            except BaseException as exc:  # handed to the caller's thread
                self._results[i] = exc
            finally:
                try:
                    held(False)
                finally:
                    ended.set()

        thread = threading.Thread(target=grade, daemon=True)
        self._ended.append(ended)
        try:
            thread.start()
        except BaseException:
            ended.set()  # it never ran: nothing to wait for
            raise

    def _held_up(self, i: int, together: _Together, cancelled: threading.Event, now: bool) -> None:
        """Lane `i`'s watchdog, at each poll: is its check held up? If so, and too few lanes are moving while
        exercises are still unclaimed, one more lane starts."""
        with self._lock:
            if not now:
                self._held.discard(i)
                return
            if i in self._held:
                return
            self._held.add(i)
            moving = len(self._lanes) - len(self._held)
            if moving >= self._wanted or len(self._lanes) >= self._exercises or not self._unclaimed():
                return
            if cancelled.is_set() or _stopping.is_set():
                return
            try:
                lane = self._more()
            except (OSError, StaffError):
                return  # no uid or judge to spare: the lanes there are grade everything, only later
            self._lanes.append(lane)
            self._grade_lane(lane, together, cancelled)

    def _unclaimed(self) -> bool:
        assert self._claims is not None
        claimed = sum(1 for name in os.listdir(self._claims) if name.startswith("exercise-"))
        return claimed < self._exercises

    def _more(self) -> _Lane:
        """One more lane: the first one's settings, a lane number and a sandbox uid of its own."""
        first = self._lanes[0]
        slot = users.acquire() if first.slot is not None else None
        try:
            run = dataclasses.replace(first.run, lane=len(self._lanes), uid=None if slot is None else slot.uid)
            lane = _Lane(run, slot)
            remaining = max(1.0, self._deadline - time.monotonic())
            lane.first = _launch(run, sorted(self._skip), time_limit=remaining)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        return lane

    def cancel(self) -> None:
        try:
            for lane in self._lanes:
                first, lane.first = lane.first, None
                if first is not None:
                    _collect(first, lane.run, progress=no_progress, stop_now=True)
        finally:
            self._release()

    def _release(self) -> None:
        """What the run holds, given back: every step is taken whatever an earlier one raised (a Ctrl-C that lands
        here, as the grade ends, must not leave the fork server's or the claims' folder behind)."""
        with ExitStack() as steps:  # taken last to first
            steps.callback(self._drop_claims)
            steps.callback(self._close_zygote)
            steps.callback(self._close_run_server)
            steps.callback(self._free_slots)

    def _free_slots(self) -> None:
        for lane in self._lanes:
            slot, lane.slot = lane.slot, None
            if slot is not None:
                slot.release()

    def _close_run_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            _close_server(*server)

    def _close_zygote(self) -> None:
        zygote_, self._zygote = self._zygote, None
        if zygote_ is not None:
            zygote_.close()

    def _drop_claims(self) -> None:
        claims, self._claims = self._claims, None
        if claims is not None:
            shutil.rmtree(claims, ignore_errors=True)


class _Together:
    """The progress of parallel judges told as one: checks ended in all, and the longest-running check."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._done: dict[int, int] = {}
        self._running: dict[int, Running | None] = {}

    def tell(self, judge: int, done: int, running: Running | None) -> None:
        with self._lock:
            self._done[judge], self._running[judge] = done, running
            now = [r for r in self._running.values() if r is not None]
            self._progress(sum(self._done.values()), max(now, key=lambda r: r[1]) if now else None)


def _wait_out(ended: threading.Event) -> None:
    """Wait for `ended` through any further Ctrl-C: its lane, told to stop, only takes the moment it needs to stop
    its judge and remove its folders, which a process that left now would leave behind."""
    while True:
        try:
            ended.wait()
            return
        except KeyboardInterrupt:
            continue


def _merged(runs: Sequence[ChildRun]) -> ChildRun:
    """The parallel judges' runs as one judge's: every outcome, the worst exit, every output in order."""
    codes = [r.returncode for r in runs]
    returncode = None if None in codes else max(codes, key=lambda c: (c not in (0, 1), c or 0))
    return ChildRun(
        outcomes={k: v for r in runs for k, v in r.outcomes.items()},
        returncode=returncode,
        output="\n".join(r.output for r in runs),
        rejected_records=sum(r.rejected_records for r in runs),
        hit_time_limit=any(r.hit_time_limit for r in runs),
        sandbox=next((r.sandbox for r in runs if r.sandbox.get("start") == "interpreter"), runs[0].sandbox),
    )


def _run_server() -> tuple[launch.ForkServer, Path] | None:
    """A warm fork server for one submission's parallel judges (it starts importing the SDKs now)."""
    root = Path(tempfile.mkdtemp(prefix="grader-forkserver-"))
    try:
        home = root / "home"
        home.mkdir(mode=0o700)
        env = confinement.environment(home, {})
        return processes.start_spared(lambda: launch.ForkServer(root, env), _server_pid), root
    except OSError:
        shutil.rmtree(root, ignore_errors=True)
        return None  # each judge starts its own


def _run_zygote(suites_dir: Path, cassettes: Path) -> warm_judges.Zygote | None:
    """A warm judge for one grade's parallel judges, outside a batch or watch session (whose judges fork from
    the block's): one interpreter's start-up instead of one per judge, and one process beside the fork
    server's SDK import instead of two."""
    if not warm_judges.available() or warm_judges.in_block():
        return None
    try:
        return warm_judges.Zygote(suites_dir, cassettes, child_environment(record=False))
    except OSError:
        return None  # each judge starts as an interpreter


def _close_server(server: launch.ForkServer, root: Path) -> None:
    with ExitStack() as steps:  # each step whatever an earlier one raised, taken last to first
        steps.callback(shutil.rmtree, root, ignore_errors=True)
        steps.callback(processes.release_spared, _server_pid(server))
        server.close()


def start_child(
    exercise_ids: Sequence[str],
    *,
    submission: Path,
    cassettes: Path,
    time_limit: float,
    record: bool = False,
    only: Sequence[str] = (),
    suites_dir: Path = SUITES_DIR,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    skip: Sequence[str] = (),
    judges: int | None = None,
) -> PendingRun:
    """Start the judges of the exercises' suites now (each starts its sandbox at once); `finish` the result.

    `judges` (default: `default_judges`) judges share the exercises at once (`PendingRun`), forking their
    sandboxes from one warm server, each sandbox under a uid of its own."""
    wanted = judges if judges is not None else default_judges(len(exercise_ids), record=record, only=only)
    parallel = wanted > 1 and len(exercise_ids) > 1
    order = claim_order(exercise_ids, suites_dir) if parallel else list(exercise_ids)
    files = tuple(str(f) for exercise_id in order for f in suite_files(exercise_id, suites_dir))
    # First: the server's SDK import is the longest step of a grade, and nothing it needs waits on the probe.
    server = _run_server() if parallel and forkserver.available() else None
    own = _run_zygote(suites_dir, cassettes) if parallel and not record else None
    warm = own or (None if record else warm_judges.for_run(suites_dir, cassettes))  # chosen in this thread
    claims = Path(tempfile.mkdtemp(prefix="grader-claims-")) if parallel else None  # ours and our judges' only
    runs: list[tuple[_RunSettings, users.Slot | None]] = []
    try:
        caps = None if record else confinement.probe()
        for lane in range(min(wanted, len(exercise_ids)) if parallel else 1):
            slot = users.acquire() if caps is not None and "uid" in caps.available else None
            runs.append((
                _RunSettings(
                    files=files,
                    submission=submission,
                    cassettes=cassettes,
                    record=record,
                    only=tuple(only),
                    suites_dir=suites_dir,
                    check_timeout=check_timeout,
                    caps=caps,
                    uid=None if slot is None else slot.uid,
                    server=None if server is None else server[0],
                    claims=claims,
                    lane=lane,
                    zygote=warm,
                ),
                slot,
            ))  # fmt: skip
    except BaseException:
        for _, slot in runs:
            if slot is not None:
                slot.release()
        if server is not None:
            _close_server(*server)
        if own is not None:
            own.close()
        if claims is not None:
            shutil.rmtree(claims, ignore_errors=True)
        raise
    return PendingRun(runs, time_limit, skip, server, claims, len(exercise_ids), own)


def _run_attempts(
    run: _RunSettings,
    first: _Launched | None,
    *,
    deadline: float,
    time_limit: float,
    skip: Sequence[str],
    progress: Progress,
    cancelled: threading.Event | None = None,
    held: Callable[[bool], None] | None = None,
) -> ChildRun:
    outcomes: dict[str, Outcome] = {}
    outputs: list[str] = []
    rejected = 0
    returncode: int | None = 0
    for _ in range(MAX_RESTARTS + 1):
        launched = first or _launch(
            run, sorted({*outcomes, *skip}), time_limit=max(1.0, deadline - time.monotonic())
        )
        first = None
        attempt = _collect(
            launched, run, progress=functools.partial(_add, progress, len(outcomes)), cancelled=cancelled, held=held
        )
        if _stopping.is_set():
            raise Stopping()
        outputs.append(attempt.output)
        rejected += attempt.rejected
        returncode = attempt.returncode
        ended = {
            r["id"]: Outcome(
                r["id"],
                str(r["status"]),
                str(r.get("feedback", "")),
                bool(r.get("staff_error")),
                _seconds(r),
                str(r.get("cause", "")),
                str(r.get("output", "")),
            )
            for r in attempt.records
            if r.get("event") == "end"
        }
        crashed = [r["id"] for r in attempt.records if r.get("event") == "start" and r["id"] not in ended]
        if returncode == NOTHING_COLLECTED and skip and not attempt.records:
            returncode = 0  # every check was left out (`grade --failed` after a full pass): nothing to run
        if not outcomes and not attempt.records and returncode is not None and returncode not in (0, 1):
            raise StaffError(
                f"the grading child process ended (exit code {returncode}) before any check ran; "
                f"its output:\n{attempt.output}"
            )
        outcomes.update(ended)
        for check_id in crashed:
            outcomes[check_id] = _crash_outcome(check_id, returncode, attempt.stopped_by, time_limit)
        # pytest itself can end early (an INTERNALERROR, e.g. a timeout while it formats a failure): the
        # checks it never started get a fresh child too, as long as the last one made progress.
        if attempt.stopped_by == "time limit" or not (crashed or (ended and returncode not in (0, 1))):
            break
        if cancelled is not None and cancelled.is_set():
            break
    sandbox = confinement.status(run.caps) if run.caps is not None else {"level": "none", "layers": [], "missing": {}}
    # How the sandboxes came to be: forked from a warm server (Linux), or started as their own interpreters,
    # as the judge said when it started one that way (no server, or a server that failed), and why.
    sandbox["start"] = "fork" if forkserver.available() else "interpreter"
    said = [r for r in attempt.records if r.get("event") == "sandbox-start"]
    if said:
        sandbox["start"] = "interpreter"
        sandbox["start_reason"] = str(said[0].get("reason", ""))[:300]
    return ChildRun(
        outcomes, returncode, "\n".join(outputs), rejected, attempt.stopped_by == "time limit", sandbox
    )


def _seconds(record: dict[str, Any]) -> float:
    value = record.get("duration", 0.0)
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


def _add(progress: Progress, before: int, done: int, running: Running | None) -> None:
    progress(before + done, running)


def _crash_outcome(check_id: str, returncode: int | None, stopped_by: str, time_limit: float) -> Outcome:
    if stopped_by == "time limit":
        return Outcome(
            check_id,
            "timeout",
            f"Grading hit its time limit of {time_limit:.0f} s while this check ran.",
            cause="grading hit its time limit",
        )
    if stopped_by == "watchdog":
        return Outcome(
            check_id,
            "timeout",
            "This check ran out of time and could not be interrupted normally (for example very deep recursion "
            "or a long computation in C), so its process was stopped; the other checks ran in a fresh one.",
            cause="ran out of time and could not be interrupted",
        )
    return Outcome(
        check_id,
        "error",
        f"The grading process ended during this check (exit code {returncode}): your code ended or crashed it "
        "(os._exit, a fatal signal, running out of memory). The other checks were graded in a fresh process.",
        cause="the grading process ended during the check",
    )
