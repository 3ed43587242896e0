"""Sessions: students (grade, live), maintainers (tests, lint), staff (record, validate, export, gradescope)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import nox
import nox.virtualenv
from packaging.version import Version

nox.options.sessions = ["grade"]
# uv when it is there (fast); virtualenv otherwise, and nox is told so once instead of probing for uv
# (and printing "uv binary not found.") on every run.
HAS_UV = shutil.which("uv") is not None or importlib.util.find_spec("uv") is not None
nox.options.default_venv_backend = "uv" if HAS_UV else "virtualenv"
if not HAS_UV:
    nox.virtualenv.HAS_UV, nox.virtualenv.UV, nox.virtualenv.UV_VERSION = False, "uv", Version("0")
nox.options.reuse_existing_virtualenvs = True
# A session whose Python is missing fails (exit 1) instead of being skipped with exit 0.
nox.options.error_on_missing_interpreters = True

# Newest first. 3.10 has pins of its own: the newest vcrpy (9.x), httpx2 (2.16) and some dev tools need 3.11.
SUPPORTED = ("3.13", "3.12", "3.11", "3.10")
CONSTRAINTS = {"3.10": "constraints-3.10.txt"}  # by Python X.Y; every other supported Python: constraints.txt
ROOT = Path(__file__).resolve().parent


def course_module() -> ModuleType:
    """grader/course.py, read from the checkout: the only place that lists the exercises (nox's own Python
    need not have the grader installed, and course.py imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("grader_course_for_nox", ROOT / "grader" / "course.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def constraints_for(version: str) -> str:
    """The constraints file that pins every install on Python `version` (X.Y)."""
    return CONSTRAINTS.get(version, "constraints.txt")


def _found(version: str) -> bool:
    """An interpreter for `version` that really starts (a pyenv shim may name one it cannot run)."""
    if sys.platform == "win32" and shutil.which("py"):  # the Windows launcher knows every installed Python
        command = ["py", f"-{version}", "-c", ""]
    elif found := shutil.which(f"python{version}"):
        command = [found, "-c", ""]
    else:
        return False
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def grading_python(
    running: tuple[int, int] = (sys.version_info[0], sys.version_info[1]), found: Callable[[str], bool] = _found
) -> str | bool | None:
    """None: the Python running nox; else the newest supported one found; False when there is none."""
    if f"{running[0]}.{running[1]}" in SUPPORTED:
        return None
    return next((version for version in SUPPORTED if found(version)), False)


PYTHON = grading_python()
NO_PYTHON = (
    f"Grading needs Python {SUPPORTED[-1]} to {SUPPORTED[0]}; nox runs on {sys.version.split()[0]} and no "
    f"{', '.join(f'python{v}' for v in SUPPORTED[:-1])} or python{SUPPORTED[-1]} was found on PATH. Install one "
    "(python.org, your package manager, pyenv, or `uv python install 3.13`), then run `nox -s grade` again."
)


def venv_python_version(session: nox.Session) -> str:
    """X.Y of the session's own interpreter (nox may have been given one by path: `-P /usr/bin/python3.12`)."""
    python = shutil.which("python", path=session.bin) or "python"
    found = subprocess.run([python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return found.stdout.strip()


STAMP = ".grader-install-stamp"


def install_stamp(args: tuple[str, ...], constraints: str) -> str:
    """What an environment's stamp holds when it has `args` installed under `constraints` as they are now."""
    digest = hashlib.sha256(repr((args, constraints)).encode())
    for name in ("pyproject.toml", constraints):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def install(session: nox.Session, *args: str) -> None:
    """Install the project unless pyproject.toml, the constraints and the arguments are what the venv already has."""
    if PYTHON is False:
        session.error(NO_PYTHON)
    constraints = constraints_for(venv_python_version(session))
    digest = install_stamp(args, constraints)
    stamp = Path(session.virtualenv.location) / STAMP
    if stamp.is_file() and stamp.read_text() == digest:
        session.log(f"Environment up to date (pyproject.toml and {constraints} unchanged): nothing to install.")
        return
    session.install(*args, "-c", constraints, silent=True)
    stamp.write_text(digest)


@nox.session(python=PYTHON, reuse_venv=True)
def grade(session: nox.Session) -> None:
    """Grade your exercises offline and print the score table (`nox -s grade -- basic_call` for one)."""
    install(session, "-e", ".")
    # On Ctrl-C nox waits this long for the grader to end its judge, fork server and sandboxes (`--watch` ends
    # with exit code 130) before it sends SIGTERM, then SIGKILL; its default, 0.3 s, can cut that clean-up short.
    session.run("python", "-m", "grader", "grade", *session.posargs, interrupt_timeout=30.0)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def live(session: nox.Session) -> None:
    """Run your functions for one exercise against the real APIs with your own keys (`nox -s live -- basic_call`)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "live", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def comment(session: nox.Session) -> None:
    """Post the grade report as a pull-request comment, or update the earlier one (CI)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "comment", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True)
def tests(session: nox.Session) -> None:
    """Run the harness's own test suite."""
    install(session, "-e", ".[dev,staff]")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True)
def lint(session: nox.Session) -> None:
    """Check style (ruff) and types (mypy)."""
    install(session, "-e", ".[dev,staff]")
    session.run("ruff", "check", "grader", "tests", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def record(session: nox.Session) -> None:
    """Record an exercise's cassettes from the real APIs through the reference solution (staff)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "record", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False, name="new-exercise")
def new_exercise(session: nox.Session) -> None:
    """Scaffold a new exercise: `nox -s new-exercise -- NAME "Title" --points N` (staff)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "new-exercise", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def validate(session: nox.Session) -> None:
    """Prove the suites: reference at the maximum, stubs at 0, every known-wrong implementation caught (staff)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "validate", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def export(session: nox.Session) -> None:
    """Write the student template repository into a new directory (staff; `nox -s export -- DIR`)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "export", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def gradescope(session: nox.Session) -> None:
    """Build Gradescope's autograder.zip into dist/gradescope/ (staff)."""
    install(session, "-e", ".")
    session.run("python", "-m", "grader", "gradescope", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def bench(session: nox.Session) -> None:
    """Print speed figures: full grade, import floor, second `nox -s grade`, error_handler simulated time, a
    `grade --watch` round (saved module to total), the similarity check's cost on a class of 200 as a ratio
    to grading it, and batch CPU per submission."""
    install(session, "-e", ".[staff]")  # the similarity check needs copydetect; grading imports none of it
    session.run("python", "tests/bench_grading.py", "--nox", sys.executable, *session.posargs)
    session.run("python", "tests/bench_watch.py")
    session.run("python", "tests/bench_similarity.py")
    # Issue 23: batch CPU per submission / SDK import CPU, fork server on and off (a few submissions suffice).
    session.run("python", "-m", "tests.bench_batch", "--submissions", "4", "--all-exercises", "--cpu-only")


@nox.session(python=PYTHON, default=False)
def mutation(session: nox.Session) -> None:
    """Mutation score of the suites: cosmic-ray mutates the reference, one exercise at a time (`-- EXERCISE ...`)."""
    install(session, "-e", ".[mutation]")
    exercises = session.posargs or [e.id for e in course_module().COURSE]
    session.run("python", "tests/mutation.py", *exercises)
