"""The judge as the API: requests from the sandbox answered through the grader's httpx2 layers.

A request from the sandbox becomes an `httpx2.Request` handed to `httpx2.HTTPTransport`, whose
`handle_request` is what vcrpy (the cassette), the fault script and the stream gate patch. So
replay, faults and gated streams work exactly as they would in-process. A streamed body goes back
one chunk per ask, which is what lets the gate see a consumer that reads ahead; a body that is
whole from the start goes with the reply.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx2
from vcr.errors import CannotOverwriteExistingCassetteException

MAX_OPEN = 1_000  # responses open at once in one check
# A body already whole (not a gated or broken stream) goes with the reply, up to this size: one round trip.
INLINE_BODY = 1 << 20


@dataclass
class ApiServer:
    transport: httpx2.HTTPTransport = field(default_factory=httpx2.HTTPTransport)
    open: dict[int, Any] = field(default_factory=dict)
    served: int = 0

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            request = httpx2.Request(
                str(message["method"]),
                str(message["url"]),
                headers=[(str(k), str(v)) for k, v in message["headers"]],
                content=base64.b64decode(str(message["body"])),
            )
        except (KeyError, TypeError, ValueError, httpx2.InvalidURL) as exc:
            return {"op": "reply", "error": "UnsupportedProtocol", "message": f"malformed request: {exc}"}
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

    def read(self, message: dict[str, Any]) -> dict[str, Any]:
        found = self.open.get(message.get("rid"))  # type: ignore[arg-type]
        if found is None:
            return {"op": "reply"}  # closed: the end
        response, chunks = found
        try:
            chunk = next(chunks, None)
        except httpx2.TransportError as exc:
            self.open.pop(message["rid"], None)
            return {"op": "reply", "error": type(exc).__name__, "message": str(exc)}
        if chunk is None:
            self.open.pop(message["rid"], None)
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
