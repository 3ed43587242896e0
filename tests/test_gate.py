"""Issue 20, the judge's side of the boundary: classes 1, 3, 4 and 5 as attacks through the public interface.

Each attack is planted in a copy of the reference solution (whose honest score is the maximum) and
graded through the real CLI. Every one of them got through before the gate: the judge fetched a URL
for the sandbox, served a request from before the call out of the check's fault script, raised
OverflowError, RecursionError or UnicodeEncodeError, or kept an unbounded flood. Bounded: loopback
only, frames of a few MiB, a flood just past one check's budget.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader import gate
from grader.judge import link
from tests.conftest import REFERENCE

STAFF_BLAME = ("Grader problem", "grader problem", "Traceback (most recent call last)")


def _reference_with(tmp_path: Path, module: str, extra: str) -> Path:
    target = tmp_path / "submission"
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    path = target / f"{module}.py"
    path.write_text(path.read_text() + "\n\n" + extra)
    return target


# The sandbox's socket to the judge, found as a submission would find it (however the sandbox was started).
FIND_SOCKET = """
import os as _os, stat as _stat
def _is_socket(fd):
    try:
        return _stat.S_ISSOCK(_os.fstat(fd).st_mode)
    except OSError:
        return False
_fd = next(fd for fd in range(3, 1024) if _is_socket(fd))
def _send_raw(data):
    out = memoryview(len(data).to_bytes(4, "big") + data)
    while out:
        out = out[_os.write(_fd, out):]
"""


def _wrap_ask_openai(body: str) -> str:
    """ask_openai runs `body` first, then does its honest work."""
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    head = "_original = ask_openai\n\n\ndef ask_openai(*args, **kwargs):\n"
    return f"{head}{indented}\n    return _original(*args, **kwargs)\n"


# -- the gate itself ---------------------------------------------------------------------------------


def test_class4_deep_nesting_is_a_gate_error_not_a_recursion_error() -> None:
    deep = b'{"op":"reply","value":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(gate.GateError, match="nested"):
        gate.decode(deep)
    modest = b'{"op":"reply","value":' + b"[" * (gate.MAX_DEPTH + 5) + b"]" * (gate.MAX_DEPTH + 5) + b"}"
    with pytest.raises(gate.GateError, match="nested"):  # under Python's recursion limit, over the gate's
        gate.decode(modest)
    fine = b'{"op":"reply","value":' + b"[" * 40 + b"]" * 40 + b"}"
    assert gate.decode(fine)["op"] == "reply"


def test_class4_lone_surrogates_become_replacement_characters_everywhere() -> None:
    data = b'{"op":"reply","raised":{"text":"bad \\ud800 text","mro":["builtins.ValueError"]},"\\udfff":["\\udc80"]}'
    message = gate.decode(data)
    assert message["raised"]["text"] == "bad \ufffd text"
    assert message["\ufffd"] == ["\ufffd"]
    "".join([message["raised"]["text"], *message]).encode("utf-8")  # every writer can encode it
    assert gate.decode(b'{"emoji":"\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}  # a real pair stays


def test_class4_text_for_people_shows_control_characters_and_is_capped() -> None:
    assert gate.text("a\x1b[2Jb\nc\td\ud800") == "a\\x1b[2Jb\nc\td\ufffd"
    assert gate.text("x" * 50, 10).startswith("x" * 10 + "... (40 more")


@pytest.mark.parametrize(
    "message",
    [
        {"op": "http", "method": "GET", "url": "http://x/", "headers": [], "body": 5},
        {"op": "read", "rid": "1"},
        {"op": "event"},
        {"op": "order-pizza"},
        {"op": "reply", "raised": "not an object"},
    ],
)
def test_class4_messages_are_checked_against_their_op_schema(message: dict[str, object]) -> None:
    with pytest.raises(gate.GateError, match="schema"):
        gate.from_sandbox(message)


def test_class4_requests_over_the_limits_are_refused() -> None:
    headers = [["x-h", "v"]] * (gate.MAX_HEADERS + 1)
    with pytest.raises(gate.GateError):
        gate.request_parts(gate.Http("GET", "http://x/", headers, ""))
    with pytest.raises(gate.GateError):
        gate.request_parts(gate.Http("GET", "http://x/" + "a" * gate.MAX_URL, [], ""))
    assert gate.request_parts(gate.Http("GET", "http://x/", [["a", "b"]], "")) == ("GET", "http://x/", [("a", "b")])


# -- class 1: the judge's transport reaches no network ----------------------------------------------


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server on 127.0.0.1 that records every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"stolen": true}')

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_class1_the_judge_transport_has_no_network() -> None:
    from grader.judge.http import ApiServer, OfflineTransport

    api = ApiServer()
    assert isinstance(api.transport, OfflineTransport)
    api.closed = None  # as inside a check's call, with no cassette or script in front of it
    message = gate.Http("GET", "http://127.0.0.1:9/", [], "")
    reply = api.request(message)
    assert reply["error"] == "ConnectError" and "no network" in reply["message"]


@pytest.mark.slow
def test_class1_a_request_outside_the_call_never_reaches_the_network(
    grade, tmp_path: Path, loopback_server: tuple[int, list[str]]
) -> None:
    """The sandbox's os.chdir, which its runtime calls when a check ends, sends a request to a live local server."""
    port, hits = loopback_server
    attack = f"""
import os as _os, openai as _openai
_real_chdir = _os.chdir
def _chdir(path):
    try:
        _openai.OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="sk-test-attack", max_retries=0).models.list()
    except Exception:
        pass
    _real_chdir(path)
_os.chdir = _chdir
"""
    run = grade(_reference_with(tmp_path, "basic_call", attack), "basic_call")
    assert hits == [], f"the judge fetched {hits} for the sandbox"
    assert run.returncode == 0, run.output
    assert not any(word in run.output for word in STAFF_BLAME), run.output[-3000:]
    feedback = " ".join(t["feedback"] for t in run.exercise("basic_call")["tests"])
    assert "answers only requests your function sends" in feedback and "GET /v1/models" in feedback, feedback


# -- class 3: nothing before the call is served from the check's script; no sandbox clock in the judge ---


@pytest.mark.slow
def test_class3_a_request_from_the_wrapped_client_constructor_is_not_served_from_the_script(
    grade, tmp_path: Path
) -> None:
    """The module wraps openai.OpenAI.__init__, which the check's fixture calls before the function under test."""
    attack = """
_PRE = []
_real_init = openai.OpenAI.__init__
def _init(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    try:
        self.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        _PRE.append("served")
    except Exception as exc:
        _PRE.append(type(exc).__name__)
openai.OpenAI.__init__ = _init
_honest = call_with_retry
def call_with_retry(*args, **kwargs):
    if _PRE:
        raise ValueError(f"before the call my request got: {_PRE}")
    return _honest(*args, **kwargs)
"""
    run = grade(_reference_with(tmp_path, "error_handler", attack), "error_handler")
    assert run.returncode == 0, run.output
    assert not any(word in run.output for word in STAFF_BLAME), run.output[-3000:]
    check = run.check("error_handler/test_public.py::test_rate_limit_retried_then_returns")
    assert check["status"] == "failed"
    assert "before the call my request got: ['APIConnectionError'" in check["feedback"], check["feedback"]
    assert "RateLimitError" not in check["feedback"]  # the script's 429 was not spent on it
    assert "before your function was called" in check["feedback"]


@pytest.mark.slow
def test_class3_a_clock_far_in_the_future_is_not_computed_with(grade, tmp_path: Path) -> None:
    """The clock reading each request carries says year 3e12; the fault script's dates come from the judge's clock."""
    attack = """
import types as _types
import grader.sandbox.inside.transport as _transport
_transport.time = _types.SimpleNamespace(time=lambda: 1e20)
"""
    run = grade(_reference_with(tmp_path, "error_handler", attack), "error_handler")
    assert run.returncode == 0, run.output
    assert "OverflowError" not in run.output + str(run.report), run.output[-3000:]
    assert not any(word in run.output for word in STAFF_BLAME), run.output[-3000:]
    assert run.exercise("error_handler")["score"] == 25, run.output  # the lie changes nothing the judge sees


# -- class 4: malformed frames; lone surrogates in what writers print ----------------------------------


@pytest.mark.slow
def test_class4_a_deeply_nested_frame_fails_the_check_only(grade, tmp_path: Path) -> None:
    attack = FIND_SOCKET + """
_send_raw(b'{"op":"reply","value":' + b"[" * 200000 + b"]" * 200000 + b"}")
"""
    run = grade(_reference_with(tmp_path, "basic_call", _wrap_ask_openai(attack)), "basic_call", "temperature")
    assert run.returncode == 0, run.output
    assert "RecursionError" not in run.output and not any(word in run.output for word in STAFF_BLAME), run.output
    tests = run.exercise("basic_call")["tests"]
    broken = [t for t in tests if "nested more than" in t["feedback"]]
    assert broken and all(t["status"] == "failed" for t in broken), tests
    assert run.exercise("temperature")["score"] == 10


@pytest.mark.slow
def test_class4_a_lone_surrogate_in_an_error_reaches_every_writer_safely(grade, tmp_path: Path) -> None:
    attack = 'raise ValueError("bad \\ud800 text \\x1b[2J")'
    run = grade(_reference_with(tmp_path, "basic_call", _wrap_ask_openai(attack)), "basic_call", "temperature")
    assert run.returncode == 0, run.output
    assert "Total:" in run.output and "UnicodeEncodeError" not in run.output, run.output[-3000:]
    assert "\x1b[2J" not in run.output
    assert run.exercise("temperature")["score"] == 10


# -- class 5: a flood of records within every per-message cap ------------------------------------------


@pytest.mark.slow
def test_class5_a_flood_of_log_records_fails_the_check_as_the_students(grade, tmp_path: Path) -> None:
    """Log records of 6 MiB each, under the frame cap, just past one check's budget."""
    count = link.CHECK_BUDGET // (6 * 1024 * 1024) + 2
    attack = FIND_SOCKET + f"""
import json as _json
_record = _json.dumps({{"op": "event", "ev": "log", "name": "x", "levelno": 30, "message": "A" * (6 << 20)}}).encode()
for _ in range({count}):
    _send_raw(_record)
"""
    run = grade(_reference_with(tmp_path, "basic_call", _wrap_ask_openai(attack)), "basic_call", "temperature")
    assert run.returncode == 0, run.output
    assert not any(word in run.output for word in STAFF_BLAME), run.output[-3000:]
    flooded = [t for t in run.exercise("basic_call")["tests"] if "MiB in this check" in t["feedback"]]
    assert flooded and all(t["status"] == "failed" for t in flooded), run.exercise("basic_call")
    assert run.exercise("temperature")["score"] == 10
