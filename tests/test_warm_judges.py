"""Issue 23: judges forked from a warm zygote (a batch worker, a watch session) are the judge started as an
interpreter, minus its start-up.

Behaviour only, never wall-clock (`nox -s bench` measures the CPU saved): a forked judge runs with exactly
the arguments, directory, environment, descriptors, limits and process group it was given, and none of the
zygote's; its exit code is its own; it is stopped at its time limit; the zygote keeps nothing of a judge it
forked and serves the next one; a grade through forked judges is the grade through interpreters; a zygote
that dies costs nothing but the warm start (judges start as interpreters again); a cassette or a suite
changed since the zygote loaded it is read afresh.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import course, rubric
from grader.judge import replay
from grader.parent import processes, runner, warm_judges
from tests.conftest import REFERENCE, STUBS
from tests.support import procs

needs_fork = pytest.mark.skipif(not warm_judges.available(), reason="judges are forked on Linux only")
pytestmark = needs_fork

PROBE = """
import json, os, resource, sys

def test_probe():
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    passed = int(os.environ["PROBE_FD"])
    record = {
        "argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
        "as": resource.getrlimit(resource.RLIMIT_AS)[0], "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
        "own_session": os.getsid(0) == os.getpid() == os.getpgrp(),
        "sockets": sorted(int(n) for n, target in fds.items() if target.startswith("socket:")),
        "token": os.read(passed, 100).decode(),
    }
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(record, out)
    assert os.environ.get("PROBE_FAIL") != "1"
"""
SLEEPS = "import time\n\ndef test_sleeps():\n    time.sleep(600)\n"


@pytest.fixture(scope="module")
def zygote() -> Iterator[warm_judges.Zygote]:
    started = warm_judges.Zygote(course.SUITES_DIR, course.CASSETTES_DIR, runner.child_environment(record=False))
    try:
        yield started
    finally:
        started.close()


def _run(
    zygote: warm_judges.Zygote, tmp_path: Path, test_file: str, *, extra_env: dict[str, str] | None = None,
    time_limit: float = 120.0,
) -> tuple[processes.Ended, int, dict[str, Any] | None, str]:  # fmt: skip
    """A judge forked from `zygote` that runs `test_file` with a socket at a fixed descriptor number."""
    (tmp_path / "test_probe.py").write_text(test_file)
    ours, theirs = socket.socketpair()
    wanted = 77  # not the number it arrives at in the zygote: the judge must find it where it was told
    os.dup2(theirs.fileno(), wanted)
    theirs.close()
    ours.send(b"token-from-the-parent")
    env = {
        "PATH": os.environ["PATH"], "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PROBE_FD": str(wanted),
        "PROBE_OUT": str(tmp_path / "probe.json"), **(extra_env or {}),
    }  # fmt: skip
    command = [sys.executable, "-m", "grader.judge", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path),
               str(tmp_path / "test_probe.py")]  # fmt: skip
    limits = processes.Limits(memory_bytes=900 * 1024**2, file_bytes=32 * 1024**2, time_limit=time_limit)
    try:
        command_ = processes.Command(tuple(command), tmp_path, env, tmp_path / "judge.log", (wanted,), limits)
        started = zygote.start(command_)
    finally:
        os.close(wanted)
        ours.close()
    pid = started.process.pid
    ended = processes.finish_limited(started)
    probe = tmp_path / "probe.json"
    record = json.loads(probe.read_text()) if probe.exists() else None
    return ended, pid, record, (tmp_path / "judge.log").read_text()


def test_a_forked_judge_runs_with_what_it_was_given_and_nothing_of_the_zygote(zygote, tmp_path: Path):
    ended, _, record, log = _run(zygote, tmp_path, PROBE)
    assert ended.returncode == 0, log
    assert record is not None, log
    assert record["cwd"] == str(tmp_path)
    assert record["argv"][0] == "grader.judge"
    # Exactly the environment it was given, and what pytest itself sets while it runs.
    own = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION")
    assert {k: v for k, v in record["env"].items() if k not in own} == {
        "PATH": os.environ["PATH"], "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PROBE_FD": "77",
        "PROBE_OUT": str(tmp_path / "probe.json"),
    }  # fmt: skip
    assert record["as"] == 900 * 1024**2 and record["fsize"] == 32 * 1024**2
    assert record["own_session"] is True  # killed with its group, as a Popen child with start_new_session
    # Its one socket is the parent's, at the number it was told; the zygote's control socket is not there.
    assert record["sockets"] == [77] and record["token"] == "token-from-the-parent"
    assert "1 passed" in log  # its output went to the file it was given


MANY = """
import json, os

def test_many():
    tokens = {n: os.read(int(n), 100).decode() for n in os.environ["PROBE_FDS"].split(",")}
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(tokens, out)
"""


def test_each_descriptor_arrives_at_its_own_number(zygote, tmp_path: Path):
    """Several descriptors, told out of order: each is at its own number in the judge, none swapped or lost."""
    (tmp_path / "test_probe.py").write_text(MANY)
    wanted = [62, 60, 61, 90]
    writers = {}
    for number in wanted:
        read, write = os.pipe()
        os.dup2(read, number + 100)
        os.close(read)
        writers[number] = write
    # Moved to the numbers wanted only now, above whatever the test process already holds there.
    for number in wanted:
        os.dup2(number + 100, number)
        os.close(number + 100)
        os.write(writers[number], f"token-{number}".encode())
        os.close(writers[number])
    env = {"PATH": os.environ["PATH"], "PROBE_FDS": ",".join(map(str, wanted)), "PROBE_OUT": str(tmp_path / "o.json")}
    command = [sys.executable, "-m", "grader.judge", "-p", "no:cacheprovider", "-q", str(tmp_path / "test_probe.py")]
    try:
        started = zygote.start(
            processes.Command(
                tuple(command), tmp_path, env, tmp_path / "judge.log", tuple(wanted), processes.Limits(time_limit=120)
            )
        )
    finally:
        for number in wanted:
            os.close(number)
    ended = processes.finish_limited(started)
    assert ended.returncode == 0, (tmp_path / "judge.log").read_text()
    assert json.loads((tmp_path / "o.json").read_text()) == {str(n): f"token-{n}" for n in wanted}


def test_a_forked_judges_exit_code_is_its_own(zygote, tmp_path: Path):
    ended, _, record, log = _run(zygote, tmp_path, PROBE, extra_env={"PROBE_FAIL": "1"})
    assert record is not None, log
    assert ended.returncode == 1 and "1 failed" in log


def test_a_start_request_whose_reply_descriptor_is_no_socket_is_refused_and_the_zygote_serves_on(tmp_path: Path):
    """The zygote takes its requests from the parent only, but a bad one (here: a pipe where the judge's reply
    socket belongs) costs that judge its warm start, never the zygote and with it every later judge's."""
    started = warm_judges.Zygote(course.SUITES_DIR, course.CASSETTES_DIR, runner.child_environment(record=False))
    try:
        started._await_ready()
        read_end, write_end = os.pipe()
        with open(tmp_path / "judge.log", "wb") as out:
            request = {"op": "start", "args": [], "cwd": str(tmp_path), "env": {}, "fds": [], "limits": [0, 0]}
            socket.send_fds(started.control, [json.dumps(request).encode()], [read_end, out.fileno()])
        os.close(read_end)
        # The zygote closed its copy of the pipe (refused, nobody to tell): the write end sees no reader.
        os.set_blocking(write_end, False)
        deadline = time.monotonic() + 30
        while True:
            try:
                os.write(write_end, b"x")
            except BrokenPipeError:
                break
            assert time.monotonic() < deadline, "the zygote kept the descriptor of a request it could not serve"
            time.sleep(0.05)
        os.close(write_end)
        (tmp_path / "next").mkdir()
        ended, _, record, log = _run(started, tmp_path / "next", PROBE)
        assert ended.returncode == 0 and record is not None, log
        assert started.process.poll() is None and started.serving, (started.root / "zygote.log").read_text()
    finally:
        started.close()


def test_a_forked_judge_is_stopped_at_its_time_limit_and_the_zygote_keeps_nothing_of_it(zygote, tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    ended, pid, _, log = _run(zygote, first, SLEEPS, time_limit=3)
    assert ended == processes.Ended(None, "time limit"), log
    assert not Path(f"/proc/{pid}").exists()  # killed, and reaped by the zygote
    # The zygote holds nothing of that judge: no child, and no descriptor but its own (one socket, its log).
    server = zygote.process.pid
    assert procs.children(server) == []
    fds = {name: os.readlink(f"/proc/{server}/fd/{name}") for name in os.listdir(f"/proc/{server}/fd")}
    assert len([t for t in fds.values() if t.startswith("socket:")]) == 1, fds
    assert not any(str(tmp_path) in target for target in fds.values()), fds
    # ...and serves the next judge.
    ended, _, record, log = _run(zygote, second, PROBE)
    assert ended.returncode == 0 and record is not None, log


def _stop(started: processes.Limited, stopped: list[processes.Ended]) -> None:
    stopped.append(processes.finish_limited(started, stop_now=True))


def test_a_forked_judge_stopped_the_moment_it_started_is_gone(zygote, tmp_path: Path):
    """As with Popen: once `start` returns, killing the judge's group reaches it (it never outlives a stop)."""
    for attempt in range(5):  # the race it guards against is a narrow one: give it several chances
        (tmp_path / str(attempt)).mkdir()
        (tmp_path / str(attempt) / "test_probe.py").write_text(SLEEPS)
        command = [sys.executable, "-m", "grader.judge", "-p", "no:cacheprovider", "-q", str(tmp_path / str(attempt))]
        started = zygote.start(
            processes.Command(
                tuple(command), tmp_path / str(attempt), {"PATH": os.environ["PATH"]},
                tmp_path / str(attempt) / "judge.log", (), processes.Limits(time_limit=600),
            )
        )  # fmt: skip
        stopped: list[processes.Ended] = []
        stopping = threading.Thread(target=_stop, args=(started, stopped))
        stopping.start()
        stopping.join(timeout=30)
        assert not stopping.is_alive(), "the judge outlived its stop: its group was killed before it had one"
        assert stopped == [processes.Ended(None, "cancelled")]
        assert not Path(f"/proc/{started.process.pid}").exists()


def _grade(submission: Path, exercise_ids: tuple[str, ...]) -> dict[str, str]:
    rubrics = [rubric.load(course.exercise(e)) for e in exercise_ids]
    run = runner.run_child(rubrics, submission=submission, cassettes=course.CASSETTES_DIR, time_limit=300)
    return {check: outcome.status for check, outcome in run.outcomes.items()}


def _counting_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    forked: list[int] = []
    real = warm_judges.Zygote.start

    def start(self: warm_judges.Zygote, *args: Any, **kwargs: Any) -> processes.Limited:
        started = real(self, *args, **kwargs)
        forked.append(started.process.pid)
        return started

    monkeypatch.setattr(warm_judges.Zygote, "start", start)
    return forked


@pytest.mark.slow
def test_a_grade_through_forked_judges_is_the_grade_through_interpreters(monkeypatch: pytest.MonkeyPatch):
    exercises = ("basic_call", "error_handler")
    cold = {name: _grade(path, exercises) for name, path in (("reference", REFERENCE), ("stubs", STUBS))}
    assert set(cold["reference"].values()) == {"passed"} and "passed" not in set(cold["stubs"].values())
    forked = _counting_forks(monkeypatch)
    with runner.warm_workers():
        warm = {name: _grade(path, exercises) for name, path in (("reference", REFERENCE), ("stubs", STUBS))}
    assert len(forked) == 2  # both judges were forked, from one zygote
    assert warm == cold


@pytest.mark.slow
def test_a_zygote_that_dies_costs_only_the_warm_start(monkeypatch: pytest.MonkeyPatch):
    forked = _counting_forks(monkeypatch)
    with runner.warm_workers():
        zygote = warm_judges.for_run(course.SUITES_DIR, course.CASSETTES_DIR)
        assert zygote is not None
        os.killpg(zygote.process.pid, signal.SIGKILL)
        zygote.process.wait()
        assert set(_grade(REFERENCE, ("basic_call",)).values()) == {"passed"}  # its judge started as an interpreter
        assert warm_judges.for_run(course.SUITES_DIR, course.CASSETTES_DIR) is None  # and so do the next ones
        assert set(_grade(REFERENCE, ("basic_call",)).values()) == {"passed"}
    assert forked == []


def test_a_suite_edited_since_the_zygote_loaded_it_gets_a_new_zygote(tmp_path: Path):
    suites = tmp_path / "suites"
    (suites / "basic_call").mkdir(parents=True)
    (suites / "pytest.ini").write_text("[pytest]\n")
    check = suites / "basic_call" / "test_public.py"
    check.write_text("def test_a():\n    assert 1\n")
    with warm_judges.warm_judges(runner.child_environment(record=False)):
        first = warm_judges.for_run(suites, course.CASSETTES_DIR)
        assert first is not None and warm_judges.for_run(suites, course.CASSETTES_DIR) is first
        check.write_text("def test_a():\n    assert 0\n")  # the same size: only its text and times moved
        second = warm_judges.for_run(suites, course.CASSETTES_DIR)
        assert second is not None and second is not first
        assert first.process.poll() is not None  # the stale zygote is ended at once, not kept to the block's end
        assert warm_judges.for_run(suites, course.CASSETTES_DIR) is second
    assert second.process.poll() is not None


def test_a_cassette_changed_or_removed_since_it_was_parsed_is_read_afresh(tmp_path: Path):
    cassettes = tmp_path / "cassettes" / "basic_call"
    cassettes.mkdir(parents=True)
    source = sorted((course.CASSETTES_DIR / "basic_call").glob("*.yaml"))[0]
    copy = cassettes / source.name
    copy.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    replay.preload(cassettes.parent)
    first = replay._PreloadedPersister.load_cassette(str(copy), replay.yamlserializer)
    edited = source.read_text(encoding="utf-8").replace("uri: https://", "uri: https://edited.", 1)
    assert edited != source.read_text(encoding="utf-8")
    copy.write_text(edited, encoding="utf-8")
    replay.preload(cassettes.parent)  # as a judge forked from a zygote that parsed the old text does
    second = replay._PreloadedPersister.load_cassette(str(copy), replay.yamlserializer)
    assert first != second and "edited." in json.dumps(second, default=str)
    copy.unlink()
    replay.preload(cassettes.parent)
    assert copy.resolve() not in replay._preloaded and copy.resolve() not in replay._parsed


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the user-without-root run needs root to create the user")
def test_as_a_user_without_root_judges_are_forked_and_grade_as_interpreters_in_a_block_and_alone(tmp_path: Path):
    from tests.support import platforms

    if not __import__("shutil").which("runuser") or platforms.system_python() is None:
        pytest.skip("running as another user needs runuser and /usr/bin/python3.X")
    user = "grader-student"
    platforms.user(user, sudo=False)
    workspace = platforms.public_folder(Path("/tmp"), f"warm-judges-{os.getpid()}")
    python = platforms.public_venv(platforms.public_folder(workspace, "venv"))
    script = workspace / "probe.py"
    script.write_text(
        "import json, sys\n"
        "from grader import course, rubric\n"
        "from grader.parent import runner, warm_judges\n"
        "forked = []\n"
        "real = warm_judges.Zygote.start\n"
        "def start(self, *a, **k):\n"
        "    s = real(self, *a, **k); forked.append(s.process.pid); return s\n"
        "warm_judges.Zygote.start = start\n"
        "def grade(path):\n"
        "    run = runner.run_child([rubric.load(course.exercise('basic_call'))], submission=path,\n"
        "                           cassettes=course.CASSETTES_DIR, time_limit=300)\n"
        "    return sorted(set(o.status for o in run.outcomes.values()))\n"
        "with runner.warm_workers():\n"
        f"    result = {{'reference': grade(__import__('pathlib').Path({str(REFERENCE)!r})),\n"
        f"              'stubs': grade(__import__('pathlib').Path({str(STUBS)!r}))}}\n"
        "in_block = len(forked)\n"
        "# A plain grade with two judges: both forked from the grade's own warm judge.\n"
        "run = runner.run_child([rubric.load(course.exercise(e)) for e in ('basic_call', 'temperature')],\n"
        f"                       submission=__import__('pathlib').Path({str(REFERENCE)!r}),\n"
        "                       cassettes=course.CASSETTES_DIR, time_limit=300, judges=2)\n"
        "result['two_judges'] = sorted(set(o.status for o in run.outcomes.values()))\n"
        "print(json.dumps({**result, 'forked': in_block, 'forked_alone': len(forked) - in_block}))\n"
    )
    (workspace / "tmp").mkdir(exist_ok=True)
    subprocess.run(["chown", "-R", f"{user}:{user}", str(workspace)], check=True)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": str(workspace / "tmp"),
           "LANG": "C.UTF-8"}  # fmt: skip
    try:
        done = subprocess.run(
            platforms.as_user(user, [str(python), str(script)], env), capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result == {
            "reference": ["passed"], "stubs": ["failed"], "forked": 2, "two_judges": ["passed"], "forked_alone": 2
        }, done.stderr  # fmt: skip
    finally:
        subprocess.run(["rm", "-rf", str(workspace)], check=False)


@pytest.mark.slow
def test_judges_started_side_by_side_from_one_thread_are_all_forked_from_its_zygote(monkeypatch: pytest.MonkeyPatch):
    # GRADER_JUDGES=2 in a batch or watch: one thread starts two groups' judges before waiting for either. The
    # zygote serves both at once, each told its own judge's pid and exit code on a socket of its own.
    monkeypatch.setenv(runner.JUDGES_VARIABLE, "2")
    forked = _counting_forks(monkeypatch)
    interpreters = _counting_interpreters(monkeypatch)
    exercises = ("basic_call", "temperature")
    with runner.warm_workers():
        zygote = warm_judges.for_run(course.SUITES_DIR, course.CASSETTES_DIR)
        assert zygote is not None
        graded = _grade(REFERENCE, exercises)
        assert zygote.serving
        again = _grade(REFERENCE, exercises)
        assert warm_judges.for_run(course.SUITES_DIR, course.CASSETTES_DIR) is zygote
    assert set(graded.values()) == {"passed"} and graded == again
    assert len(forked) == 4 and interpreters == []


def _counting_interpreters(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    interpreters: list[int] = []
    real = processes.start_limited

    def start_limited(*args: Any, **kwargs: Any) -> processes.Limited:
        started = real(*args, **kwargs)
        interpreters.append(started.process.pid)
        return started

    monkeypatch.setattr(processes, "start_limited", start_limited)
    return interpreters


def _counting_zygotes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the zygotes started from now on."""
    zygotes: list[int] = []
    real_init = warm_judges.Zygote.__init__

    def init(self: warm_judges.Zygote, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        zygotes.append(self.process.pid)

    monkeypatch.setattr(warm_judges.Zygote, "__init__", init)
    return zygotes


WAITS = """
import os

def test_waits():
    assert os.read(int(os.environ["PROBE_FD"]), 100) == b"go"
    assert os.environ["PROBE_FAIL"] != "1"
"""


def _waiting_judge(
    zygote: warm_judges.Zygote, folder: Path, *, fail: bool
) -> tuple[processes.Limited, socket.socket]:
    """A judge forked from `zygote` that waits until its socket says "go", then passes (or fails)."""
    folder.mkdir()
    (folder / "test_probe.py").write_text(WAITS)
    ours, theirs = socket.socketpair()
    wanted = 70
    os.dup2(theirs.fileno(), wanted)
    theirs.close()
    env = {"PATH": os.environ["PATH"], "PROBE_FD": str(wanted), "PROBE_FAIL": "1" if fail else "0"}
    command = [sys.executable, "-m", "grader.judge", "-p", "no:cacheprovider", "-q", "--rootdir", str(folder),
               str(folder / "test_probe.py")]  # fmt: skip
    try:
        started = zygote.start(
            processes.Command(
                tuple(command), folder, env, folder / "judge.log", (wanted,), processes.Limits(time_limit=120)
            )
        )
    finally:
        os.close(wanted)
    return started, ours


def test_the_zygote_serves_several_judges_at_once_and_tells_each_its_own_end(zygote, tmp_path: Path):
    """A judge still running holds up no other: the next is forked at once, the one that ends first is told
    first, and each exit code reaches its own judge's starter (not the other's)."""
    first, first_go = _waiting_judge(zygote, tmp_path / "first", fail=False)
    # A zygote serving one judge at a time answers this start only once the first judge has ended, which it
    # never would (it waits for its "go"): the start times out instead.
    second, second_go = _waiting_judge(zygote, tmp_path / "second", fail=True)
    assert first.process.pid != second.process.pid
    second_go.send(b"go")
    assert processes.finish_limited(second) == processes.Ended(1), (tmp_path / "second" / "judge.log").read_text()
    assert first.process.poll() is None  # still waiting: the other's end was not taken for its own
    first_go.send(b"go")
    assert processes.finish_limited(first) == processes.Ended(0), (tmp_path / "first" / "judge.log").read_text()
    first_go.close()
    second_go.close()
    assert procs.children(zygote.process.pid) == []  # both reaped


@pytest.mark.slow
def test_a_grades_parallel_judges_fork_from_one_warm_judge_of_its_own_and_leave_nothing(
    monkeypatch: pytest.MonkeyPatch,
):
    """Outside a batch or watch session, a grade with two judges starts one zygote beside its fork server, forks
    both judges from it, grades as judges started as interpreters do, and ends it with the grade."""
    exercises = ("basic_call", "error_handler", "temperature")
    monkeypatch.setenv(runner.JUDGES_VARIABLE, "2")
    monkeypatch.setenv(warm_judges.SWITCH, "0")
    cold = {name: _grade(path, exercises) for name, path in (("reference", REFERENCE), ("stubs", STUBS))}
    monkeypatch.delenv(warm_judges.SWITCH)
    forked = _counting_forks(monkeypatch)
    interpreters = _counting_interpreters(monkeypatch)
    zygotes = _counting_zygotes(monkeypatch)
    warm = {name: _grade(path, exercises) for name, path in (("reference", REFERENCE), ("stubs", STUBS))}
    assert warm == cold and set(cold["reference"].values()) == {"passed"}
    assert len(zygotes) == 2 and len(forked) == 4 and interpreters == []  # one zygote per grade, both judges forked
    assert not any(Path(f"/proc/{pid}").exists() for pid in zygotes)  # each ended (and was reaped) with its grade


def test_a_grade_interrupted_while_its_zygote_warms_up_starts_no_judge_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
):
    """Ctrl-C before the grade's zygote is warm: the lanes waiting for it give up at once (its socket is shut,
    not held until it is warm) instead of forking judges only to stop them, and no process is left."""
    forked = _counting_forks(monkeypatch)
    interpreters = _counting_interpreters(monkeypatch)
    before = set(procs.children(os.getpid()))
    pending = runner.start_child(
        ["basic_call", "temperature"], submission=REFERENCE, cassettes=course.CASSETTES_DIR, time_limit=300, judges=2
    )
    zygote = pending._zygote
    assert zygote is not None
    # Ctrl-C the moment a lane begins to wait for the zygote's greeting: the zygote (an interpreter importing
    # pytest, the plugin, the cassettes and the suites) is far from warm then.
    real_wait = warm_judges.Zygote._await_ready

    def await_ready(self: warm_judges.Zygote) -> None:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        real_wait(self)

    monkeypatch.setattr(warm_judges.Zygote, "_await_ready", await_ready)
    try:
        with pytest.raises(KeyboardInterrupt):
            pending.finish()
    finally:
        pending.cancel()
    assert not zygote.ready and forked == [] and interpreters == []
    assert zygote.process.poll() is not None and set(procs.children(os.getpid())) <= before


@pytest.mark.slow
def test_a_relief_judge_started_from_a_lanes_thread_forks_from_the_zygote_of_the_grades_thread(
    monkeypatch: pytest.MonkeyPatch,
):
    """In a batch or watch with several judges, a relief (or restarted) judge is started from a lane's thread,
    which may end before it: it must fork from the zygote of the thread that started the grade (which waits for
    the grade), neither from a zygote of the lane's thread (it would die with that thread, killing the judge)
    nor as an interpreter."""
    monkeypatch.setenv(runner.JUDGES_VARIABLE, "2")
    forked = _counting_forks(monkeypatch)
    interpreters = _counting_interpreters(monkeypatch)
    zygotes = _counting_zygotes(monkeypatch)
    with runner.warm_workers():
        pending = runner.start_child(
            ["basic_call", "temperature", "api_keys"], submission=REFERENCE, cassettes=course.CASSETTES_DIR,
            time_limit=300,
        )  # fmt: skip
        try:
            relief = threading.Thread(target=lambda: pending._lanes.append(pending._more()))
            relief.start()
            relief.join()
            assert pending.judges == 3
        finally:
            pending.cancel()  # stops all three judges at once
    assert len(zygotes) == 1 and len(forked) == 3 and interpreters == []
