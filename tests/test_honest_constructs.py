"""Issue 20 class 14: correct code that the confinement broke scores as honest code does.

Each construct is added at the top level of one reference module (so it runs when the module is
imported, inside a check): if the sandbox breaks it, every check of that exercise fails. The
reference scores the maximum, so each exercise must still score it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REFERENCE

CONSTRUCTS = {
    # The sandbox's streams behave like real text streams.
    "basic_call": """
import sys as _sys
_sys.stdout.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
_sys.stderr.reconfigure(errors="backslashreplace")
_sys.stdout.buffer.write("bytes through .buffer\\n".encode())
_sys.stdout.buffer.flush()
assert isinstance(_sys.stdout.fileno(), int) and isinstance(_sys.stderr.fileno(), int)
assert _sys.stdout.encoding.lower().replace("-", "") == "utf8" and _sys.stdout.writable()
print("a line", flush=True)
""",
    # `exercises` is a real package, with a spec and a loader.
    "temperature": """
import importlib.resources as _resources, pkgutil as _pkgutil
_own = _resources.files(__package__).joinpath("temperature.py").read_text(encoding="utf-8")
assert "def " in _own
assert b"def " in _pkgutil.get_data(__package__, "temperature.py")
assert __spec__ is not None and __spec__.parent == "exercises"
""",
    # Any multiprocessing primitive (a semaphore needs a writable /dev/shm).
    "token_counter": """
import multiprocessing as _mp
_LOCK = _mp.Lock()
with _LOCK:
    pass
_VALUE = _mp.Value("i", 3)
_EVENT = _mp.Event()
""",
    "api_keys": """
import faulthandler as _faulthandler
_faulthandler.enable()
assert _faulthandler.is_enabled()
""",
    "providers": """
import os as _os, pwd as _pwd
_me = _pwd.getpwuid(_os.getuid())
assert _me.pw_uid == _os.getuid()
""",
}


@pytest.mark.slow
def test_class14_correct_code_the_confinement_used_to_break_scores_full(grade, tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    for module, construct in CONSTRUCTS.items():
        path = submission / f"{module}.py"
        path.write_text(path.read_text() + "\n\n" + construct)
    run = grade(submission, *CONSTRUCTS)
    assert run.returncode == 0, run.output[-3000:]
    scores = {e["id"]: (e["score"], e["max_score"]) for e in run.report["exercises"]} if run.report else {}
    broken = {
        e["id"]: next((t["feedback"][:500] for t in e["tests"] if t["status"] != "passed"), "")
        for e in (run.report or {}).get("exercises", [])
        if e["score"] != e["max_score"]
    }
    assert not broken, (scores, broken)
