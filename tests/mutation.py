"""Mutation score of the suites (staff): cosmic-ray mutates the reference, the grader must catch each mutant.

Usage: python tests/mutation.py EXERCISE [EXERCISE ...] [--workdir DIR] [--minutes M] [--report-only]

For each exercise, a copy of tests/reference/ is mutated one change at a time (the work tree is never
touched) and graded for that exercise alone with `--fail-under 100`: a mutant that still scores full
marks survives. Survivors listed in tests/mutation_equivalent.toml (same exercise and diff) are
equivalent mutants, not gaps; every other survivor is printed with its diff and fails the run.

cosmic-ray runs the pending mutants in random order, so `--minutes M` (stop each exercise after M
minutes; a later run resumes) leaves a uniform random sample done; the summary then says how many
of the mutants it covers, and its kill rate is that sample's.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser before it joined the standard library
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.toml"
# A correct grade of one exercise takes seconds; a mutant that loops forever is killed by this.
TIMEOUT_S = 120.0
# The cosmic-ray installed beside this Python (the mutation venv), whether or not its bin is on PATH.
COSMIC_RAY = shutil.which("cosmic-ray", path=str(Path(sys.executable).parent)) or "cosmic-ray"


def _changed_lines(diff: str) -> tuple[str, ...]:
    """The diff's removed and added lines, stripped: stable across line-number shifts in the reference."""
    return tuple(
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    )


def _equivalents() -> tuple[dict[tuple[str, tuple[str, ...]], str], dict[tuple[str, str], str]]:
    """The listed equivalents: by exact diff, and by source line (every mutant of that line)."""
    entries = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get("equivalent", [])
    by_diff = {(e["exercise"], tuple(e["diff"])): e["reason"] for e in entries if "diff" in e}
    by_line = {(e["exercise"], e["line"].strip()): e["reason"] for e in entries if "line" in e}
    return by_diff, by_line


def _is_equivalent(exercise: str, changed: tuple[str, ...]) -> bool:
    by_diff, by_line = _equivalents()
    removed = [line[1:] for line in changed if line.startswith("-")]
    return (exercise, changed) in by_diff or (len(removed) == 1 and (exercise, removed[0]) in by_line)


def _prepare(exercise: str, workdir: Path) -> Path:
    submission = workdir / "submission"
    if submission.exists():
        shutil.rmtree(submission)
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    command = (
        f"{sys.executable} -m grader grade --submission {submission} {exercise}"
        f" --fail-under 100 --json {workdir / 'report.json'}"
    )
    config = workdir / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{submission / (exercise + ".py")}"\n'
        f"timeout = {TIMEOUT_S}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    return config


def _annotation_lines(module: Path) -> set[int]:
    """Lines of annotations and `if TYPE_CHECKING:` blocks: never evaluated under
    `from __future__ import annotations`, so a mutant there is equivalent by construction."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        annotations: list[ast.AST | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            annotations.append(node)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                lines.update(range(annotation.lineno, annotation.end_lineno + 1))
    return lines


def _skip_annotations(session: Path, module: Path) -> int:
    """Mark the mutants inside annotations as skipped; returns how many."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    lines = _annotation_lines(module)
    skipped = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            mutation = item.mutations[0]
            # Keyword-only markers (`*` to `/`) change only positional calls, which the contract never makes.
            if mutation.start_pos[0] in lines or (mutation.operator_name.endswith("_Mul_Div") and _is_star(
                module, mutation.start_pos
            )):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    return skipped


def _is_star(module: Path, position: tuple[int, int]) -> bool:
    line = module.read_text(encoding="utf-8").splitlines()[position[0] - 1]
    return line.strip() == "*,"


def _exec(config: Path, session: Path, minutes: float | None) -> None:
    """`cosmic-ray exec`, stopped (with the grade it is running) after `minutes` when given."""
    process = subprocess.Popen([COSMIC_RAY, "exec", str(config), str(session)], cwd=ROOT, start_new_session=True)
    try:
        returncode = process.wait(timeout=None if minutes is None else minutes * 60)
    except subprocess.TimeoutExpired:
        # The mutant being graded stays pending; its copy of the reference is fresh on the next run.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        return
    if returncode:
        raise subprocess.CalledProcessError(returncode, process.args)


def _summarise(exercise: str, session: Path) -> tuple[int, int, int, list[str], int]:
    """(mutants, killed, equivalent, unexplained survivor diffs, mutants not run) of a session."""
    from cosmic_ray.work_db import WorkDB, use_db  # staff extra only

    total = killed = equivalent = 0
    unexplained: list[str] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = len(db.pending_work_items)
        for item, result in db.completed_work_items:
            if result.worker_outcome == "skipped":
                continue
            total += 1
            if result.is_killed:
                killed += 1
                continue
            changed = _changed_lines(result.diff or "")
            if _is_equivalent(exercise, changed):
                equivalent += 1
            else:
                mutation = item.mutations[0]
                unexplained.append(
                    f"{mutation.operator_name} #{mutation.occurrence} line {mutation.start_pos[0]}:\n"
                    + "\n".join("    " + line for line in changed)
                )
    return total, killed, equivalent, unexplained, pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="+")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".mutation")
    parser.add_argument("--report-only", action="store_true", help="summarise finished sessions, run nothing")
    parser.add_argument("--minutes", type=float, help="stop each exercise after this long: a random sample")
    args = parser.parse_args(argv)
    failed = False
    for exercise in args.exercises:
        if not (REFERENCE / f"{exercise}.py").is_file():
            parser.error(f"unknown exercise {exercise!r}: no tests/reference/{exercise}.py")
        workdir = (args.workdir / exercise).resolve()
        session = workdir / "session.sqlite"
        if not args.report_only:
            workdir.mkdir(parents=True, exist_ok=True)
            config = _prepare(exercise, workdir)
            if not session.exists():
                subprocess.run([COSMIC_RAY, "init", str(config), str(session)], check=True)
                skipped = _skip_annotations(session, workdir / "submission" / f"{exercise}.py")
                print(f"{exercise}: {skipped} mutants in annotations or keyword-only markers skipped (equivalent)")
            # exec resumes: only pending mutants run, so an interrupted session continues.
            _exec(config, session, args.minutes)
        total, killed, equivalent, unexplained, pending = _summarise(exercise, session)
        rate = 100.0 * killed / (total - equivalent) if total > equivalent else 100.0
        sample = f" (a random sample: {pending} of {total + pending} not run yet)" if pending else ""
        print(f"{exercise}: {total} mutants, {killed} killed, {equivalent} equivalent, "
              f"{len(unexplained)} unexplained survivors; kill rate {rate:.1f}% of non-equivalent{sample}")
        for text in unexplained:
            print("  SURVIVED " + text)
        failed |= bool(unexplained)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
