"""The trust boundary: student code runs in the sandbox process, the checks in the judge.

Attack classes 1-3 of the threat model: forging verdicts in-process, reading the checks or their
expected values, and pointing `exercises` at other code on disk. Each attack is planted in the
package's `__init__.py` (so it runs before any exercise module) of a stub copy, whose honest score
is 0, and of a reference copy, whose honest score is the maximum.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import course
from tests.conftest import REFERENCE, ROOT, STUBS

HIDDEN_SUITE = ROOT / "grader" / "suites" / "basic_call" / "test_hidden.py"

FORGE_IN_PROCESS = """
import gc, sys
try:
    import grader.judge.outcomes, grader.scoring
    grader.judge.outcomes.CheckRecord.outcome = lambda self: grader.scoring.Outcome(self.check_id, "passed")
except Exception:
    pass
try:
    import _pytest.runner, _pytest.python
    _pytest.python.Function.runtest = lambda self: None
    _pytest.runner.call_and_report.__code__ = (lambda *a, **k: None).__code__
except Exception:
    pass
for obj in gc.get_objects():  # the grader's own records of the checks, wherever they are
    if type(obj).__name__ in ("CheckRecord", "Outcome", "PhaseResult", "TestReport", "Grade"):
        try:
            obj.status = "passed"
        except Exception:
            pass
"""

STEAL_FROM_FRAMES = """
import gc, sys

def _expected_somewhere():
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            if name in ("expected", "recorded", "replay") and isinstance(value, str):
                return value
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "choices" in obj and isinstance(obj["choices"], list):
            return obj["choices"][0]["message"]["content"]
    return "nothing found"

def ask_openai(client, prompt, **kwargs):
    return _expected_somewhere()

def ask_anthropic(client, prompt, **kwargs):
    return _expected_somewhere()
"""

READ_SUITES_AND_CASSETTES = """
import pathlib, grader
_root = pathlib.Path(grader.__file__).resolve().parent
_texts = []
_cassettes = sorted((_root.parent / "cassettes").rglob("*.yaml"))[:3]
for _p in [_root / "suites" / "basic_call" / "test_hidden.py", *_cassettes]:
    try:
        _texts.append(_p.read_text()[:400])
    except OSError as _error:
        _texts.append(type(_error).__name__)

def ask_openai(client, prompt, **kwargs):
    raise ValueError(" | ".join(_texts))
"""

POINT_AT_REFERENCE = """
import importlib.util, pathlib, sys, grader
_reference = pathlib.Path(grader.__file__).resolve().parent.parent / "tests" / "reference"
for _name in ("basic_call", "temperature"):
    try:
        _spec = importlib.util.spec_from_file_location(f"exercises.{_name}", _reference / f"{_name}.py")
        _module = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_module)
        sys.modules[f"exercises.{_name}"] = _module
    except Exception:
        pass
sys.path.insert(0, str(_reference))
"""


def _submission(tmp_path: Path, base: Path, init: str) -> Path:
    target = tmp_path / "submission"
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "__init__.py").write_text(init)
    return target


def _basic_and_temperature(run) -> tuple[float, float]:
    return run.exercise("basic_call")["score"], run.exercise("temperature")["score"]


@pytest.mark.slow
@pytest.mark.parametrize("init", [FORGE_IN_PROCESS, POINT_AT_REFERENCE], ids=["forge_in_process", "point_at_reference"])
def test_stub_copy_carrying_the_attack_scores_zero(grade, tmp_path: Path, init: str) -> None:
    submission = _submission(tmp_path, STUBS, init)
    run = grade(submission, "basic_call", "temperature")
    assert run.returncode == 0, run.output
    assert _basic_and_temperature(run) == (0, 0), run.output
    assert run.report is not None and run.report["score"] == 0


@pytest.mark.slow
def test_reference_copy_carrying_the_forgery_keeps_its_honest_score(grade, tmp_path: Path) -> None:
    run = grade(_submission(tmp_path, REFERENCE, FORGE_IN_PROCESS), "basic_call", "temperature")
    assert _basic_and_temperature(run) == (10, 10), run.output


@pytest.mark.slow
def test_expected_values_cannot_be_read_from_the_checks(grade, tmp_path: Path) -> None:
    submission = _submission(tmp_path, REFERENCE, "")
    (submission / "basic_call.py").write_text((STUBS / "basic_call.py").read_text() + STEAL_FROM_FRAMES)
    run = grade(submission, "basic_call")
    assert run.exercise("basic_call")["score"] == 0, run.output


@pytest.mark.slow
def test_suites_and_cassettes_on_disk_are_out_of_reach(grade, tmp_path: Path) -> None:
    submission = _submission(tmp_path, REFERENCE, "")
    (submission / "basic_call.py").write_text((REFERENCE / "basic_call.py").read_text() + READ_SUITES_AND_CASSETTES)
    run = grade(submission, "basic_call")
    hidden_lines = [line.strip() for line in HIDDEN_SUITE.read_text().splitlines() if len(line.strip()) > 30]
    cassette_lines = [
        line.strip()
        for path in sorted(course.CASSETTES_DIR.rglob("*.yaml"))[:3]
        for line in path.read_text().splitlines()[:10]
        if len(line.strip()) > 30
    ]
    everything = run.output + str(run.report)
    leaked = [line for line in hidden_lines + cassette_lines if line in everything]
    assert not leaked, leaked[:3]
    assert "PermissionError" in everything or "FileNotFoundError" in everything, run.output


# The socket to the judge, found as an attacker would: the one AF_UNIX stream among the process's fds
# (through libc, since a Python socket object would trip the sandbox's audit hook).
_JUDGE_FD = (
    "import ctypes, os, socket\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "value, size = ctypes.c_int(0), ctypes.c_uint(4)\n"
    "found = [fd for fd in range(3, 256) if libc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_TYPE,"
    " ctypes.byref(value), ctypes.byref(size)) == 0 and value.value == socket.SOCK_STREAM]\n"
    "assert len(found) == 1, f'SOCKETS {found}'\n"
)
FLOOD_THE_JUDGE = {
    "oversized_frame": _JUDGE_FD + "os.write(found[0], (2**31).to_bytes(4, 'big'))\n",
    "garbage_frame": _JUDGE_FD + "os.write(found[0], (8).to_bytes(4, 'big') + b'not json')\n",
    "endless_log_records": "import logging\nwhile True:\n    logging.getLogger('x').warning('flood')\n",
}
# What the judge says when each attack reaches it (not an error of the attack's own making).
FLOOD_SEEN = {
    "oversized_frame": "broke the grader's protocol",
    "garbage_frame": "broke the grader's protocol",
    "endless_log_records": "",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(FLOOD_THE_JUDGE))
def test_flooding_the_judge_costs_only_the_check(grade, tmp_path: Path, attack: str) -> None:
    """Class 10: a broken or endless stream of messages on the sandbox's socket fails that check only."""
    submission = _submission(tmp_path, REFERENCE, "")
    body = "\n".join("    " + line for line in FLOOD_THE_JUDGE[attack].splitlines())
    module = submission / "basic_call.py"
    wrapper = f"def ask_openai(*args, **kwargs):\n{body}\n    return _original(*args, **kwargs)\n"
    module.write_text(module.read_text() + "\n_original = ask_openai\n\n\n" + wrapper)
    run = grade(submission, "basic_call", "temperature")
    assert run.returncode == 0, run.output
    basic = run.exercise("basic_call")
    assert basic["score"] <= 6, [(t["id"], t["status"]) for t in basic["tests"]]  # the ask_openai checks fail
    failed = [t["feedback"] for t in basic["tests"] if t["status"] != "passed"]
    assert failed and all(FLOOD_SEEN[attack] in feedback for feedback in failed), failed[:2]
    assert not [f for f in failed if "SOCKETS" in f or "IndexError" in f or "ValueError" in f], failed[:2]
    assert run.exercise("temperature")["score"] == 10, run.output
    assert len(run.output) < 200_000
