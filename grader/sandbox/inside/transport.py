"""httpx2 in the sandbox: every request of every client crosses the socket to the judge.

Both httpx2 transports are replaced before the submission is imported, so the clients the judge
asks for and the clients a submission builds itself (`make_client`) go the same way; there is no
other route out (the OS denies sockets other than this one's family). A body is pulled from the
judge one chunk per ask, so the judge sees a consumer that reads ahead.
"""

from __future__ import annotations

import base64
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

Call = Callable[[dict[str, Any]], dict[str, Any]]
_ERRORS: dict[str, type[httpx2.TransportError]] = {
    name: cls for name, cls in vars(httpx2).items() if isinstance(cls, type) and issubclass(cls, httpx2.TransportError)
}


def _raise(reply: dict[str, Any], request: httpx2.Request) -> None:
    error = reply.get("error")
    if error is None:
        return
    cls = _ERRORS.get(str(error), httpx2.TransportError)
    raise cls(str(reply.get("message", "")), request=request)


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, call: Call, rid: int, request: httpx2.Request) -> None:
        self._call, self._rid, self._request = call, rid, request
        self._done = False

    def _next(self) -> bytes | None:
        if self._done:
            return None
        reply = self._call({"op": "read", "rid": self._rid})
        _raise(reply, self._request)
        if "chunk" not in reply:
            self._done = True
            return None
        return base64.b64decode(reply["chunk"])

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk

    def close(self) -> None:
        self._done = True

    async def aclose(self) -> None:
        self._done = True


def _send(call: Call, request: httpx2.Request) -> httpx2.Response:
    body = request.read()
    reply = call(
        {
            "op": "http",
            "method": request.method,
            "url": str(request.url),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
            "body": base64.b64encode(body).decode(),
            "now": time.time(),  # the sandbox's (frozen) clock: HTTP-date hints are measured from it
        }
    )
    _raise(reply, request)
    stream: httpx2.SyncByteStream | httpx2.AsyncByteStream
    if "body" in reply:
        stream = httpx2.ByteStream(base64.b64decode(reply["body"]))  # as vcrpy answers: whole, still open
    else:
        stream = _Body(call, int(reply["rid"]), request)
    return httpx2.Response(
        int(reply["status"]),
        headers=[(k, v) for k, v in reply["headers"]],
        stream=stream,
        request=request,
        extensions={"http_version": b"HTTP/1.1"},
    )


def _poolless(real: Callable[..., None]) -> Callable[..., None]:
    """A transport's __init__ that checks its arguments as the real one does, then builds nothing.

    The real one builds a connection pool (importing httpcore2, h11 and, where installed, trio) and a
    TLS context with the CA bundle loaded: about 0.15 s of a grade, for connections never opened here.
    """
    signature = inspect.signature(real)

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        signature.bind(self, *args, **kwargs)  # the TypeError a wrong argument gets from httpx2 itself

    return __init__


def _nothing(self: object, *args: object) -> None:
    """Closing or leaving a transport that holds no connections."""


async def _nothing_async(self: object, *args: object) -> None:
    """Closing or leaving an async transport that holds no connections."""


def _itself(self: Any) -> Any:
    return self


async def _itself_async(self: Any) -> Any:
    return self


def install(call: Call) -> None:
    """Route both transports through the judge from now on."""

    def handle_request(self: httpx2.HTTPTransport, request: httpx2.Request) -> httpx2.Response:
        return _send(call, request)

    async def handle_async_request(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
        return _send(call, request)

    sync, asynchronous = httpx2.HTTPTransport, httpx2.AsyncHTTPTransport
    sync.__init__ = _poolless(sync.__init__)  # type: ignore[method-assign]
    sync.handle_request = handle_request  # type: ignore[method-assign]
    sync.__enter__ = _itself  # type: ignore[method-assign]
    sync.__exit__ = sync.close = _nothing  # type: ignore[method-assign]
    asynchronous.__init__ = _poolless(asynchronous.__init__)  # type: ignore[method-assign]
    asynchronous.handle_async_request = handle_async_request  # type: ignore[method-assign]
    asynchronous.__aenter__ = _itself_async  # type: ignore[method-assign]
    asynchronous.__aexit__ = asynchronous.aclose = _nothing_async  # type: ignore[method-assign,assignment]
