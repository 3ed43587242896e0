"""Grading speed figures (printed, never asserted): `python tests/bench_grading.py [--repeat N]`.

- the wall time of a full `python -m grader grade --submission tests/reference`;
- the import floor: `python -c "import pytest, openai, anthropic, vcr, freezegun"`, which every
  grading child pays before its first check;
- error_handler alone: the backoff its suite simulates on the frozen clock next to the real wall
  time of grading it;
- the figure of the trust boundary's goal: a full grade divided by the time a fresh interpreter takes
  to import openai and anthropic (median of each, measured in this run; goal at most 1.5). The judge
  imports no SDK and starts the sandbox at once, so the two processes' start-up overlaps.
- issue 23: the full grade with every sandbox started as its own interpreter (GRADER_FORK_SERVER=0) in
  the same rounds, for an A/B of the fork server, with one judge (GRADER_JUDGES=1) for an A/B of the
  parallel judges, and with each judge started as an interpreter (GRADER_WARM_JUDGE=0) for an A/B of the
  grade's warm judge that both judges fork from; and the wall time of grading a submission whose every
  function loops forever, and one whose every function blocks, at the default settings (goal under 60 s;
  one judge per core; `--no-hangs` leaves them out), printed with the SDK import time of the same run;
- the student's loop: a second `nox -s grade` (environment reused, nothing installed) divided by
  the SDK import time above, median of 5 each; goal at most 2.0. Needs nox in
  the Python given by --nox (the nox bench session passes its own).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grader import course, rubric
from grader.parent import runner, warm_judges

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `tests` is a package of the checkout
from tests.support import hanging  # noqa: E402

REFERENCE = ROOT / "tests" / "reference"
SIMULATED = re.compile(r"grader clock: simulated ([\d.]+) s of waiting in (\d+) sleep")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def full_grade() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", "--submission", str(REFERENCE), "--json", f"{tmp}/r.json"],
            check=True,
            capture_output=True,
            cwd=tmp,
        )


def full_grade_with(variable: str, value: str) -> Callable[[], None]:
    """A full grade with one of the grader's switches set (an A/B in the same rounds)."""

    def run() -> None:
        os.environ[variable] = value
        try:
            full_grade()
        finally:
            os.environ.pop(variable, None)

    return run


full_grade_interpreters = full_grade_with("GRADER_FORK_SERVER", "0")
full_grade_one_judge = full_grade_with(runner.JUDGES_VARIABLE, "1")
full_grade_cold_judges = full_grade_with(warm_judges.SWITCH, "0")


def all_hanging(how: str = "loop") -> float:
    """Wall seconds of grading a submission whose every function and method hangs (tests/support/hanging.py),
    at the default settings: one judge per core, each function its full timeout."""
    with tempfile.TemporaryDirectory() as tmp:
        submission = Path(tmp) / "hanging"
        hanging.write(submission, how=how)
        command = [sys.executable, "-m", "grader", "grade", "--submission", str(submission), "--json", f"{tmp}/r.json"]
        return timed(lambda: subprocess.run(command, check=True, capture_output=True, cwd=tmp))


def import_floor() -> None:
    subprocess.run([sys.executable, "-c", "import pytest, openai, anthropic, vcr, freezegun"], check=True)


def sdk_import() -> None:
    subprocess.run([sys.executable, "-c", "import openai, anthropic"], check=True)


def error_handler_alone() -> tuple[float, float, int]:
    """(wall seconds, simulated seconds, sleeps) of grading error_handler with the reference."""
    loaded = rubric.load(course.exercise("error_handler"))
    start = time.perf_counter()
    run = runner.run_child([loaded], submission=REFERENCE, cassettes=course.CASSETTES_DIR, time_limit=600)
    wall = time.perf_counter() - start
    failed = [o.check_id for o in run.outcomes.values() if o.status != "passed"]
    found = SIMULATED.search(run.output)
    if failed or found is None:
        raise SystemExit(f"error_handler did not grade cleanly (failed: {failed}); child output:\n{run.output}")
    return wall, float(found.group(1)), int(found.group(2))


def nox_grade(nox_python: str) -> Callable[[], None]:
    def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [nox_python, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "grade", "--",
                 "--submission", str(REFERENCE), "--json", f"{tmp}/r.json"],
                check=True,
                capture_output=True,
            )  # fmt: skip

    return run


def describe(label: str, samples: list[float]) -> str:
    return f"{label:<52} median {statistics.median(samples):6.2f} s   min {min(samples):6.2f} s   (n={len(samples)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--no-hangs", action="store_true", help="leave out the all-hanging submission (minutes)")
    parser.add_argument("--nox", metavar="PYTHON", help="a Python with nox installed: also time `nox -s grade`")
    args = parser.parse_args()
    floor: list[float] = []
    sdk: list[float] = []
    full: list[float] = []
    interpreters: list[float] = []
    one_judge: list[float] = []
    cold_judges: list[float] = []
    alone: list[tuple[float, float, int]] = []
    # Round by round, not each measurement's runs in a block: a shared machine's speed drifts, and a
    # ratio of two figures taken minutes apart measures the drift as much as the grader.
    for _ in range(args.repeat):
        floor.append(timed(import_floor))
        sdk.append(timed(sdk_import))
        full.append(timed(full_grade))
        interpreters.append(timed(full_grade_interpreters))
        one_judge.append(timed(full_grade_one_judge))
        cold_judges.append(timed(full_grade_cold_judges))
        alone.append(error_handler_alone())
    print(describe("import floor (pytest, openai, anthropic, vcr, freezegun)", floor))
    print(describe("SDK import (openai, anthropic) in a fresh interpreter", sdk))
    print(describe("full grade of tests/reference (all exercises)", full))
    ratio = statistics.median(full) / statistics.median(sdk)
    print(f"{'full grade / SDK import (goal <= 1.5)':<52} {ratio:13.2f}x")
    print(describe("full grade, one judge (GRADER_JUDGES=1, A/B)", one_judge))
    ratio = statistics.median(one_judge) / statistics.median(sdk)
    print(f"{'  the same / SDK import':<52} {ratio:13.2f}x")
    print(describe("full grade, each judge an interpreter (A/B)", cold_judges))
    ratio = statistics.median(cold_judges) / statistics.median(sdk)
    print(f"{'  the same / SDK import':<52} {ratio:13.2f}x")
    print(describe("full grade, an interpreter per sandbox (A/B)", interpreters))
    ratio = statistics.median(interpreters) / statistics.median(sdk)
    print(f"{'  the same / SDK import':<52} {ratio:13.2f}x")
    if not args.no_hangs:
        sdk_now = timed(sdk_import)
        judges = runner.default_judges(len(course.gradable()), record=False, only=())
        cores = f"{runner.cores()} core(s), {judges} judges"
        for how, what in (("loop", "loops (while True)"), ("block", "blocks (Event.wait)")):
            seconds = all_hanging(how)
            print(f"{f'every function {what}; goal < 60 s':<52} {seconds:6.1f} s (one run; {cores})")
        print(f"{'  SDK import in the same run':<52} {sdk_now:6.2f} s")
    print(describe("error_handler alone: real wall time", [a[0] for a in alone]))
    simulated, sleeps = alone[0][1], alone[0][2]
    print(f"{'error_handler alone: simulated backoff':<52} {simulated:13.2f} s   in {sleeps} sleeps, none real")
    if args.nox:
        loop = nox_grade(args.nox)
        loop()  # the first run may build the environment; the student's loop is every run after it
        second: list[float] = []
        imports: list[float] = []
        for _ in range(5):
            second.append(timed(loop))
            imports.append(timed(sdk_import))
        print(describe("second `nox -s grade` of tests/reference", second))
        print(describe("SDK import, in the same rounds", imports))
        ratio = statistics.median(second) / statistics.median(imports)
        print(f"{'second nox -s grade / SDK import time (goal <= 2.0)':<52} {ratio:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
