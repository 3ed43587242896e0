"""Batch throughput: submissions per minute with -j 1 and -j 2 (a benchmark: prints figures, asserts nothing).

Run from the repository root: `python -m tests.bench_batch [--submissions N] [--jobs 1 2] [--all-exercises]`
(by default two exercises, basic_call and temperature; `--all-exercises` grades the whole course, which
is the figure for planning a class on a CI matrix).
The goal on a 2-core machine is -j 2 at least 1.7x as fast as -j 1; other load on the machine
lowers both figures, so the load average is printed beside them.

Issue 23's figure: batch CPU seconds per submission / CPU seconds of importing openai and anthropic in a
fresh interpreter (goal at most 0.6), with each worker's judges forked from one warm zygote and its
sandboxes from one warm fork server, both as the average over the bench's class and as the slope (what each
further submission costs, the figure for a class of hundreds); in the same run for comparison, the same batch with
GRADER_WARM_JUDGE=0 (an interpreter per judge) and, without --cpu-only, GRADER_FORK_SERVER=0 as well. Its floor:
what each further submission costs when it is the unchanged stubs (every function raises at once, so what is
measured is the grading of 86 checks in 14 fresh sandboxes and nothing of a submission's own work).

On a virtual machine, CPU time the host takes from it (steal, in /proc/stat) is charged partly as the system
time of whatever ran: each figure is printed with the steal of its run, and a run with much of it is marked
(the same batch measured 30% higher in such runs here).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REFERENCE, STUBS
from tests.test_batch import EXERCISES, make_class, run_batch


def build(directory: Path, count: int) -> int:
    """At least `count` gradable submissions (references, stubs, mutants, zips) in `directory`."""
    expected = make_class(directory, references=2, stubs=2, mutants_each=4, broken=False)
    extra = 0
    while len(expected) + extra < count:
        shutil.copytree(REFERENCE, directory / f"ref-extra-{extra}", ignore=shutil.ignore_patterns("__pycache__"))
        extra += 1
    return len(expected) + extra


def doubled(directory: Path, into: Path) -> None:
    """`into`: every submission of `directory` twice (the same mix, twice the size)."""
    into.mkdir()
    for entry in directory.iterdir():
        for name in (entry.name, entry.name.replace(entry.stem, f"{entry.stem}-again", 1)):
            if entry.is_dir():
                shutil.copytree(entry, into / name)
            else:
                shutil.copy2(entry, into / name)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sdk_import_cpu() -> float:
    """CPU seconds of `import openai, anthropic` in a fresh interpreter (median of 3)."""
    samples = []
    for _ in range(3):
        before = _children_cpu()
        subprocess.run([sys.executable, "-c", "import openai, anthropic"], check=True)
        samples.append(_children_cpu() - before)
    return statistics.median(samples)


def stubs(directory: Path, count: int) -> None:
    """`count` copies of the unchanged stubs in `directory`."""
    directory.mkdir()
    for i in range(count):
        shutil.copytree(STUBS, directory / f"stub-{i}", ignore=shutil.ignore_patterns("__pycache__"))


def _steal() -> float | None:
    """CPU seconds the host has taken from this machine so far (steal, /proc/stat), or None where unknown."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


STEAL_NOTED = 0.05  # steal above this share of the run's CPU seconds marks its figure as inflated


def steal_note(steal: float | None, cpu: float) -> str:
    """What the host took during a run, as printed beside its figure."""
    if steal is None:
        return "host steal unknown"
    marked = ", inflated: measure again when the host is quieter" if steal > STEAL_NOTED * cpu else ""
    return f"host steal {steal:.1f} s{marked}"


def measure(directory: Path, jobs: int, workdir: Path, exercises: tuple[str, ...]) -> tuple[float, int, float, str]:
    """Wall-clock seconds, rows, CPU seconds (batch process and its children) and the host steal of one batch run."""
    # A folder of its own: a batch refuses to write over a gradebook (and its reports) of other submissions.
    gradebook = Path(tempfile.mkdtemp(prefix=f"run-j{jobs}-", dir=workdir)) / "grades.csv"
    steal_before = _steal()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = run_batch(directory, gradebook, "-j", str(jobs), exercises=exercises)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    steal_after = _steal()
    steal = None if steal_before is None or steal_after is None else steal_after - steal_before
    if process.returncode != 0:
        raise SystemExit(f"batch -j {jobs} failed (exit {process.returncode}):\n{process.stdout}{process.stderr}")
    with gradebook.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if any(r["status"] != "graded" for r in rows):
        raise SystemExit(f"batch -j {jobs}: some submissions were not graded: {gradebook}")
    return elapsed, len(rows), cpu, steal_note(steal, cpu)


def slope(
    label: str, workdir: Path, exercises: tuple[str, ...], sdk: float, *, once: str = "class", goal: str = ""
) -> None:
    """What each further submission costs: the batch of `once` and of `once`-twice (twice as many, the same mix),
    in one run, with what a batch pays once whatever its size."""
    _, rows, cpu, steal = measure(workdir / once, 1, workdir, exercises)
    _, rows_twice, cpu_twice, steal_twice = measure(workdir / f"{once}-twice", 1, workdir, exercises)
    each = (cpu_twice - cpu) / (rows_twice - rows)
    print(
        f"{label}: ({cpu_twice:.1f} - {cpu:.1f} CPU s) / ({rows_twice} - {rows}) = {each:.2f} CPU s / {sdk:.2f} CPU s "
        f"SDK import = {each / sdk:.2f}{goal}; paid once per batch: {cpu - each * rows:.1f} CPU s "
        f"({steal}; {steal_twice})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--all-exercises", action="store_true", help="grade the whole course, not two exercises")
    parser.add_argument("--cpu-only", action="store_true", help="only issue 23's CPU figure (nox -s bench)")
    args = parser.parse_args()
    if args.cpu_only:
        args.jobs = []
    exercises = () if args.all_exercises else EXERCISES
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        workdir = Path(tmp)
        count = build(workdir / "class", args.submissions)
        which = "all exercises" if args.all_exercises else "exercises " + "+".join(EXERCISES)
        print(f"{count} submissions, {which}, {os.cpu_count()} CPU(s)")
        rates: dict[int, float] = {}
        for jobs in args.jobs:
            load_before = os.getloadavg()[0]
            elapsed, rows, cpu, steal = measure(workdir / "class", jobs, workdir, exercises)
            rates[jobs] = rows / elapsed * 60
            # CPU per submission does not depend on other load: equal figures for -j 1 and -j 2 mean
            # parallel workers add no overhead, and the wall-clock speed-up is bounded by free cores.
            print(
                f"-j {jobs}: {rows} rows in {elapsed:.1f} s = {rates[jobs]:.1f} submissions/minute; "
                f"{cpu / rows:.2f} CPU s per submission "
                f"(load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}; {steal})"
            )
        if 1 in rates and 2 in rates:
            print(f"speed-up -j 2 / -j 1: {rates[2] / rates[1]:.2f}x (goal >= 1.7x)")
        # Issue 23: A/B in one run, -j 1, each next to the SDK import's CPU: judges forked from a warm zygote
        # and sandboxes from a warm fork server; judges started as interpreters; (not --cpu-only, about 12 min)
        # an interpreter per sandbox too.
        variants: list[tuple[str, dict[str, str]]] = [
            ("warm judges, fork server", {}),
            ("judge interpreters, fork server", {"GRADER_WARM_JUDGE": "0"}),
        ]
        if not args.cpu_only:
            variants.append(("judge and sandbox interpreters", {"GRADER_WARM_JUDGE": "0", "GRADER_FORK_SERVER": "0"}))
        for label, switches in variants:
            os.environ.update(switches)
            try:
                sdk = sdk_import_cpu()
                _, rows, cpu, steal = measure(workdir / "class", 1, workdir, exercises)
            finally:
                for name in switches:
                    os.environ.pop(name, None)
            print(
                f"{label}: {cpu / rows:.2f} CPU s per submission / {sdk:.2f} CPU s SDK import = "
                f"{cpu / rows / sdk:.2f} (goal <= 0.6; {steal})"
            )
        # A batch also pays once what no submission adds: the fork server's SDK import, the zygote's warm-up,
        # the similarity and the class report (about 10 CPU s). Over 15 submissions that is a fifth of the
        # figure above; over a class of hundreds, nothing. What each further submission costs is the slope:
        # the same mix twice over, less the mix once, in the same run.
        doubled(workdir / "class", workdir / "class-twice")
        sdk = sdk_import_cpu()
        slope("warm judges, fork server, each further submission", workdir, exercises, sdk, goal=" (goal <= 0.6)")
        # The floor under that slope: the same slope for the unchanged stubs, whose every function raises at once.
        # What is left is the grading itself (86 checks, 14 fresh sandboxes), which no submission can make cheaper.
        stubs(workdir / "stubs", 4)
        stubs(workdir / "stubs-twice", 8)
        slope("floor, each further stubs submission", workdir, exercises, sdk, once="stubs")


if __name__ == "__main__":
    main()
