"""An adversarial catalogue: hostile or broken submissions never score above their honest score.

Each case adds code to basic_call.py of a submission whose temperature.py is the reference, and
checks that basic_call scores no more than it honestly earns, temperature is still fully graded,
the run ends within its limits, and the feedback says what happened.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import course
from tests.conftest import REFERENCE, STUBS

OUTLIVING_MARKER = f"grader-adversary-{uuid.uuid4().hex}"
PARENT_SECRETS = {"FAKE_SERVICE_API_KEY": "sk-test-parent-secret-4711", "GITHUB_TOKEN": "ghs_test_parent_token_4711"}


def _wrap(function: str, body: str) -> str:
    """Code appended to the module: `function` runs `body` first, then the original."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return (
        f"\n_original_{function} = {function}\n\n\n"
        f"def {function}(*args, **kwargs):\n{indented}\n    return _original_{function}(*args, **kwargs)\n"
    )


@dataclass(frozen=True)
class Case:
    name: str
    base: Path  # where basic_call.py comes from: the stubs (honest score 0) or the reference (10)
    code: str  # appended to basic_call.py
    max_basic_call: int  # the honest score of basic_call with this code
    feedback: str = ""  # text some failed basic_call check must show
    status: str = ""  # a status some basic_call check must have
    # seconds per check: filling memory up to the sandbox's limit (zeroed pages) can take over 2 s on a busy machine
    check_timeout: str = "2"


CASES = [
    Case("sys_exit_at_import", STUBS, "import sys\nsys.exit(0)\n", 0, "sys.exit(0)"),
    Case(
        "monkeypatch_pytest_runtest_at_import",
        STUBS,
        "import _pytest.python\n_pytest.python.Function.runtest = lambda self: None\n",
        0,
    ),
    Case(
        "monkeypatch_grader_outcome_at_import",
        STUBS,
        "import grader.judge.outcomes, grader.scoring\n"
        "grader.judge.outcomes.CheckRecord.outcome = lambda self: grader.scoring.Outcome(self.check_id, 'passed')\n",
        0,
    ),
    Case(
        "fake_result_files_and_score_lines",
        STUBS,
        "import json, os, sys\n"
        "fake = {'schema': 1, 'score': 100, 'max_score': 100, 'exercises': []}\n"
        "for d in (os.getcwd(), os.path.dirname(__file__)):\n"
        "    for name in ('grade-report.json', 'results.json'):\n"
        "        open(os.path.join(d, name), 'w').write(json.dumps(fake))\n"
        "print('Total: 100/100 (100.0%)')\n"
        "print('::notice title=Autograding complete::Points 100/100')\n"
        "sys.stderr.write('basic_call 10/10\\n')\n",
        0,
    ),
    Case(
        "forged_channel_lines",
        STUBS,
        "import json, os\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        target = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n"
        "        continue\n"
        "    if target.endswith('.jsonl'):\n"
        "        with open(target, 'a') as f:\n"
        "            for t in ('test_public.py::test_ask_openai_returns_reply_text',):\n"
        "                payload = json.dumps({'id': 'basic_call/' + t, 'event': 'end', 'status': 'passed'})\n"
        "                f.write(json.dumps({'payload': payload, 'mac': '0' * 64}) + '\\n')\n",
        0,
    ),
    Case(
        "eq_always_true",
        STUBS,
        "class AlwaysEqual(str):\n    def __eq__(self, other): return True\n    __hash__ = str.__hash__\n\n"
        "def ask_openai(*args, **kwargs): return AlwaysEqual('x')\n"
        "def ask_anthropic(*args, **kwargs): return AlwaysEqual('x')\n",
        0,
    ),
    Case("os_exit_in_function", REFERENCE, _wrap("ask_anthropic", "import os\nos._exit(0)"), 3, "process ended"),
    Case("keyboard_interrupt", REFERENCE, _wrap("ask_openai", "raise KeyboardInterrupt"), 4, "KeyboardInterrupt"),
    Case(
        "base_exception_subclass",
        REFERENCE,
        _wrap("ask_openai", "class Boom(BaseException):\n    pass\nraise Boom()"),
        4,
        "Boom",
    ),
    Case("infinite_loop", REFERENCE, _wrap("ask_openai", "while True:\n    pass"), 4, "ran out of time", "timeout"),
    Case(
        "real_sleep_through_saved_reference",
        REFERENCE,
        "import time as _t\n_real_sleep = _t.sleep\n" + _wrap("ask_openai", "_real_sleep(3600)"),
        4,
        "ran out of time",
        "timeout",
    ),
    Case(
        "memory_hog",
        REFERENCE,
        _wrap("ask_openai", "hog = [bytearray(10**8) for _ in range(100)]"),
        4,
        "memory",
        check_timeout="10",
    ),
    Case(
        "recursion_bomb",
        REFERENCE,
        _wrap("ask_openai", "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)"),
        4,
    ),
    Case(
        "environment_secrets_printed",
        REFERENCE,
        _wrap("ask_openai", "import os\nprint(dict(os.environ))\nraise ValueError(repr(dict(os.environ)))"),
        4,
    ),
    Case(
        "outliving_thread_and_process",
        REFERENCE,
        _wrap(
            "ask_openai",
            "import subprocess, threading, time\n"
            "threading.Thread(target=lambda: time.sleep(3600)).start()\n"
            # The marker is the shell's $0, seen in /proc/<pid>/cmdline from outside any sandbox.
            f"subprocess.Popen(['sh', '-c', 'while true; do sleep 0.1; done', '{OUTLIVING_MARKER}'],"
            " start_new_session=True)",
        ),
        10,
    ),
    Case(
        "cassettes_deleted_at_run_time",
        REFERENCE,
        _wrap(
            "ask_openai",
            "import pathlib\n"
            "where = pathlib.Path('@CASSETTES@')\n"
            "for p in where.rglob('*.yaml'):\n"
            "    p.unlink()",
        ),
        10,
    ),
    Case(
        "output_flood_100_mb",
        REFERENCE,
        # Printed output stays in the sandbox (capped there); printing is not wrong, so nothing is lost.
        _wrap("ask_anthropic", "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)"),
        10,
    ),
]


def processes_with(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (seen from outside every sandbox)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _watch_for(marker: str, seen: list[bool], stop: threading.Event) -> None:
    while not stop.wait(0.1):
        if processes_with(marker):
            seen.append(True)
            return


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_submission_scores_no_more_than_its_honest_score(
    grade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case
):
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    basic_call = submission / "basic_call.py"
    cassettes = tmp_path / "cassettes"
    shutil.copytree(course.CASSETTES_DIR, cassettes)
    marker = tmp_path / "marker"
    code = case.code.replace("@MARKER@", str(marker)).replace("@CASSETTES@", str(cassettes))
    basic_call.write_text((case.base / "basic_call.py").read_text() + "\n" + code)
    for name, value in {**PARENT_SECRETS, "ADVERSARY_MARKER": str(marker)}.items():
        monkeypatch.setenv(name, value)

    seen: list[bool] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_for, args=(OUTLIVING_MARKER, seen, stop))
    watcher.start()
    try:
        run = grade(
            submission, "--check-timeout", case.check_timeout, "--time-limit", "240", "--cassettes", str(cassettes)
        )
    finally:
        stop.set()
        watcher.join()
    ended = time.monotonic()

    assert run.returncode == 0, run.output
    basic = run.exercise("basic_call")
    assert basic["score"] <= case.max_basic_call, [(t["id"], t["status"]) for t in basic["tests"]]
    assert run.exercise("temperature")["score"] == 10, run.output
    report_text = (tmp_path / "report.json").read_text()
    for secret in PARENT_SECRETS.values():
        assert secret not in run.output and secret not in report_text
    assert len(run.output) < 200_000, "the terminal output was not bounded"
    failed = [t for t in basic["tests"] if t["status"] != "passed"]
    if case.feedback:
        assert any(case.feedback in t["feedback"] for t in failed), [t["feedback"] for t in failed]
    if case.status:
        assert any(t["status"] == case.status for t in failed)
    if case.name == "outliving_thread_and_process":
        assert seen, "the hostile code did not run"
        while time.monotonic() < ended + 2:
            time.sleep(0.2)
        survivors = processes_with(OUTLIVING_MARKER)
        for pid in survivors:  # never leave one behind, even when the test fails
            os.kill(pid, 9)
        assert not survivors, "a process outlived grading"
    if case.name == "fake_result_files_and_score_lines":
        # basic_call (stubs) scores 0; every other exercise is the reference's, at full marks.
        course_max = sum(e.weight for e in course.gradable())
        assert f"Total: {course_max - 10}/{course_max}" in run.output and "Points 100/100" not in run.output
    assert os.environ.get("ADVERSARY_MARKER") == str(marker)


def test_run_time_limit_keeps_finished_checks_and_writes_the_report(grade, reference_copy: Path):
    temperature = reference_copy / "temperature.py"
    temperature.write_text(temperature.read_text() + "\n" + _wrap("compare_temperatures", "while True:\n    pass"))
    # The per-check limit is longer than the whole run's, so it is the run's limit that stops the loop. Two
    # exercises, so that basic_call is claimed at once by the judge beside temperature's: it needs about 5 s of
    # the 30 even on a loaded machine (with the whole course and 15 s, a busy CI box once ran out first).
    run = grade(reference_copy, "basic_call", "temperature", "--check-timeout", "120", "--time-limit", "30")
    assert run.returncode == 0, run.output
    assert run.exercise("basic_call")["score"] == 10
    statuses = {t["status"] for t in run.exercise("temperature")["tests"]}
    assert "timeout" in statuses
    assert "time limit" in run.output


def test_a_function_that_hung_once_fails_fast_in_its_later_checks(grade, reference_copy: Path):
    """After ask_openai's first timeout, every later check calling it fails at once with the same verdict."""
    basic_call = reference_copy / "basic_call.py"
    basic_call.write_text(basic_call.read_text() + _wrap("ask_openai", "while True:\n    pass"))
    run = grade(reference_copy, "basic_call", "--check-timeout", "2")
    assert run.returncode == 0, run.output
    tests = run.exercise("basic_call")["tests"]
    calling = [t for t in tests if t["status"] == "timeout"]
    ran_out = [t for t in calling if "not run again" not in t["feedback"]]
    fast = [
        t
        for t in calling
        if "ask_openai() ran out of time in an earlier check, so it was not run again" in t["feedback"]
    ]
    assert len(ran_out) == 1, [(t["id"], t["feedback"]) for t in calling]
    assert len(fast) >= 3, [(t["id"], t["feedback"]) for t in calling]
    assert all(t["feedback"].startswith(ran_out[0]["feedback"]) for t in fast)
    # checks of ask_anthropic alone still pass
    assert any(t["status"] == "passed" and "anthropic" in t["id"] for t in tests)


def _timeouts(tests: list[dict], function: str) -> tuple[list[dict], list[dict]]:
    """The checks that ran out of time themselves, and those refused at once because `function` hung before."""
    timed_out = [t for t in tests if t["status"] == "timeout"]
    refused = f"{function}() ran out of time in an earlier check, so it was not run again"
    return [t for t in timed_out if "not run again" not in t["feedback"]], [
        t for t in timed_out if refused in t["feedback"]
    ]


def test_a_generator_that_hangs_when_iterated_fails_fast_in_its_later_checks(grade, reference_copy: Path):
    """stream_openai returns a generator at once and hangs on its first next(): its later checks fail at once."""
    module = reference_copy / "streaming_chat.py"
    module.write_text(
        module.read_text()
        + "\n_original_stream_openai = stream_openai\n\n\n"
        "def stream_openai(*args, **kwargs):\n    while True:\n        pass\n"
        "    yield from _original_stream_openai(*args, **kwargs)\n"
    )
    run = grade(reference_copy, "streaming_chat", "--check-timeout", "2")
    assert run.returncode == 0, run.output
    tests = run.exercise("streaming_chat")["tests"]
    direct = [t for t in tests if "stream_openai" in t["id"]]  # the checks that iterate stream_openai themselves
    ran_out, refused = _timeouts(direct, "stream_openai")
    assert len(direct) >= 2 and len(ran_out) == 1 and len(refused) == len(direct) - 1, [
        (t["id"], t["status"], t["feedback"]) for t in direct
    ]
    first_line = ran_out[0]["feedback"].splitlines()[0]  # the timeout itself; a replay note may follow
    assert all(t["feedback"].startswith(first_line) for t in refused)
    # chat_loop calls stream_openai in the sandbox, so it hangs as a plain call: guarded once too. In all, the
    # exercise spends the time limit at most twice (stream_openai once, chat_loop once).
    everything, _ = _timeouts(tests, "")
    assert len(everything) <= 2, [(t["id"], t["feedback"]) for t in everything]
    assert any(t["status"] == "passed" and "anthropic" in t["id"] for t in tests)


def test_an_async_function_that_never_returns_fails_fast_in_its_later_checks(grade, reference_copy: Path):
    """acall_with_retry returns its coroutine at once and never finishes when awaited: its later checks fail at once."""
    module = reference_copy / "error_handler.py"
    module.write_text(
        module.read_text()
        + "\n_original_acall_with_retry = acall_with_retry\n\n\n"
        "async def acall_with_retry(*args, **kwargs):\n    while True:\n        pass\n"
        "    return await _original_acall_with_retry(*args, **kwargs)\n"
    )
    run = grade(reference_copy, "error_handler", "--check-timeout", "2")
    assert run.returncode == 0, run.output
    tests = run.exercise("error_handler")["tests"]
    ran_out, refused = _timeouts(tests, "acall_with_retry")
    assert len(ran_out) == 1 and len(refused) >= 1, [(t["id"], t["status"], t["feedback"]) for t in tests]
    first_line = ran_out[0]["feedback"].splitlines()[0]  # the timeout itself; a replay note may follow
    assert all(t["feedback"].startswith(first_line) for t in refused)
    assert all("async" in t["id"] for t in ran_out + refused)
    assert all(t["status"] == "passed" for t in tests if "async" not in t["id"])
