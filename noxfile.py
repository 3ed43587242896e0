"""Sessions for students (grade), maintainers (tests, lint) and CI; exact versions come from constraints.txt."""

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


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the harness's own test suite."""
    session.install("-e", ".[dev]", *CONSTRAINTS)
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style (ruff) and types (mypy)."""
    session.install("-e", ".[dev]", *CONSTRAINTS)
    session.run("ruff", "check", "grader", "tests", "noxfile.py")
    session.run("mypy")
