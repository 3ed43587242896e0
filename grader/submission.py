"""Load a student's submission directory as the package `exercises`, whatever the directory is called."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import traceback
import types
from pathlib import Path

PACKAGE = "exercises"
# The batch gradebook finds an exercise that never loaded by these phrases in its checks' feedback.
NOT_IMPORTED = "The module could not be imported"
NOT_FOUND = "was not found in your submission"
_TIMEOUT_PREFIX = "Timeout (>"  # pytest-timeout's message when it stops a check (here: during the import)


class StudentImportError(BaseException):
    """An exercise module could not be imported; the message is for the student.

    A BaseException, as pytest's own outcomes are: a check's `except Exception` or `pytest.raises(Exception)`,
    written for what the student's function raises, must never take a module that did not import for it.
    """


def install_package(directory: Path) -> None:
    """Register `directory` as the package `exercises` so its modules import from there only.

    The package's own `__init__.py` runs later, on the first exercise import, so that anything
    it does happens inside a check (under its time limit), never while the grader starts.
    """
    for name in _imported:
        sys.modules.pop(name, None)
    _imported.clear()
    if not any(isinstance(finder, _Recorder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Recorder())
    package = types.ModuleType(PACKAGE)
    init = str(directory / "__init__.py")
    # A real package, with a spec and a loader, so correct code finds its own files as anywhere else
    # (`importlib.resources.files(__package__)`, `pkgutil.get_data`). The loader only reads: it never runs
    # __init__.py, which runs later, inside a check (_run_package_init).
    loader = importlib.machinery.SourceFileLoader(PACKAGE, init)
    spec = importlib.machinery.ModuleSpec(PACKAGE, loader, origin=init, is_package=True)
    spec.submodule_search_locations = [str(directory)]
    spec.has_location = True
    package.__spec__, package.__loader__ = spec, loader
    package.__path__ = [str(directory)]
    package.__file__ = init
    package.__package__ = PACKAGE
    sys.modules[PACKAGE] = package
    _imported[PACKAGE] = None


# The package's modules in the order they were first imported. Recorded as they are found, never by a
# scan of sys.modules: in a sandbox forked from a warm server such a scan touches each of the SDKs'
# four thousand modules, and so copies their memory pages, several milliseconds each time.
_imported: dict[str, None] = {}  # an ordered set


class _Recorder:
    """First on sys.meta_path: notes each of the package's modules being imported, finds nothing itself."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name.startswith(PACKAGE + "."):
            _imported.setdefault(name)


def loaded_modules() -> list[types.ModuleType]:
    """The submission's modules imported so far (the package and its submodules, as imported)."""
    return [sys.modules[name] for name in _imported if name in sys.modules]


_init_done: list[bool] = []


def _run_package_init(directory: Path) -> None:
    if _init_done:
        return
    _init_done.append(True)
    init = directory / "__init__.py"
    if init.is_file():
        code = compile(init.read_bytes(), str(init), "exec")
        exec(code, sys.modules[PACKAGE].__dict__)


_failures: dict[str, str] = {}


def load_exercise(exercise_id: str, directory: Path) -> types.ModuleType:
    """Import `exercises.<exercise_id>`; StudentImportError (once per run, then cached) when it fails."""
    if exercise_id in _failures:
        raise StudentImportError(_failures[exercise_id])
    name = f"{PACKAGE}.{exercise_id}"
    if name in sys.modules:
        return sys.modules[name]
    path = directory / f"{exercise_id}.py"
    if not path.is_file():
        message = f"exercises/{exercise_id}.py {NOT_FOUND}; every check of it scores 0."
        _failures[exercise_id] = message
        raise StudentImportError(message)
    try:
        _run_package_init(directory)
        return importlib.import_module(name)
    except BaseException as exc:
        sys.modules.pop(name, None)
        message = describe_import_failure(exc, directory, exercise_id)
        _failures[exercise_id] = message
        raise StudentImportError(message) from None


# What the grading environment holds for a submission (README "What your code may import").
AVAILABLE = "the Python standard library, openai, anthropic and what they bring (httpx2, pydantic, anyio)"


def describe_import_failure(exc: BaseException, directory: Path, exercise_id: str) -> str:
    """'exercises/x.py, line N: ErrorType: message' pointing at the student's own file."""
    where = f"exercises/{exercise_id}.py"
    line: int | None = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = _display(Path(exc.filename), directory)
        line = exc.lineno
    else:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename and _inside(Path(frame.filename), directory):
                where, line = _display(Path(frame.filename), directory), frame.lineno
                break
    if isinstance(exc, SystemExit):
        what = f"the module called sys.exit({exc.code!r}) while being imported"
    elif type(exc).__name__ == "Failed" and str(exc).startswith(_TIMEOUT_PREFIX):
        what = "importing it did not finish within the check's time limit (an endless loop or a wait at the top level?)"
    elif isinstance(exc, SyntaxError):
        what = f"{type(exc).__name__}: {exc.msg}"
    elif isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] != PACKAGE:
        what = (
            f"it imports {exc.name!r}, which is not installed where your code is graded. "
            f"A submission may import {AVAILABLE}"
        )
    else:
        what = f"{type(exc).__name__}: {exc}"
    place = f"{where}, line {line}" if line else where
    return f"{place}: {what}. {NOT_IMPORTED}, so every check of {exercise_id} scores 0."


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def _display(path: Path, directory: Path) -> str:
    if _inside(path, directory):
        return f"exercises/{path.resolve().relative_to(directory.resolve()).as_posix()}"
    return str(path)
