"""The similarity check's cost as a ratio to grading the same class (a benchmark: prints figures, asserts nothing).

Run from the repository root: `python -m tests.bench_similarity [--submissions 200] [--sample 4]`.
The class is made of the reference, the stubs and the known-wrong mutants (tests/wrong), all seven
modules each. Grading is measured on `--sample` of them (`batch -j 1`, whole course, no similarity)
and scaled to the class; the similarity check (unpack, tokenize, fingerprint, compare, write the CSV
and the side-by-side page) runs on the whole class, as `batch` runs it. Goal: under 10% of grading.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import course
from grader.staff import gradebook
from tests.conftest import REFERENCE, STUBS
from tests.test_batch import run_batch
from tests.wrong.catalogue import all_mutants


def build(directory: Path, count: int) -> None:
    """`count` submissions: every mutant once, then references and stubs in turn."""
    directory.mkdir(parents=True)
    made = 0
    for mutant in all_mutants():
        if made == count:
            return
        mutant.write(directory / f"mutant-{mutant.exercise}-{mutant.name}")
        made += 1
    while made < count:
        source = REFERENCE if made % 2 else STUBS
        shutil.copytree(source, directory / f"extra-{made:03d}", ignore=shutil.ignore_patterns("__pycache__"))
        made += 1


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--sample", type=int, default=4, help="submissions graded to estimate the grading time")
    args = parser.parse_args()
    from grader.staff import similarity

    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        work = Path(tmp)
        build(work / "class", args.submissions)
        entries, _ = gradebook.entries(work / "class")
        modules = [e.id for e in course.gradable()]
        cpu, started = _cpu(), time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench-sources-") as sources_dir:
            tokens, sources = similarity.collect(entries, modules, Path(sources_dir))
            result = similarity.analyse(tokens, modules, work / "out", sources=sources, title="bench")
        sim_wall, sim_cpu = time.perf_counter() - started, _cpu() - cpu
        sample = work / "sample"
        sample.mkdir()
        for entry in entries[: args.sample]:
            shutil.copytree(entry.path, sample / entry.name)
        cpu, started = _cpu(), time.perf_counter()
        process = run_batch(sample, work / "sample-out" / "grades.csv", "-j", "1", "--no-similarity", "--no-report",
                            exercises=())  # fmt: skip
        grade_wall, grade_cpu = time.perf_counter() - started, _cpu() - cpu
        if process.returncode != 0:
            raise SystemExit(f"batch failed (exit {process.returncode}):\n{process.stdout}{process.stderr}")
        per = grade_wall / args.sample
        class_wall = per * len(entries)
        print(f"{len(entries)} submissions x {len(modules)} modules, {os.cpu_count()} CPU(s), "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"similarity: {sim_wall:.1f} s wall, {sim_cpu:.1f} CPU s; {len(result.pairs)} pairs flagged")
        print(f"grading: {per:.2f} s per submission (-j 1, {args.sample} graded, {grade_cpu / args.sample:.2f} CPU s "
              f"each) = {class_wall:.0f} s for the class")  # fmt: skip
        print(f"similarity / grading: {sim_wall / class_wall:.3f} wall, "
              f"{sim_cpu / (grade_cpu / args.sample * len(entries)):.3f} CPU (goal < 0.10)")  # fmt: skip


if __name__ == "__main__":
    main()
