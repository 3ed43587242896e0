"""Watch mode's figure (printed, never asserted): `python tests/bench_watch.py [--repeat N]`.

Issue 23: in `grade --watch`, from a saved module to the printed total, divided by the time a fresh
interpreter takes to import openai and anthropic (goal at most 0.6). One watch of the whole course on a
copy of the reference; each round saves one exercise's module (each exercise in turn, `--repeat` times
over), times the save to the round's "Total:" line, then times an SDK import while the watch is idle, so
the two figures are taken side by side on a machine whose speed drifts. Also printed: the first round
(the fork server's and the warm judge's start included), each exercise's median (a round grades one
exercise, and those that import it), and what a judge started as an interpreter would add to each round
(importing pytest and the plugin; the warm judge it is forked from has done that, and collected the suites).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader import course

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
HUNG = 900.0  # seconds: a round this long is a broken run, not a slow one


class Watch:
    def __init__(self, submission: Path, report: Path) -> None:
        env = {**{k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "grade", "--watch", "--submission", str(submission), "--json",
             str(report)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
            cwd=report.parent,
        )  # fmt: skip
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line))
        self.lines.put((time.perf_counter(), ""))

    def until(self, prefix: str) -> float:
        """When the next line starting with `prefix` was read."""
        while True:
            at, line = self.lines.get(timeout=HUNG)
            if not line:
                raise SystemExit(f"the watch ended (exit code {self.process.wait()}) before {prefix!r}")
            if line.startswith(prefix):
                return at

    def stop(self) -> None:
        self.process.send_signal(2)  # Ctrl-C
        self.process.wait(timeout=HUNG)


def imported(modules: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the course's exercises (default 1)")
    args = parser.parse_args()
    exercises = [e.id for e in course.gradable()]
    with tempfile.TemporaryDirectory() as tmp:
        submission = Path(tmp) / "submission"
        shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
        began = time.perf_counter()
        watch = Watch(submission, Path(tmp) / "report.json")
        try:
            first = watch.until("Total:") - began
            watch.until("Watching ")
            rounds: dict[str, list[float]] = {e: [] for e in exercises}
            imports: list[float] = []
            judge: list[float] = []  # what a judge started as an interpreter would add to a round
            for n in range(args.repeat):
                for exercise in exercises:
                    module = submission / f"{exercise}.py"
                    text = module.read_text() + f"# saved {n}\n"
                    saved = time.perf_counter()
                    module.write_text(text)
                    rounds[exercise].append(watch.until("Total:") - saved)
                    watch.until("Watching ")
                    imports.append(imported("openai, anthropic"))
                    judge.append(imported("pytest, grader.plugin"))
        finally:
            watch.stop()
    every = [s for samples in rounds.values() for s in samples]
    sdk = statistics.median(imports)
    print(f"{'watch: first round (course, fork server started)':<52} {first:6.2f} s")
    for exercise, samples in rounds.items():
        print(f"{'  saved ' + exercise + '.py to its total':<52} median {statistics.median(samples):6.2f} s")
    print(f"{'watch: saved module to printed total':<52} median {statistics.median(every):6.2f} s   "
          f"max {max(every):6.2f} s   (n={len(every)})")  # fmt: skip
    print(f"{'SDK import (openai, anthropic), in the same rounds':<52} median {sdk:6.2f} s   (n={len(imports)})")
    print(f"{'watch: save to total / SDK import (goal <= 0.6)':<52} {statistics.median(every) / sdk:13.2f}x   "
          f"worst exercise {max(statistics.median(s) for s in rounds.values()) / sdk:.2f}x")  # fmt: skip
    print(f"{'judge start-up (pytest, the plugin), same rounds':<52} median {statistics.median(judge):6.2f} s   "
          "(saved each round: judges are forked from a warm judge)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
