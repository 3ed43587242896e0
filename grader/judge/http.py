"""The judge as the API: requests from the sandbox answered through the grader's httpx2 layers.

A request from the sandbox becomes an `httpx2.Request` handed to `httpx2.HTTPTransport`, whose
`handle_request` is what vcrpy (the cassette), the fault script and the stream gate patch. So
replay, faults and gated streams work exactly as they would in-process. A streamed body goes back
one chunk per ask, which is what lets the gate see a consumer that reads ahead; a body that is
whole from the start goes with the reply.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import httpcore2
import httpx2
from vcr.errors import CannotOverwriteExistingCassetteException

from grader import gate

MAX_OPEN = 1_000  # responses open at once in one check
# A body already whole (not a gated or broken stream) goes with the reply, up to this size: one round trip.
INLINE_BODY = 1 << 20


NOT_IN_A_CALL = (
    "The grader's API answers only requests your function sends while a check calls it; this one ({what}) "
    "was sent {when}. Send requests from the functions the exercise asks for, with the client passed in."
)


class _NoNetwork:
    """The connection pool at the bottom of the judge's transport: it has no way out, whatever is patched above."""

    def handle_request(self, request: object) -> object:
        raise httpcore2.ConnectError("the grader's API has no network: only recorded and scripted replies exist")

    def close(self) -> None:
        """Nothing was ever opened."""


class OfflineTransport(httpx2.HTTPTransport):
    """httpx2's transport with no connection pool: what vcrpy or the fault script do not answer fails here.

    The real __init__ would build a pool that can reach any host the grading machine can; this one never does,
    so the judge cannot be made to fetch anything for the sandbox (a request outside a check, a cassette miss
    that slipped past vcrpy, a layer that forgot to patch).
    """

    def __init__(self) -> None:  # no super().__init__(): that is what builds the pool
        self._pool = _NoNetwork()  # type: ignore[assignment]


@dataclass
class ApiServer:
    """The API the sandbox's clients talk to. Offline unless built for recording (staff, reference code only)."""

    transport: httpx2.HTTPTransport = field(default_factory=OfflineTransport)
    open: dict[int, Any] = field(default_factory=dict)
    served: int = 0
    # Why requests are refused now (None: a check is calling the student's function, so they are served).
    closed: str | None = "before any check started"
    refused: list[str] = field(default_factory=list)

    def request(self, message: gate.Http) -> dict[str, Any]:
        try:
            method, url, sent_headers = gate.request_parts(message)
            body = base64.b64decode(message.body, validate=True)
            request = httpx2.Request(method, url, headers=sent_headers, content=body)
        except (gate.GateError, TypeError, ValueError, binascii.Error, httpx2.InvalidURL) as exc:
            return {"op": "reply", "error": "UnsupportedProtocol", "message": f"malformed request: {exc}"}
        if self.closed is not None:
            text = NOT_IN_A_CALL.format(what=f"{method} {request.url.path}", when=self.closed)
            self.refused.append(gate.text(text, 2_000))
            return {"op": "reply", "error": "ConnectError", "message": text}
        try:
            response = httpx2.HTTPTransport.handle_request(self.transport, request)
        except httpx2.TransportError as exc:
            return {"op": "reply", "error": type(exc).__name__, "message": str(exc)}
        except CannotOverwriteExistingCassetteException:
            # No recorded reply matches: the replay layer has noted why, in the student's words. The SDK sees
            # a failed request (a connection error to it), as it did when vcrpy refused in-process.
            return {"op": "reply", "error": "TransportError", "message": "no recorded reply matches this request"}
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.headers.raw]
        if type(response.stream) is httpx2.ByteStream:  # a whole body from the cassette or the fault script
            body = b"".join(response.stream)
            if len(body) <= INLINE_BODY:
                response.close()
                return {"op": "reply", "status": response.status_code, "headers": headers,
                        "body": base64.b64encode(body).decode()}  # fmt: skip
            response.stream = httpx2.ByteStream(body)
        if len(self.open) >= MAX_OPEN:
            response.close()
            return {"op": "reply", "error": "PoolTimeout", "message": "too many responses left open"}
        self.served += 1
        rid = self.served
        self.open[rid] = (response, iter(response.stream))  # type: ignore[arg-type]
        return {"op": "reply", "status": response.status_code, "headers": headers, "rid": rid}

    def read(self, message: gate.Read) -> dict[str, Any]:
        found = self.open.get(message.rid)
        if found is None:
            return {"op": "reply"}  # closed: the end
        response, chunks = found
        try:
            chunk = next(chunks, None)
        except httpx2.TransportError as exc:
            self.open.pop(message.rid, None)
            return {"op": "reply", "error": type(exc).__name__, "message": str(exc)}
        if chunk is None:
            self.open.pop(message.rid, None)
            response.close()
            return {"op": "reply"}
        return {"op": "reply", "chunk": base64.b64encode(chunk).decode()}

    def close_all(self) -> None:
        for response, _ in self.open.values():
            try:
                response.close()
            except Exception:
                pass
        self.open.clear()
