"""The sandbox's httpx2 transports: every request goes to the judge, and no connection machinery is built."""

from __future__ import annotations

import json
import subprocess
import sys

# Run in a fresh interpreter: install() changes httpx2's classes for the life of the process.
SCRIPT = r"""
import asyncio, json, sys
import httpx2
import httpx2._transports.default as default
from grader.sandbox.inside import transport

tls = []
real_tls = default.create_ssl_context
default.create_ssl_context = lambda *a, **k: tls.append(1) or real_tls(*a, **k)
asked = []

def call(message):
    asked.append([message["op"], message["method"], message["url"]])
    return {"status": 200, "headers": [["content-type", "application/json"]], "body": "eyJvayI6IHRydWV9"}

transport.install(call)
with httpx2.Client() as client:
    sync_body = client.get("https://api.openai.com/v1/models").json()
httpx2.Client(verify=False, trust_env=False).close()

async def run():
    async with httpx2.AsyncClient(http1=True) as client:
        return (await client.post("https://api.anthropic.com/v1/messages", json={"a": 1})).json()

async_body = asyncio.run(run())
try:
    httpx2.HTTPTransport(no_such_option=1)
    wrong = None
except TypeError as error:
    wrong = str(error)
print(json.dumps({
    "asked": asked, "bodies": [sync_body, async_body], "wrong": wrong, "tls": len(tls),
    "pool": sorted(name for name in ("httpcore2", "h11", "trio") if name in sys.modules),
}))
"""


def test_requests_reach_the_judge_without_pools_or_tls() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["asked"] == [
        ["http", "GET", "https://api.openai.com/v1/models"],
        ["http", "POST", "https://api.anthropic.com/v1/messages"],
    ]
    assert seen["bodies"] == [{"ok": True}, {"ok": True}]
    # A wrong argument fails as httpx2 itself would fail it, though the transport builds nothing.
    assert seen["wrong"] is not None and "no_such_option" in seen["wrong"]
    assert seen["tls"] == 0 and seen["pool"] == []
