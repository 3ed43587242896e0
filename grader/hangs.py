"""A student function that ran out of time once is not run again in this child: its later checks fail at once.

Without this an endless loop costs the per-check timeout in every check that calls the function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

TIMEOUT_PREFIX = "Timeout (>"  # pytest-timeout's message, which the outcome code reads as status `timeout`
_hung: dict[tuple[str, str], str] = {}


class HungBefore(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Raised instead of calling a function that already ran out of time."""

    def __init__(self, function: str) -> None:
        super().__init__(f"{TIMEOUT_PREFIX}) {function} ran out of time in an earlier check", pytrace=False)
        self.function = function


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, pytest.fail.Exception) and str(exc).startswith(TIMEOUT_PREFIX)


def _guard(exercise_id: str, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # the student's traceback is the same as without the guard
        if (exercise_id, name) in _hung:
            raise HungBefore(name)
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            if _is_timeout(exc) and not isinstance(exc, HungBefore):
                _hung[(exercise_id, name)] = str(exc)
            raise

    return guarded


class GuardedExercise:
    """The student's module as the suites see it: plain functions are guarded, everything else is as it is."""

    def __init__(self, module: ModuleType, exercise_id: str) -> None:
        self.__dict__["_module"] = module
        self.__dict__["_exercise_id"] = exercise_id

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        lazy = inspect.isgeneratorfunction(value) or inspect.iscoroutinefunction(value)
        lazy = inspect.isgeneratorfunction(value) or inspect.iscoroutinefunction(value)
        simple = inspect.isfunction(value) and not (lazy or inspect.isasyncgenfunction(value))
        return _guard(self._exercise_id, name, value) if simple else value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._module, name, value)

    def __repr__(self) -> str:
        return f"<exercise {self._exercise_id}>"
