"""httpx2 in the sandbox: every request of every client crosses the socket to the judge.

Both httpx2 transports are replaced before the submission is imported, so the clients the judge
asks for and the clients a submission builds itself (`make_client`) go the same way; there is no
other route out (the OS denies sockets other than this one's family). A body is pulled from the
judge one chunk per ask, so the judge sees a consumer that reads ahead.
"""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import httpx2._transports.default as httpx2_default

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


def _shared_tls(real: Callable[..., ssl.SSLContext]) -> Callable[..., ssl.SSLContext]:
    """httpx2's TLS setup, with the default context built once: no request here ever does TLS, and
    loading the CA bundle for every client was most of the time a check spent making clients."""
    shared: dict[bool, ssl.SSLContext] = {}

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert:
            return real(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in shared:
            shared[trust_env] = real(verify=True, cert=None, trust_env=trust_env)
        return shared[trust_env]

    return create_ssl_context


def install(call: Call) -> None:
    """Route both transports through the judge from now on."""
    real: Callable[..., ssl.SSLContext] = httpx2.create_ssl_context
    httpx2_default.create_ssl_context = _shared_tls(real)  # type: ignore[attr-defined]

    def handle_request(self: httpx2.HTTPTransport, request: httpx2.Request) -> httpx2.Response:
        return _send(call, request)

    async def handle_async_request(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
        return _send(call, request)

    httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
