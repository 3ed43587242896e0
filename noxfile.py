"""Sessions: students (grade, live), maintainers (tests, lint), staff (record, validate, export); versions pinned."""

from __future__ import annotations

import nox

nox.options.sessions = ["grade"]
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
CONSTRAINTS = ("-c", "constraints.txt")


@nox.session(python=PYTHON, reuse_venv=True)
def grade(session: nox.Session) -> None:
    """Grade your exercises offline and print the score table (`nox -s grade -- basic_call` for one)."""
    session.install("-e", ".", *CONSTRAINTS, silent=True)
    session.run("python", "-m", "grader", "grade", *session.posargs)


@nox.session(python=PYTHON, reuse_venv=True, default=False)
def live(session: nox.Session) -> None:
    """Run your functions for one exercise against the real APIs with your own keys (`nox -s live -- basic_call`)."""
    session.install("-e", ".", *CONSTRAINTS, silent=True)
    session.run("python", "-m", "grader", "live", *session.posargs)


@nox.session(python=PYTHON, default=False)
def comment(session: nox.Session) -> None:
    """Post the grade report as a pull-request comment, or update the earlier one (CI)."""
    session.install("-e", ".", *CONSTRAINTS, silent=True)
    session.run("python", "-m", "grader", "comment", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the harness's own test suite."""
    session.install("-e", ".[dev,staff]", *CONSTRAINTS)
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style (ruff) and types (mypy)."""
    session.install("-e", ".[dev,staff]", *CONSTRAINTS)
    session.run("ruff", "check", "grader", "tests", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def record(session: nox.Session) -> None:
    """Record an exercise's cassettes from the real APIs through the reference solution (staff)."""
    session.install("-e", ".", *CONSTRAINTS)
    session.run("python", "-m", "grader", "record", *session.posargs)


@nox.session(python=PYTHON, default=False)
def validate(session: nox.Session) -> None:
    """Prove the suites: reference at the maximum, stubs at 0, every known-wrong implementation caught (staff)."""
    session.install("-e", ".", *CONSTRAINTS)
    session.run("python", "-m", "grader", "validate", *session.posargs)


@nox.session(python=PYTHON, default=False)
def export(session: nox.Session) -> None:
    """Write the student distribution into a new directory (staff; `nox -s export -- DIR`)."""
    session.install("-e", ".", *CONSTRAINTS)
    session.run("python", "-m", "grader", "export", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Print grading speed figures: full grade, import floor, error_handler simulated vs real time."""
    session.install("-e", ".", *CONSTRAINTS)
    session.run("python", "tests/bench_grading.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def mutation(session: nox.Session) -> None:
    """Mutation score of the suites: cosmic-ray mutates the reference, one exercise at a time (`-- EXERCISE ...`)."""
    session.install("-e", ".[mutation]", *CONSTRAINTS)
    exercises = session.posargs or ["basic_call", "temperature", "token_counter", "error_handler",
                                    "streaming_chat", "api_keys", "providers"]  # fmt: skip
    session.run("python", "tests/mutation.py", *exercises)
