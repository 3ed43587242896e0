"""The sandbox's main loop: import the submission, perform what the judge asks, report behaviour.

Everything the judge learns crosses the socket as plain data: values returned, exceptions
raised, output written, log records, sleeps on the frozen clock, and the HTTP requests the SDK
clients send (see transport.py). Nothing this process says is trusted: the judge decides every
verdict from what it served and what came back, so a submission that rewrites this module can
only change what it is seen to do, which it could do honestly anyway.
"""

from __future__ import annotations

import asyncio
import codecs
import gc
import importlib
import inspect
import io
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from grader import submission, wire
from grader.sandbox.inside import network, transport
from grader.sandbox.inside.values import Decoder, Encoder, Handles

OUTPUT_CAP = 200_000  # characters of stdout or stderr kept per check
LOG_CAP = 1_000  # log records kept per check
PROVIDERS = ("openai", "anthropic")
# What the SDKs import on a client's first use: loaded at start-up with the SDKs, before the freeze.
_FIRST_USE = (
    "openai.resources.chat.chat",
    "openai.resources.chat.completions.completions",
    "openai.lib.streaming.chat",
    "openai.pagination",
    "opentelemetry.propagate",
)


class _Link:
    """The socket to the judge; student threads may make requests too, so one exchange at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.RLock()

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            wire.send(self.sock, message)
            return wire.receive(self.sock)

    def notify(self, message: dict[str, Any]) -> None:
        with self._lock:
            wire.send(self.sock, message)


class _Capture(io.TextIOBase):
    """sys.stdout / sys.stderr of a check: kept (capped) for the judge, which looks for leaked keys.

    It behaves as the real text stream does for correct code: `reconfigure(...)`, `.buffer` (bytes written
    there are kept as UTF-8 text), `.encoding`, and `.fileno()`, the sandbox's own descriptor (its log
    file, never the judge's output), which `faulthandler.enable()` and subprocesses need.
    """

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.parts: list[str] = []
        self.size = 0
        self._fd = fd
        self._errors = "strict"
        self.line_buffering = False
        self.write_through = False
        self.buffer = _CaptureBuffer(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return self._errors

    def reconfigure(
        self,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        line_buffering: bool | None = None,
        write_through: bool | None = None,
    ) -> None:
        """As TextIOWrapper's: bad names raise as there; what is kept is text, so the rest changes nothing in it."""
        if encoding is not None:
            codecs.lookup(encoding)
        if errors is not None:
            codecs.lookup_error(errors)
            self._errors = errors
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline!r}")
        if line_buffering is not None:
            self.line_buffering = bool(line_buffering)
        if write_through is not None:
            self.write_through = bool(write_through)

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if type(s) is not str:
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self.size < OUTPUT_CAP:
            self.parts.append(s[: OUTPUT_CAP - self.size])
            self.size += len(self.parts[-1])
        return len(s)

    def writable(self) -> bool:
        return True

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        self.size = 0
        return text


class _CaptureBuffer(io.BufferedIOBase):
    """`sys.stdout.buffer`: bytes written here join the captured text (as UTF-8, undecodable bytes replaced)."""

    def __init__(self, text: _Capture) -> None:
        self._text = text

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()


class _KeptList(list):  # type: ignore[type-arg]
    """A list a check hands in and reads back afterwards: a subclass, so it crosses the boundary as a handle."""


class _Writer(io.TextIOBase):
    """An `out` the judge handed in: every write and flush is reported as it happens."""

    def __init__(self, link: _Link, number: int) -> None:
        self._link, self._number = link, number

    def write(self, s: str) -> int:
        if type(s) is not str:
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self._link.notify({"op": "event", "ev": "write", "id": self._number, "text": s})
        return len(s)

    def flush(self) -> None:
        self._link.notify({"op": "event", "ev": "flush", "id": self._number})

    def writable(self) -> bool:
        return True


class _Logs(logging.Handler):
    """Every log record that reaches the root logger, reported as it is emitted (capped per check)."""

    def __init__(self, link: _Link) -> None:
        super().__init__(logging.NOTSET)
        self.link = link
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.count >= LOG_CAP:
            return
        self.count += 1
        try:
            message = record.getMessage()
        except Exception as error:
            message = f"<the log message could not be formatted: {type(error).__name__}>"
        if record.exc_info and record.exc_info[1] is not None:
            message += "\n" + _chain_text(record.exc_info[1])
        self.link.notify({"op": "event", "ev": "log", "name": record.name, "levelno": record.levelno,
                          "message": message[:OUTPUT_CAP]})  # fmt: skip


def _chain_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 10:
        seen.add(id(current))
        try:
            parts.append(f"{type(current).__name__}: {current}")
        except Exception:
            parts.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


class Runtime:
    def __init__(self, link: _Link, directory: Path) -> None:
        self.link = link
        self.directory = directory
        self.handles = Handles()
        self.encoder = Encoder(self.handles, directory)
        self.decoder = Decoder(self.handles, self._special)
        self.stdout, self.stderr = _Capture("<stdout>", 1), _Capture("<stderr>", 2)
        self.retired: list[_Capture] = []  # earlier sys.stdout objects that code may still hold and write to
        self.logs = _Logs(link)
        self.clock: AbstractContextManager[Any] | None = None
        self.home = Path.cwd()
        self.saved_env: dict[str, str | None] = {}
        self.clients: list[Any] = []
        self.patches: list[tuple[Any, str, Any]] = []

    # -- what the judge can ask --------------------------------------------------------------

    def op_begin(self, message: dict[str, Any]) -> Any:
        self._printed(), self.stderr.take()
        self.logs.count = 0
        network.drain()
        if message.get("clock"):
            from grader import clock

            exercise = str(message.get("exercise", ""))
            try:
                submission.load_exercise(exercise, self.directory)  # so its bound sleeps are replaced too
            except submission.StudentImportError:
                pass  # reported by the first call the check makes
            self.clock = clock.frozen(
                str(message["clock"]), modules=submission.loaded_modules(), seed=str(message.get("seed"))
            )
            frozen = self.clock.__enter__()
            record = frozen._record

            def reporting(seconds: float, via: str) -> None:
                self.link.notify({"op": "event", "ev": "sleep", "seconds": _number(seconds), "via": via,
                                  "at": frozen.now()})  # fmt: skip
                record(seconds, via)

            frozen._record = reporting  # type: ignore[method-assign]
        return None

    def op_end(self, message: dict[str, Any]) -> Any:
        self.op_unpatch(message)
        if self.clock is not None:
            clock, self.clock = self.clock, None
            clock.__exit__(None, None, None)
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if "TZ" in self.saved_env:
            _tzset()
        self.saved_env.clear()
        os.chdir(self.home)
        self.handles.clear()
        return {"stdout": self._printed(), "stderr": self.stderr.take(), "network": network.drain()}

    def _printed(self) -> str:
        """Everything printed since the last call, to the current sys.stdout or one that code kept from before."""
        return "".join(capture.take() for capture in (*self.retired, self.stdout))

    def op_stdout(self, message: dict[str, Any]) -> Any:
        """What the check's code printed to sys.stdout so far (kept for the leak guard too)."""
        return "".join(self.stdout.parts)

    def op_fresh_stdout(self, message: dict[str, Any]) -> Any:
        """A new sys.stdout from now on, so that code which bound the old one earlier is seen writing elsewhere."""
        self.retired.append(self.stdout)
        self.stdout = _Capture("<stdout>", 1)
        sys.stdout = self.stdout
        return None

    def op_get(self, message: dict[str, Any]) -> Any:
        return getattr(self._ref(message["ref"]), str(message["name"]))

    def op_call(self, message: dict[str, Any]) -> Any:
        target = self._ref(message["ref"])
        args = [self.decoder.value(a) for a in message.get("args", [])]
        kwargs = {str(k): self.decoder.value(v) for k, v in message.get("kwargs", {}).items()}
        return target(*args, **kwargs)  # type: ignore[operator]

    def op_item(self, message: dict[str, Any]) -> Any:
        return self._ref(message["ref"])[self.decoder.value(message["key"])]  # type: ignore[index]

    def op_len(self, message: dict[str, Any]) -> Any:
        return len(self._ref(message["ref"]))  # type: ignore[arg-type]

    def op_iter(self, message: dict[str, Any]) -> Any:
        return _Opaque(iter(self._ref(message["ref"])))  # type: ignore[call-overload]

    def op_next(self, message: dict[str, Any]) -> Any:
        return next(self._ref(message["ref"]))  # type: ignore[call-overload]

    def op_await(self, message: dict[str, Any]) -> Any:
        awaitable = self._ref(message["ref"])
        if not inspect.isawaitable(awaitable):
            raise TypeError(f"object {type(awaitable).__name__} can't be used in 'await' expression")

        async def run() -> Any:
            return await awaitable

        return asyncio.run(run())

    def op_client(self, message: dict[str, Any]) -> Any:
        provider, asynchronous = str(message["provider"]), bool(message.get("async"))
        if provider not in PROVIDERS:
            raise ValueError(f"no client for {provider!r}")
        import anthropic
        import openai

        sdk: Any = openai if provider == "openai" else anthropic
        cls = (sdk.AsyncOpenAI if asynchronous else sdk.OpenAI) if provider == "openai" else (
            sdk.AsyncAnthropic if asynchronous else sdk.Anthropic)  # fmt: skip
        client = cls(api_key=os.environ.get(f"{provider.upper()}_API_KEY", ""), max_retries=0)
        self.clients.append(client)
        return client

    def op_make(self, message: dict[str, Any]) -> Any:
        """Objects a check needs in the sandbox: a plain object, an SDK reply from JSON, a client that raises."""
        what = message.get("what")
        if what == "object":
            return object()
        if what == "list":
            return _KeptList(self.decoder.value(message["items"]))
        if what == "sdk":
            return _sdk_type(str(message["type"])).model_validate(message["data"])
        if what == "raiser":
            failure = self.decoder.value(message["error"])
            if not isinstance(failure, BaseException):
                raise TypeError("a raiser needs an exception")

            def raiser() -> Any:
                raise failure

            return raiser
        raise ValueError(f"cannot make {what!r}")

    def op_patch(self, message: dict[str, Any]) -> Any:
        """Make the SDK's own create() raise a bug's exception for every client (undone by unpatch or the end)."""
        error = self.decoder.value(message["error"])
        if not isinstance(error, BaseException):
            raise TypeError("a failing create() needs an exception")
        resource: Any
        if message.get("provider") == "anthropic":
            from anthropic.resources.messages import Messages as resource
        else:
            from openai.resources.chat.completions import Completions as resource

        def create(*args: Any, **kwargs: Any) -> Any:
            raise error

        self.patches.append((resource, "create", resource.__dict__["create"]))
        resource.create = create
        return None

    def op_unpatch(self, message: dict[str, Any]) -> Any:
        while self.patches:
            owner, name, original = self.patches.pop()
            setattr(owner, name, original)
        return None

    def op_isinstance(self, message: dict[str, Any]) -> Any:
        """Whether a sandbox object is an instance of a class named by its public name (`openai.OpenAI`)."""
        package, _, name = str(message["cls"]).partition(".")
        if package not in ("openai", "anthropic", "httpx2", "builtins"):
            raise ValueError(f"unknown class {message['cls']!r}")
        cls = getattr(__import__(package), name)
        return isinstance(self.decoder.value(message["value"]), cls)

    def op_seed(self, message: dict[str, Any]) -> Any:
        import random

        random.seed(message.get("seed"))
        return None

    def op_value(self, message: dict[str, Any]) -> Any:
        """The judge's value rebuilt here (an exception, say), so that it gets a handle."""
        return self.decoder.value(message["value"])

    def op_mkdtemp(self, message: dict[str, Any]) -> Any:
        """A fresh folder in the sandbox's own space (its home), for files a check hands to the student."""
        import tempfile

        return tempfile.mkdtemp(prefix=str(message.get("prefix", "check-"))[:40], dir=Path.home())

    def op_write(self, message: dict[str, Any]) -> Any:
        """Write a text file for the check (a .env, say), where the sandbox can read it."""
        Path(str(message["path"])).write_text(str(message["text"]), encoding="utf-8")
        return None

    def op_chdir(self, message: dict[str, Any]) -> Any:
        os.chdir(str(message["path"]))
        return None

    def op_setenv(self, message: dict[str, Any]) -> Any:
        """Set or remove a variable for the rest of the check; True when it took effect (TZ needs tzset)."""
        name, value = str(message["name"]), message.get("value")
        self.saved_env.setdefault(name, os.environ.get(name))
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)
        return _tzset() if name == "TZ" else True

    # -- plumbing -------------------------------------------------------------------------------

    def _ref(self, ref: Any) -> object:
        if isinstance(ref, dict) and "m" in ref:
            return submission.load_exercise(str(ref["m"]), self.directory)
        if isinstance(ref, dict) and "attr" in ref:
            return self._special("attr", ref["attr"])
        if isinstance(ref, dict) and "h" in ref:
            found = self.handles.get(ref["h"])
            return found.obj if isinstance(found, _Opaque) else found
        raise LookupError(f"bad reference {ref!r}")

    def _special(self, kind: str, spec: Any) -> object:
        if kind == "writer":
            return _Writer(self.link, int(spec))
        if kind == "described":
            return self._described(spec)
        if kind == "attr":  # a module attribute named by the judge, looked up now
            exercise, name = spec
            return getattr(submission.load_exercise(str(exercise), self.directory), str(name))
        raise ValueError(f"unknown argument kind {kind!r}")

    def _described(self, spec: dict[str, Any]) -> Callable[[], Any]:
        """A callable the judge described: a method of a sandbox object with fixed arguments."""
        target: Any = self._ref(spec["ref"])
        args = [self.decoder.value(a) for a in spec.get("args", [])]
        kwargs = {str(k): self.decoder.value(v) for k, v in spec.get("kwargs", {}).items()}
        number = int(spec["id"])

        def report(**outcome: Any) -> None:
            self.link.notify({"op": "event", "ev": "fn", "id": number, **outcome})

        def fn() -> Any:
            try:
                result = target(*args, **kwargs)
                if spec.get("consume"):
                    result = [_event_type(item) for item in result]
            except BaseException as exc:
                report(raised=self.encoder.exception(exc))
                raise
            if inspect.isawaitable(result):
                return finish(result)
            report(returned=self.encoder.value(result))
            return result

        async def finish(awaitable: Any) -> Any:
            try:
                result = await awaitable
            except BaseException as exc:
                report(raised=self.encoder.exception(exc))
                raise
            report(returned=self.encoder.value(result))
            return result

        return fn

    def serve(self) -> None:
        self.link.notify({"op": "ready", "pid": os.getpid()})
        while True:
            message = wire.receive(self.link.sock)
            handler = getattr(self, f"op_{message.get('op')}", None)
            reply: dict[str, Any] = {"op": "reply"}
            if handler is None:
                reply["error"] = f"unknown operation {message.get('op')!r}"
            else:
                try:
                    value = handler(message)
                except submission.StudentImportError as exc:
                    reply["import_error"] = str(exc)
                except StopIteration:
                    reply["stop"] = True
                except BaseException as exc:
                    reply["raised"] = self.encoder.exception(exc)
                else:
                    reply["value"] = self.encoder.value(value)
            wire.send(self.link.sock, reply)


_SDK_TYPES = {
    "openai.ChatCompletion": ("openai.types.chat", "ChatCompletion"),
    "openai.ChatCompletionChunk": ("openai.types.chat", "ChatCompletionChunk"),
    "anthropic.Message": ("anthropic.types", "Message"),
}


def _sdk_type(name: str) -> Any:
    module, attr = _SDK_TYPES[name]
    return getattr(importlib.import_module(module), attr)


class _Opaque:
    """An iterator the judge asked for (always a handle, even if it happens to be a list)."""

    def __init__(self, obj: object) -> None:
        self.obj = obj


def _tzset() -> bool:
    import time

    if not hasattr(time, "tzset"):
        return False
    time.tzset()
    return True


def _event_type(item: object) -> Any:
    kind = getattr(item, "type", None)
    return kind if type(kind) is str else None


def _number(value: object) -> float | str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return repr(value)[:100]
    return number if number == number and abs(number) != float("inf") else repr(number)


def preload(*, warm: bool = False) -> None:
    """What every sandbox needs before the submission exists: the held clock, the SDKs and what they load
    on first use, frozen out of the collector's way. A fork server does this once for all its sandboxes,
    and with `warm` also makes one request of each kind against canned replies (`warmup`): a sandbox
    started alone would pay for that warm-up without a later sandbox to gain from it."""
    from grader import clock

    clock.hold()  # before the SDKs load, so no check pays for freezegun's scan of them
    import anthropic  # noqa: F401 - paid once here, while the judge collects its suites
    import openai  # noqa: F401

    for name in _FIRST_USE:
        try:
            importlib.import_module(name)
        except ImportError:  # another SDK version: it loads what it needs when used, only slower
            pass
    if warm:
        from grader.sandbox.inside import warmup

        warmup.warm()
        # No collection first (a fifth of a second, on every grade's critical path): the warm-up's few clients
        # and replies are frozen with the rest and never finalized, in the server or in any sandbox.
    gc.freeze()  # the SDKs' million objects live as long as we do: no collection need ever walk them again


def serve(fd: int, submission_dir: str) -> None:
    """Serve the judge on the inherited socket `fd` (after `preload`), the submission copied at
    `submission_dir`; never returns."""
    directory = Path(submission_dir).resolve()
    sock = socket.socket(fileno=fd)
    link = _Link(sock)
    transport.install(link.call)
    network.install()
    runtime = Runtime(link, directory)
    sys.stdout, sys.stderr = runtime.stdout, runtime.stderr
    logging.getLogger().addHandler(runtime.logs)
    gc.enable()  # off since the process started: the submission's garbage is collected as usual

    submission.install_package(directory)
    try:
        runtime.serve()
    except (wire.WireClosed, wire.WireViolation):
        pass
    os._exit(0)


def main(fd: int, submission_dir: str) -> None:
    """Serve the judge on the inherited socket `fd`, with the submission copied at `submission_dir`."""
    preload()
    serve(fd, submission_dir)
