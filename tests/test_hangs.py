"""Issue 23, "hangs cost seconds, not minutes": judges share a submission's exercises in parallel (each claims
the next exercise nobody has), sharing one warm fork server; a judge held up by a hanging function gets another
judge beside it for the exercises not yet begun; and the grade is the one a single judge gives.

Behaviour only, never wall-clock: every function that hangs gets its own timeout (named in the feedback), the
checks of its exercise after it fail at once, the score is 0 and nothing is left running; serial and parallel
grading give the same report; a correct function that waits for real still passes while other exercises hang
beside it.
The per-check timeout is lowered here only to keep the suite short; `nox -s bench` times the defaults.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader import course, rubric, scoring
from grader.judge import launch
from grader.judge.link import TIMEOUT_MESSAGE
from grader.parent import grading, report, runner
from grader.sandbox.outside import confinement, forkserver
from tests.conftest import REFERENCE, run_grade
from tests.support import hanging, procs

needs_fork = pytest.mark.skipif(not forkserver.available(), reason="parallel judges share a fork server (Linux)")
NON_ROOT = ("seccomp", "landlock", "rlimits", "session", "env-allowlist")  # a GitHub runner without sudo, a laptop
TIMEOUT = 3.0  # per check: short, so that the ~21 timeouts of an all-hanging submission cost this suite little


def _callables(submission: Path) -> set[str]:
    """What a check can call directly: each module's top-level functions and classes with an __init__."""
    names = set()
    for module in submission.glob("*.py"):
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.ClassDef) and any(
                isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in node.body
            ):
                names.add(node.name)
    return names


def _assert_every_function_timed_out(data: dict[str, Any], submission: Path) -> None:
    assert data["score"] == 0 and data["complete"] is True
    tests = [t for e in data["exercises"] for t in e["tests"]]
    named = set()
    for test in tests:
        # Every check, error_handler's re-raise check too (it catches what the call raises): out of time.
        assert test["status"] == "timeout", test
        assert test["feedback"].startswith(TIMEOUT_MESSAGE), test
        named.add(test["cause"].removesuffix("() ran out of time"))
    # Every function a check calls is named as the one that ran out of time; not one check was a staff error.
    expected = _callables(submission) - {"MissingAPIKeyError", "AllProvidersFailedError"}  # raised, never called
    assert expected <= named, expected - named


@needs_fork
def test_a_submission_whose_every_function_loops_is_graded_zero_each_timeout_named(tmp_path: Path):
    submission = tmp_path / "hanging"
    hanging.write(submission, how="loop")
    run = run_grade(tmp_path, submission, "--check-timeout", f"{TIMEOUT:g}")
    assert run.returncode == 0, run.output
    assert "Grader problem" not in run.output
    assert run.report is not None
    _assert_every_function_timed_out(run.report, submission)


@needs_fork
def test_every_function_blocking_at_the_non_root_level_in_parallel_judges_leaves_nothing_running(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    caps = confinement.Capabilities(NON_ROOT, {"uid": "masked by the test"})
    monkeypatch.setattr(confinement, "probe", lambda: caps)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the run's claims folder is made
    submission = tmp_path / "hanging"
    hanging.write(submission, how="block")
    pending = runner.start_child(
        [e.id for e in course.gradable()], submission=submission, cassettes=course.CASSETTES_DIR,
        time_limit=600, check_timeout=TIMEOUT, judges=2,
    )  # fmt: skip
    assert pending.judges == 2
    try:
        rubrics = [rubric.load(e) for e in course.gradable()]
        run = pending.finish()
    finally:
        pending.cancel()
    result = scoring.grade(rubrics, run.outcomes, missing_status="failed", notes=[])
    data = report.as_json(result)
    _assert_every_function_timed_out(data, submission)
    assert run.sandbox["layers"] == list(NON_ROOT)
    # Held-up judges got more judges beside them: a hang held up its own exercise, not the ones queued after it.
    assert pending.judges > 2
    # No judge, fork server or sandbox outlives grading.
    assert [p for p in procs.descendants(os.getpid()) if procs.alive(p)] == []
    assert list(scratch.iterdir()) == []  # nor the claims folder, nor any judge's run folder


def _grade(submission: Path, judges: int, **kwargs: Any) -> dict[str, Any]:
    result = grading.grade_submission(course.gradable(), submission, time_limit=600, judges=judges, **kwargs)
    return report.as_json(result)


@needs_fork
@pytest.mark.parametrize("which", ["reference", "stubs", "mixed"])
def test_parallel_and_serial_grading_give_the_same_report(tmp_path: Path, which: str):
    if which == "reference":
        submission = REFERENCE
    elif which == "stubs":
        submission = hanging.STUBS
    else:  # correct, stub and hanging exercises, and providers using a hanging token_counter
        submission = tmp_path / "mixed"
        hanging.write(submission, base=REFERENCE, only={"token_counter", "streaming_chat"})
        (submission / "temperature.py").write_text((hanging.STUBS / "temperature.py").read_text())
    serial = _grade(submission, 1, check_timeout=TIMEOUT)
    parallel = _grade(submission, 2, check_timeout=TIMEOUT)
    assert parallel == serial
    scores = {e["id"]: e["score"] for e in serial["exercises"]}
    if which == "reference":
        assert serial["score"] == 100
    elif which == "mixed":
        assert scores["token_counter"] == scores["streaming_chat"] == scores["temperature"] == 0
        assert scores["basic_call"] == 10 and scores["error_handler"] == 25


# The first call waits 3 s for real (select: the frozen clock cannot skip it), then answers as the reference does.
SLOW = '''
import select as _select

_waited = []


def _slow_first_call():
    if not _waited:
        _waited.append(True)
        _select.select([], [], [], 3.0)
'''


@needs_fork
def test_a_correct_but_slow_function_passes_while_other_exercises_hang_in_parallel(tmp_path: Path):
    submission = tmp_path / "slow"
    hanging.write(submission, base=REFERENCE, only={"error_handler", "temperature"}, how="loop")
    module = submission / "basic_call.py"
    text = module.read_text(encoding="utf-8")
    # ask_openai's body starts by calling the slow part (after its docstring, if any).
    function = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "ask_openai")
    first = function.body[1] if ast.get_docstring(function) is not None else function.body[0]
    lines = text.splitlines(keepends=True)
    lines.insert(first.lineno - 1, " " * first.col_offset + "_slow_first_call()\n")
    module.write_text("".join(lines) + SLOW, encoding="utf-8")  # defined after the module's imports, called later
    chosen = [course.exercise(e) for e in ("basic_call", "temperature", "error_handler")]
    # Two judges begin with error_handler and basic_call: the slow call runs beside a hanging exercise.
    assert runner.claim_order([e.id for e in chosen]) == ["error_handler", "basic_call", "temperature"]
    result = grading.grade_submission(chosen, submission, time_limit=600, judges=2)  # the default 10 s per check
    data = report.as_json(result)
    scores = {e["id"]: e["score"] for e in data["exercises"]}
    assert scores == {"basic_call": 10, "temperature": 0, "error_handler": 0}


def test_judges_claim_the_exercises_with_most_checks_first_each_once():
    ids = [e.id for e in course.gradable()]
    order = runner.claim_order(ids)
    assert sorted(order) == sorted(ids)  # each exactly once
    counts = [len(rubric.load(course.exercise(e)).checks) for e in order]
    assert counts == sorted(counts, reverse=True)  # the longest begin at once, the short ones fill in
    assert runner.claim_order(ids[:1]) == ids[:1]


# usage_of hangs on a reply with cache tokens, unless providers' own code calls it (its chat() then works).
CACHE_HANG = """
    import sys as _sys
    import threading as _threading

    _usage = getattr(response, "usage", None)
    _cached = getattr(_usage, "cache_read_input_tokens", 0) or getattr(_usage, "cache_creation_input_tokens", 0)
    if _cached and _sys._getframe(1).f_globals.get("__name__") != "exercises.providers":
        _threading.Event().wait()
"""


@needs_fork
def test_a_function_found_hanging_in_one_exercise_is_tried_afresh_by_another(tmp_path: Path):
    """token_counter's usage_of hangs on some inputs only. providers' checks call it too, on their own inputs:
    they are graded as if token_counter had never been graded before them (by the same judge), so each
    exercise's grade is its own, whichever judge grades what first."""
    submission = tmp_path / "cache-hang"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    module = submission / "token_counter.py"
    text = module.read_text(encoding="utf-8")
    function = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "usage_of")
    first = function.body[1] if ast.get_docstring(function) is not None else function.body[0]
    lines = text.splitlines(keepends=True)
    lines.insert(first.lineno - 1, CACHE_HANG.removeprefix("\n"))
    module.write_text("".join(lines), encoding="utf-8")
    chosen = [course.exercise(e) for e in ("token_counter", "providers")]
    alone = report.as_json(
        grading.grade_submission(chosen[1:], submission, time_limit=600, judges=1, check_timeout=TIMEOUT)
    )
    after = report.as_json(
        grading.grade_submission(chosen, submission, time_limit=600, judges=1, check_timeout=TIMEOUT)
    )
    tests = {e["id"]: e["tests"] for e in after["exercises"]}
    assert any(t["cause"] == "usage_of() ran out of time" for t in tests["token_counter"])  # it did hang there
    # providers graded after token_counter (one judge) is providers graded alone: same checks, same feedback.
    assert after["exercises"][1] == alone["exercises"][0]
    # This check calls usage_of itself, on a reply without cache tokens: it works, and the check passes.
    status = {t["id"].rpartition("::")[2]: t["status"] for t in tests["providers"]}
    assert status["test_chat_joins_several_system_messages"] == "passed"


def test_one_judge_by_default_where_parallel_grading_would_not_pay(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(runner.JUDGES_VARIABLE, raising=False)
    monkeypatch.setattr(runner, "cores", lambda: 1)
    assert runner.default_judges(7, record=False, only=()) == 1
    monkeypatch.setattr(runner, "cores", lambda: 8)
    assert runner.default_judges(7, record=True, only=()) == 1  # recording: trusted code, real keys, one run
    assert runner.default_judges(7, record=False, only=("x",)) == 1  # a -k run: a group might select nothing
    with runner.shared_fork_servers():
        assert runner.default_judges(7, record=False, only=()) == 1  # batch already grades in parallel
    expected = 7 if forkserver.available() else 1
    assert runner.default_judges(7, record=False, only=()) == expected
    monkeypatch.setenv(runner.JUDGES_VARIABLE, "1")
    assert runner.default_judges(7, record=False, only=()) == 1


def _sandbox_process(conn: launch.ForkServer, tmp_path: Path, name: str) -> tuple[launch.Forked, socket.socket]:
    box = tmp_path / name
    policy = confinement.make_policy(
        confinement.Capabilities((), {}), box=box, submission=hanging.STUBS, readable=launch.readable_paths(),
        listable=launch.listable_paths(), env=confinement.environment(box / "home", {}), uid=None,
    )  # fmt: skip
    confinement.prepare_box(policy)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with open(tmp_path / f"{name}.log", "wb") as log:
        forked = conn.fork(policy, theirs, log.fileno())
    theirs.close()
    return forked, ours


@needs_fork
def test_judges_sharing_a_fork_server_reach_only_their_own_sandboxes(tmp_path: Path):
    root = tmp_path / "server"
    (root / "home").mkdir(parents=True)
    server = launch.ForkServer(root, confinement.environment(root / "home", {}))
    try:
        first = launch.ForkServer.attach(server.connect())
        second = launch.ForkServer.attach(server.connect())
        one, one_sock = _sandbox_process(first, tmp_path, "one")
        two, two_sock = _sandbox_process(second, tmp_path, "two")
        assert one.pid != two.pid and procs.alive(one.pid) and procs.alive(two.pid)
        with pytest.raises(launch.ForkServerError, match="no sandbox"):
            second.wait(one.pid)  # another judge's sandbox: not waited for, not reported
        second.reset()  # a judge's reset ends its own sandboxes only
        assert procs.alive(one.pid) and not procs.alive(two.pid)
        # A wait for a sandbox still running does not hold the server up for the other judge.
        waited: list[int] = []
        waiter = threading.Thread(target=lambda: waited.append(first.wait(one.pid)))
        waiter.start()
        three, three_sock = _sandbox_process(second, tmp_path, "three")
        assert procs.alive(three.pid) and waiter.is_alive()
        one_sock.close()  # the sandbox ends when its judge hangs up
        waiter.join(30)
        assert len(waited) == 1 and waited[0] >= 0  # it ended by itself, and was answered once it had
        second.close()  # a judge that ends: the server kills what it forked for it
        for _ in range(100):
            if not procs.alive(three.pid):
                break
            time.sleep(0.05)
        assert not procs.alive(three.pid)
        first.close()
        for sock in (two_sock, three_sock):
            sock.close()
    finally:
        server.close()
    assert not procs.alive(server.process.pid if server.process else 0)


def test_the_merged_run_is_what_one_judge_would_report():
    """The merged run says what one judge says: same sandbox section, outcomes of every group, worst exit."""
    sandbox = {"level": "full", "layers": [], "missing": {}, "start": "fork"}
    first = runner.ChildRun({"a": scoring.Outcome("a", "passed")}, 0, "one", 1, False, sandbox)
    second = runner.ChildRun({"b": scoring.Outcome("b", "timeout")}, 1, "two", 2, True, dict(sandbox))
    merged = runner._merged([first, second])
    assert set(merged.outcomes) == {"a", "b"} and merged.returncode == 1
    assert merged.rejected_records == 3 and merged.hit_time_limit and merged.sandbox == sandbox
    assert merged.output == "one\ntwo"
    crashed = runner._merged([first, runner.ChildRun({}, -9, "", 0, False, sandbox)])
    assert crashed.returncode == -9
    stopped = runner._merged([first, runner.ChildRun({}, None, "", 0, True, sandbox)])
    assert stopped.returncode is None


@needs_fork
def test_ctrl_c_while_parallel_judges_grade_stops_every_one_of_them(tmp_path: Path):
    submission = tmp_path / "hanging"
    hanging.write(submission, how="loop")
    pending = runner.start_child(
        [e.id for e in course.gradable()], submission=submission, cassettes=course.CASSETTES_DIR,
        time_limit=600, check_timeout=60, judges=2,
    )  # fmt: skip
    seen: list[int] = []

    def progress(done: int, running: runner.Running | None) -> None:
        # Checks hang, and more judges have started beside the held-up ones: now the user presses Ctrl-C.
        if pending.judges > 2 and not seen:
            seen.append(done)
            # A real SIGINT, as the terminal sends: it wakes the main thread waiting for the judges.
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()

    try:
        with pytest.raises(KeyboardInterrupt):
            pending.finish(progress)
    finally:
        pending.cancel()
    assert seen and pending.judges > 2
    # No judge, fork server or sandbox goes on after Ctrl-C.
    assert [p for p in procs.descendants(os.getpid()) if procs.alive(p)] == []
