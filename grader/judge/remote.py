"""Sandbox objects as the suites see them: proxies, handles and stand-in exception classes.

`exercise.ask_openai(openai_client, "...")` still reads naturally: `exercise` is a proxy whose
attributes live in the sandbox, `openai_client` a handle naming the sandbox's client. A value
that comes back is plain data (exact built-in types, the given dataclasses rebuilt from
`grader.judge.given`) or a handle; an exception comes back as an instance of a judge-side class
built from the names of its classes, so `pytest.raises(anthropic.AuthenticationError)` works
with the stand-ins of `grader.judge.sdk` and `pytest.raises(ValueError)` with the built-in
itself. The judge never calls a method of a sandbox object: every operation is a message.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any

from grader import gate
from grader.errors import StaffError
from grader.judge import given
from grader.judge.link import TIMEOUT_MESSAGE, SandboxFailure, SandboxLink, SandboxTimeout
from grader.submission import NOT_IMPORTED, StudentImportError

# Built-in bases an exception stand-in may take: never the ones that stop pytest or a generator.
MAX_TEXT = 100_000  # characters of an exception's text or an import error kept (the sandbox caps it too)
_NOT_INHERITED = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit", "StopIteration", "StopAsyncIteration"})


class RemoteError(Exception):
    """An exception raised in the sandbox: its class names, its text, and where in the submission."""

    names: tuple[str, ...] = ()

    def __init__(
        self, text: str, *, names: tuple[str, ...], where: list[tuple[str, int, str]], handle: Remote
    ) -> None:
        super().__init__(text)
        self.text = text
        self.names = names
        self.where = where
        self._handle = handle

    def __str__(self) -> str:
        return self.text

    @property
    def type_name(self) -> str:
        """`anthropic.InternalServerError`, `ValueError`: how the student would write the class."""
        first = self.names[0] if self.names else "Exception"
        if first.startswith(("builtins.", "exercises.")):
            return first.rpartition(".")[2]  # the student's own classes and the built-ins by their plain names
        return first

    @property
    def student_line(self) -> str | None:
        """`exercises/x.py, line 12 (in total_cost)`: a property read long after the call is named as itself."""
        if not self.where:
            return None
        path, line, function = self.where[-1]
        inside = f" (in {function})" if function and function != "<module>" else ""
        return f"{path}, line {line}{inside}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_handle":
            raise AttributeError(name)
        return getattr(self._handle, name)


_standins: dict[str, type[RemoteError]] = {}
_instance_classes: dict[tuple[str, ...], type[RemoteError]] = {}


def _builtin(names: tuple[str, ...]) -> type[BaseException]:
    for name in names:
        module, _, short = name.rpartition(".")
        found = getattr(builtins, short, None) if module == "builtins" else None
        if isinstance(found, type) and issubclass(found, Exception) and short not in _NOT_INHERITED:
            return found
    return Exception


def standin(name: str, names: tuple[str, ...] = ()) -> type[RemoteError]:
    """The judge's class for the sandbox class `name` (`openai.RateLimitError`); one per name."""
    if name.startswith("builtins."):
        found = getattr(builtins, name.removeprefix("builtins."), None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found  # type: ignore[return-value]
    known = _standins.get(name)
    if known is None:
        module, _, short = name.rpartition(".")
        base = _builtin(names[1:]) if names else Exception
        bases: tuple[type, ...] = (RemoteError,) if base is Exception else (RemoteError, base)
        known = type(short, bases, {"__module__": module or "sandbox", "names": (name,)})
        _standins[name] = known
    return known


def _instance_class(names: tuple[str, ...]) -> type[RemoteError]:
    cls = _instance_classes.get(names)
    if cls is None:
        own = [standin(n, names[i:]) for i, n in enumerate(names) if not n.startswith("builtins.")]
        bases: list[type] = list(dict.fromkeys(own)) or [RemoteError]
        base = _builtin(names)
        if base is not Exception and not any(issubclass(b, base) for b in bases):
            bases.append(base)
        short = names[0].rpartition(".")[2] if names else "RemoteError"
        try:
            cls = type(short, tuple(bases), {"__module__": "sandbox"})
        except TypeError:  # an MRO the stand-ins cannot linearise: keep the first class and the built-in
            cls = type(short, (bases[0],) if base is Exception else (bases[0], base), {"__module__": "sandbox"})
        _instance_classes[names] = cls
    return cls


class Remote:
    """A handle to a sandbox object: attributes, items, calls, iteration and await are messages."""

    def __init__(self, session: Session, ref: dict[str, Any], type_name: str) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.ask({"op": "get", "ref": self._ref, "name": name})

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("a check cannot set attributes of a sandbox object")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session = self._session
        return session.ask(
            {"op": "call", "ref": self._ref, "args": [session.encode(a) for a in args],
             "kwargs": {k: session.encode(v) for k, v in kwargs.items()}}
        )  # fmt: skip

    def __getitem__(self, key: Any) -> Any:
        return self._session.ask({"op": "item", "ref": self._ref, "key": self._session.encode(key)})

    def __len__(self) -> int:
        length = self._session.ask({"op": "len", "ref": self._ref})
        if type(length) is not int:
            raise TypeError("len() of a sandbox object gave no int")
        return length

    def __iter__(self) -> Iterator[Any]:
        iterator = self._session.ask({"op": "iter", "ref": self._ref})
        if not isinstance(iterator, Remote):
            raise TypeError("iter() of a sandbox object gave no iterator")
        return _RemoteIterator(iterator)

    def __next__(self) -> Any:
        return self._session.ask({"op": "next", "ref": self._ref})

    def __await__(self) -> Iterator[Any]:
        return self._session.ask({"op": "await", "ref": self._ref})  # type: ignore[no-any-return]
        yield  # a generator: awaiting it asks the sandbox to run the coroutine to its end

    def __repr__(self) -> str:
        return f"<{self._type} object>"


class _RemoteIterator:
    def __init__(self, remote: Remote) -> None:
        self._remote = remote

    def __iter__(self) -> _RemoteIterator:
        return self

    def __next__(self) -> Any:
        return next(self._remote)


class Exercise(Remote):
    """The student's module of one exercise, imported in the sandbox on first use.

    A function whose call ran out of time once is not called again in later checks of the exercise being
    graded: they fail at once with the same status, so an endless loop costs one check's time, not every
    check's. Another exercise's checks (providers calls token_counter's usage_of) find out for themselves, so
    an exercise's grade never depends on which judge graded what before it.
    """

    def __init__(self, session: Session, exercise_id: str) -> None:
        super().__init__(session, {"m": exercise_id}, f"module exercises.{exercise_id}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        exercise = str(self._ref["m"])
        known = self._session.functions.get((self._session.link.starts, exercise, name))
        if known is not None:
            # Named, not fetched: the sandbox looks the function up in the module each time it is used.
            return _Guarded(Remote(self._session, {"attr": [exercise, name]}, known), (exercise, name))
        found = self._session.module_attribute(exercise, name)
        if isinstance(found, Remote) and found._type in _GUARDED:
            self._session.functions[(self._session.link.starts, exercise, name)] = found._type
            return _Guarded(found, (exercise, name))
        return found


# (exercise being graded, exercise of the function, function): calls that ran out of time, by whose grading.
_hung: set[tuple[str, str, str]] = set()
# What a check calls that runs the student's code at once: a function, or a class (its __init__). Only a timeout
# in the call itself marks a class: its instances' methods are other code, and may work.
_GUARDED = ("builtins.function", "builtins.method", "builtins.type")
# What runs the student's code later, when iterated or awaited: a generator, a coroutine, an object of their own class.
# (Not any handle: an SDK client that make_client returned runs the SDK's code.)
_RUNS_LATER = ("builtins.generator", "builtins.coroutine", "builtins.async_generator")


class _Guarded:
    """A student function as the check calls it: refused at once when it ran out of time before.

    What it returns (a generator, a coroutine) runs the function's own code later, when iterated or awaited:
    running out of time there counts as the function's too (`Session.guard`).
    """

    def __init__(self, function: Remote, key: tuple[str, str]) -> None:
        self._function, self._key = function, key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session = self._function._session
        if session.hang_key(self._key) in _hung:
            # Worded as the first timeout plus one sentence, so the terminal groups them as one cause.
            again = SandboxTimeout(
                f"{TIMEOUT_MESSAGE} {self._key[1]}() ran out of time in an earlier check, so it was not run again."
            )
            again.function = self._key[1]
            raise again
        try:
            result = self._function(*args, **kwargs)
        except SandboxTimeout as exc:
            _hung.add(session.hang_key(self._key))
            exc.function = self._key[1]
            raise
        if self._function._type == "builtins.type":
            return result
        if isinstance(result, Remote) and (result._type in _RUNS_LATER or result._type.startswith("exercises.")):
            session.guard(result, self._key)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._function, name)

    @property
    def _ref(self) -> dict[str, Any]:
        ref: dict[str, Any] = self._function._ref
        return ref

    def __repr__(self) -> str:
        return repr(self._function)


@dataclasses.dataclass(eq=False)
class Described:
    """A callable handed to the student, performed in the sandbox: `target(*args, **kwargs)`.

    Every time the student calls it, what it returned or raised is appended here.
    """

    target: Remote
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    consume: bool = False  # read the result to its end (a stream) inside the call, keeping each item's `type`
    on_call: Callable[[], object] | None = None  # told each time the student's code has called it
    returned: list[Any] = dataclasses.field(default_factory=list)
    raised: list[BaseException] = dataclasses.field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.returned) + len(self.raised)

    def __call__(self) -> Any:
        """Performed by the check itself (not counted in `returned` or `raised`)."""
        result = self.target(*self.args, **self.kwargs)
        return [getattr(item, "type", None) for item in result] if self.consume else result


def later(target: Remote, *args: Any, **kwargs: Any) -> Described:
    """`target(*args, **kwargs)` as a callable for the student (for example call_with_retry's fn)."""
    return Described(target, args, kwargs)


def _import_hang(exercise: str) -> str:
    return (
        f"exercises/{exercise}.py: importing it did not finish within the check's time limit (an endless loop or "
        f"a wait at the top level?). {NOT_IMPORTED}, so every check of {exercise} scores 0."
    )


class Session:
    """One sandbox seen from the judge: the link, and the handles of the current check."""

    def __init__(self, link: SandboxLink) -> None:
        self.link = link
        self._objects: dict[int, Any] = {}
        self._specials = 0
        self.hung_imports: dict[str, str] = {}  # exercise -> why: its import never finished
        self._imported: set[tuple[int, str]] = set()  # (sandbox start, exercise) imported there
        # (sandbox start, exercise, name) -> type: module attributes found to be functions in that sandbox
        self.functions: dict[tuple[int, str, str], str] = {}
        self._guards: dict[int, tuple[str, str]] = {}  # handle -> the student function whose result it is

    def begin(self, *, timeout: float, exercise: str, hidden: bool, clock: str | None, seed: str) -> None:
        """Start a check in the sandbox (its clock frozen first, with the exercise imported for it).

        Each exercise and visibility gets a sandbox of its own, fresh from the launcher: one that imported
        another exercise, or saw what a hidden check sent, never serves this check."""
        self.reset()
        phase = (exercise, hidden)
        if self.link.serving != phase:
            self.link.stop()
            self.link.serving = phase
        self.link.start()  # now, so that `starts` below names the sandbox this check runs in
        importing = exercise not in self.hung_imports and (self.link.starts, exercise) not in self._imported
        try:
            self.link.begin(
                timeout=timeout, exercise="" if exercise in self.hung_imports else exercise, clock=clock, seed=seed
            )
        except SandboxTimeout:
            if clock is not None and importing:
                self.hung_imports[exercise] = _import_hang(exercise)
                return  # the check fails at its first use of the exercise, as an import error
            raise

    def module_attribute(self, exercise: str, name: str) -> Any:
        """An attribute of an exercise module, importing it on first use; a hung import fails at once after."""
        if exercise in self.hung_imports:
            raise StudentImportError(self.hung_imports[exercise])
        key = (self.link.starts, exercise)
        try:
            found = self.ask({"op": "get", "ref": {"m": exercise}, "name": name})
        except SandboxTimeout:
            if key in self._imported or self.link.starts != key[0]:
                raise
            self.hung_imports[exercise] = _import_hang(exercise)
            raise StudentImportError(self.hung_imports[exercise]) from None
        self._imported.add(key)
        return found

    def hang_key(self, function: tuple[str, str]) -> tuple[str, str, str]:
        """How `_hung` knows `function` (exercise, name) while the current exercise is graded."""
        graded = self.link.serving[0] if self.link.serving is not None else ""
        return (graded, *function)

    def reset(self) -> None:
        self._objects.clear()
        self._guards.clear()

    def guard(self, value: Any, function: tuple[str, str]) -> None:
        """Count a timeout while `value` (a handle a student function returned) is used as that function's."""
        if isinstance(value, Remote) and isinstance(value._ref.get("h"), int):
            self._guards[value._ref["h"]] = function

    def end(self) -> dict[str, Any] | None:
        """End the check in the sandbox: what it printed (stdout, stderr) and its blocked network attempts."""
        reply = self.link.end()
        if reply is None or "value" not in reply:
            return None
        try:
            ended = self.decode(reply["value"])
        except SandboxFailure:
            return None
        return ended if isinstance(ended, dict) else None

    def client(self, provider: str, *, asynchronous: bool = False) -> Remote:
        found = self.ask({"op": "client", "provider": provider, "async": asynchronous})
        assert isinstance(found, Remote)
        return found

    def sdk(self, type_name: str, data: Any) -> Remote:
        """An SDK reply built in the sandbox from JSON (`openai.ChatCompletion`, `anthropic.Message`, ...)."""
        return self._made({"what": "sdk", "type": type_name, "data": data})

    def plain_object(self) -> Remote:
        """A plain `object()` in the sandbox."""
        return self._made({"what": "object"})

    def kept_list(self, items: list[Any]) -> Remote:
        """A list made in the sandbox from `items` and handed to code by reference: read it back afterwards
        (`list(kept)`) to see whether the code changed its caller's list."""
        return self._made({"what": "list", "items": self.encode(items)})

    def fresh_stdout(self) -> None:
        """Give the sandbox a new sys.stdout for the rest of the check; `stdout()` reads only the new one."""
        self.ask({"op": "fresh_stdout"})

    def raiser(self, error: BaseException) -> Remote:
        """A function in the sandbox that raises `error` when called (hand it to the student with `later`)."""
        return self._made({"what": "raiser", "error": self.encode(error)})

    def seed(self, seed: object) -> None:
        """`random.seed(seed)` in the sandbox, where the student's code draws its jitter."""
        self.ask({"op": "seed", "seed": self.encode(seed)})

    def run(self, awaitable: Any) -> Any:
        """Run a coroutine the student's code returned to its end in the sandbox (`asyncio.run`)."""
        if not isinstance(awaitable, Remote):
            raise TypeError(f"{awaitable!r} is not a sandbox coroutine and cannot be awaited")
        return self.ask({"op": "await", "ref": awaitable._ref})

    def new(self, value: Any) -> Any:
        """`value` (a built-in exception, say) made in the sandbox, so that its identity can be checked."""
        return self.ask({"op": "value", "value": self.encode(value)})

    @contextlib.contextmanager
    def failing_create(self, provider: str, error: Any) -> Iterator[None]:
        """Within the block, the SDK's own create() of `provider` raises `error` (a value made with `new`)."""
        self.ask({"op": "patch", "provider": provider, "error": self.encode(error)})
        try:
            yield
        finally:
            self.ask({"op": "unpatch"})

    def isinstance(self, value: Any, class_name: str) -> bool:
        """`isinstance(value, <class_name>)` asked of the sandbox (`"openai.OpenAI"`); never True for plain data."""
        if not isinstance(value, Remote | RemoteError):
            return False
        return self.ask({"op": "isinstance", "value": self.encode(value), "cls": class_name}) is True

    def stdout(self) -> Any:
        """What the code under test printed to sys.stdout in this check so far (capped)."""
        return self.ask({"op": "stdout"})

    def mkdtemp(self, prefix: str = "check-") -> PurePath:
        """A fresh folder in the sandbox's own space (the judge may not see it: the sandbox's box is private)."""
        found = self.ask({"op": "mkdtemp", "prefix": prefix})
        if type(found) is not str:
            raise SandboxFailure("The process running your code did not make a folder when asked.")
        return PurePath(found)

    def write(self, path: PurePath | str, text: str) -> None:
        """Write a text file in the sandbox (inside a folder from `mkdtemp`)."""
        self.ask({"op": "write", "path": str(path), "text": text})

    def chdir(self, path: PurePath | str) -> None:
        """The sandbox's working directory for the rest of the check (put back when it ends)."""
        self.ask({"op": "chdir", "path": str(path)})

    def setenv(self, name: str, value: str | None) -> bool:
        """Set (or with None, remove) a variable of the sandbox's environment for the rest of the check.

        False when it cannot take effect (TZ on a platform without time.tzset)."""
        return self.ask({"op": "setenv", "name": name, "value": value}) is True

    def _made(self, message: dict[str, Any]) -> Remote:
        found = self.ask({"op": "make", **message})
        assert isinstance(found, Remote)
        return found

    def exercise(self, exercise_id: str) -> Exercise:
        return Exercise(self, exercise_id)

    def ask(self, message: dict[str, Any]) -> Any:
        ref = message.get("ref")
        handle = ref.get("h") if isinstance(ref, dict) else None
        function = self._guards.get(handle) if isinstance(handle, int) else None
        try:
            reply = self.link.request(message)
        except SandboxTimeout as exc:
            if function is not None:  # a guarded function's generator or coroutine hung: the function did
                _hung.add(self.hang_key(function))
                exc.function = function[1]
            raise
        if "value" in reply:
            value = self.decode(reply["value"])
            if function is not None:  # its iterator, a bound method of it: still the function's code
                self.guard(value, function)
            return value
        if "raised" in reply:
            raise self.decode(reply["raised"])
        if "import_error" in reply:
            raise StudentImportError(gate.text(reply["import_error"], MAX_TEXT))
        if reply.get("stop"):
            raise StopIteration
        if "error" in reply:
            raise SandboxFailure(
                f"The process running your code could not do what the check asked: {gate.text(reply['error'], 2_000)}"
            )
        raise SandboxFailure("The process running your code sent an empty reply.")

    # -- values ----------------------------------------------------------------------------------

    def decode(self, data: Any) -> Any:
        if not isinstance(data, dict):
            if isinstance(data, list):
                raise SandboxFailure("The process running your code sent a malformed value.")
            return data
        try:
            return self._decode(data)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SandboxFailure(f"The process running your code sent a malformed value ({exc}).") from None

    def _decode(self, data: dict[str, Any]) -> Any:
        if "list" in data:
            return [self.decode(i) for i in data["list"]]
        if "tuple" in data:
            return tuple(self.decode(i) for i in data["tuple"])
        if "dict" in data:
            return {self.decode(k): self.decode(v) for k, v in data["dict"]}
        if "float" in data:
            return float(str(data["float"]))
        if "int" in data:
            return int(str(data["int"]))
        if "bytes" in data:
            import base64

            return base64.b64decode(str(data["bytes"]))
        if "given" in data:
            cls = given.GIVEN[str(data["given"])]
            fields = {f.name: self.decode(data["fields"][f.name]) for f in dataclasses.fields(cls)}
            return cls(**fields)
        if "class" in data:
            names = tuple(str(n) for n in data["class"])
            return standin(names[0], names)
        if "exc" in data:
            number = int(data["exc"])
            if number not in self._objects:
                names = tuple(str(n) for n in data["mro"])
                where = [
                    (gate.text(f[0], 300), int(f[1]), gate.text(f[2], 300) if len(f) > 2 else "")
                    for f in data.get("where", [])
                ]
                handle = Remote(self, {"h": number}, names[0] if names else "exception")
                # Shown to people (feedback, terminal, --github, CSV): made safe here, once.
                text = gate.text(data["text"], MAX_TEXT)
                error = _instance_class(names)(text, names=names, where=where, handle=handle)
                self._objects[number] = error
                if isinstance(data.get("cause"), dict):
                    error.__cause__ = self.decode(data["cause"])
            return self._objects[number]
        if "h" in data:
            number = int(data["h"])
            if number not in self._objects:
                self._objects[number] = Remote(self, {"h": number}, str(data.get("type", "object")))
            return self._objects[number]
        raise ValueError(f"unknown value shape {sorted(data)}")

    def encode(self, value: Any, depth: int = 0) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"float": repr(value)}
        if depth > 20:
            raise StaffError("a check passed a value nested more than 20 deep to the sandbox")
        if kind in (list, tuple):
            return {kind.__name__: [self.encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if kind is bytes:
            import base64

            return {"bytes": base64.b64encode(value).decode()}
        if isinstance(value, PurePath):
            return {"path": str(value)}
        if isinstance(value, Remote | _Guarded):
            return value._ref
        if isinstance(value, RemoteError):
            return value._handle._ref
        if kind in given.GIVEN.values():
            return {"given": kind.__name__,
                    "fields": {f.name: self.encode(getattr(value, f.name), depth + 1)
                               for f in dataclasses.fields(value)}}  # fmt: skip
        if isinstance(value, Described):
            return {"described": self._described(value)}
        if isinstance(value, BaseException) and type(value).__module__ == "builtins":
            return {"new": kind.__name__, "args": [self.encode(a, depth + 1) for a in value.args]}
        writer = getattr(value, "sandbox_writer", None)
        if callable(writer):
            return {"writer": self._writer(writer)}
        raise StaffError(f"a check passed a {kind.__name__} to the sandbox; only plain data and handles cross")

    def _number(self) -> int:
        self._specials += 1
        return self._specials

    def _described(self, described: Described) -> dict[str, Any]:
        number = self._number()

        def sink(message: dict[str, Any]) -> None:
            if "raised" in message:
                described.raised.append(self.decode(message["raised"]))
            else:
                described.returned.append(self.decode(message.get("returned")))
            if described.on_call is not None:
                described.on_call()

        self.link.events.sinks[("fn", number)] = sink
        return {
            "id": number,
            "ref": described.target._ref,
            "args": [self.encode(a) for a in described.args],
            "kwargs": {k: self.encode(v) for k, v in described.kwargs.items()},
            "consume": described.consume,
        }

    def _writer(self, make: Callable[[], tuple[Callable[[str], Any], Callable[[], Any]]]) -> int:
        number = self._number()
        write, flush = make()
        self.link.events.sinks[("write", number)] = lambda m: write(str(m.get("text", "")))
        self.link.events.sinks[("flush", number)] = lambda m: flush()
        return number
