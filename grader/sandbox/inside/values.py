"""Values out of the sandbox as plain data, and the judge's arguments back into objects.

Only exact built-in types cross as data (a `str` subclass or an object with a lying `__eq__`
crosses as a handle, which never equals anything it is compared with). The given dataclasses
(`Usage`, `ChatReply`) cross as their fields, the exception classes by their qualified names.
Nothing here calls a method of a student object except `str()` of an exception, which the judge
only ever shows as text.
"""

from __future__ import annotations

import base64
import builtins
import functools
import itertools
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import given as given_material

MAX_ITEMS = 10_000  # per container
MAX_DEPTH = 20
MAX_TEXT = 100_000  # characters of an exception's message
# The given material of the contract (grader/given.py): class name -> (exercise module, field names).
GIVEN = {name: (module, given_material.field_names(cls)) for name, (module, cls) in given_material.REGISTRY.items()}
PUBLIC_PACKAGES = ("openai", "anthropic", "httpx2", "httpcore2")


class Handles:
    """Sandbox objects the judge holds by number; the same object always gets the same number."""

    def __init__(self) -> None:
        self._objects: dict[int, object] = {}
        self._numbers: dict[int, int] = {}

    def put(self, obj: object) -> int:
        number = self._numbers.get(id(obj))
        if number is None or self._objects.get(number) is not obj:
            number = len(self._objects) + 1
            self._objects[number] = obj
            self._numbers[id(obj)] = number
        return number

    def get(self, number: object) -> object:
        if type(number) is not int or number not in self._objects:
            raise LookupError(f"no sandbox object number {number!r}")
        return self._objects[number]

    def clear(self) -> None:
        self._objects.clear()
        self._numbers.clear()


def class_name(cls: type) -> str:
    """`openai.RateLimitError` for a class its package exports at the top, else module.qualname."""
    module = getattr(cls, "__module__", "") or ""
    top = module.split(".")[0]
    if top in PUBLIC_PACKAGES and getattr(sys.modules.get(top), cls.__name__, None) is cls:
        return f"{top}.{cls.__name__}"
    return f"{module}.{cls.__qualname__}"


def class_names(cls: type) -> list[str]:
    return [class_name(c) for c in cls.__mro__ if c is not object]


def _given_class(name: str) -> type | None:
    module_id, _ = GIVEN[name]
    found = getattr(sys.modules.get(f"exercises.{module_id}"), name, None)
    return found if isinstance(found, type) else None


@functools.lru_cache(maxsize=1024)
def _inside(filename: str, submission: Path) -> str | None:
    try:
        return Path(filename).resolve().relative_to(submission).as_posix()
    except (ValueError, OSError):
        return None


def student_frames(exc: BaseException, submission: Path) -> list[list[object]]:
    """(file inside the submission, line, function) of every frame of the submission, innermost last."""
    frames: list[list[object]] = []
    # The frames themselves, not traceback.extract_tb: that reads every file's source lines, never shown.
    for frame, line in itertools.islice(traceback.walk_tb(exc.__traceback__), 200):
        relative = _inside(frame.f_code.co_filename, submission)
        if relative is not None:
            frames.append([f"exercises/{relative}", line, frame.f_code.co_name])
    return frames[-5:]


def _text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException as error:
        text = f"<str() of the exception raised {type(error).__name__}>"
    return text if type(text) is str else "<str() of the exception returned a non-str>"


class Encoder:
    def __init__(self, handles: Handles, submission: Path) -> None:
        self.handles = handles
        self.submission = submission

    def exception(self, exc: BaseException, depth: int = 0) -> dict[str, Any]:
        text = _text(exc)
        cause = exc.__cause__
        return {
            "exc": self.handles.put(exc),
            "mro": class_names(type(exc)),
            "text": text[:MAX_TEXT],
            "where": student_frames(exc, self.submission),
            "cause": self.exception(cause, depth + 1) if isinstance(cause, BaseException) and depth < 5 else None,
        }

    def value(self, obj: object, depth: int = 0) -> Any:
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            return obj if abs(obj) < 2**53 else {"int": str(obj)}  # type: ignore[arg-type]
        if kind is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}  # type: ignore[arg-type]
        if depth > MAX_DEPTH:
            return self._handle(obj)
        if kind is list or kind is tuple:
            items = list(obj)[: MAX_ITEMS + 1]  # type: ignore[call-overload]
            if len(items) > MAX_ITEMS:
                return self._handle(obj)
            return {kind.__name__: [self.value(i, depth + 1) for i in items]}
        if kind is dict:
            pairs = list(obj.items())[: MAX_ITEMS + 1]  # type: ignore[attr-defined]
            if len(pairs) > MAX_ITEMS:
                return self._handle(obj)
            return {"dict": [[self.value(k, depth + 1), self.value(v, depth + 1)] for k, v in pairs]}
        if kind is bytes:
            return {"bytes": base64.b64encode(obj).decode()}  # type: ignore[arg-type]
        name = kind.__name__
        if name in GIVEN and kind is _given_class(name):
            fields = GIVEN[name][1]
            return {"given": name, "fields": {f: self.value(getattr(obj, f, None), depth + 1) for f in fields}}
        if isinstance(obj, BaseException):
            return self.exception(obj)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return {"class": class_names(obj)}
        return self._handle(obj)

    def _handle(self, obj: object) -> dict[str, Any]:
        return {"h": self.handles.put(obj), "type": class_name(type(obj))}


MakeSpecial = Callable[[str, Any], object]


class Decoder:
    """The judge's arguments as objects; `special` builds writers and described calls."""

    def __init__(self, handles: Handles, special: MakeSpecial) -> None:
        self.handles = handles
        self.special = special

    def value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            if isinstance(data, list):
                raise ValueError("a bare JSON list is not a value")
            return data
        if len(data) != 1 and "given" not in data and "new" not in data:
            raise ValueError(f"unknown value shape {sorted(data)}")
        if "list" in data:
            return [self.value(i) for i in data["list"]]
        if "tuple" in data:
            return tuple(self.value(i) for i in data["tuple"])
        if "dict" in data:
            return {self.value(k): self.value(v) for k, v in data["dict"]}
        if "float" in data:
            return float(data["float"])
        if "int" in data:
            return int(data["int"])
        if "bytes" in data:
            return base64.b64decode(data["bytes"])
        if "path" in data:
            return Path(data["path"])
        if "h" in data:
            return self.handles.get(data["h"])
        if "given" in data:
            cls = _given_class(data["given"]) if data["given"] in GIVEN else None
            if cls is None:
                raise LookupError(f"the submission defines no {data['given']} (given material)")
            return cls(**{k: self.value(v) for k, v in data["fields"].items()})
        if "new" in data:
            cls = getattr(builtins, str(data["new"]), None)
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise LookupError(f"{data['new']!r} is not a built-in exception")
            return cls(*[self.value(a) for a in data.get("args", [])])
        kind = next(iter(data))
        return self.special(kind, data[kind])
