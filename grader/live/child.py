"""The live-mode child process: runs one exercise's demo steps with the student's code and real clients.

`python -m grader.live.child EXERCISE SUBMISSION RESULTS [PROVIDER ...]`. Clients use the student's
own keys and base URLs (the SDKs read OPENAI_API_KEY / OPENAI_BASE_URL and their Anthropic twins);
every HTTP response is watched on the way through for its model and token usage, and the results
go to RESULTS as JSON for the parent (grader/commands/live.py) to print.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai

from grader import submission
from grader.live import demos


def _usage(provider: str, data: dict[str, Any]) -> tuple[int, int] | None:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None
    if provider == "openai":
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    inputs = sum(
        int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return inputs, int(usage.get("output_tokens") or 0)


class _Call:
    """What one HTTP exchange cost: filled in from the JSON body, or from the SSE events as they pass."""

    def __init__(self, provider: str, status: int) -> None:
        self.provider = provider
        self.status = status
        self.model = ""
        self.input_tokens = 0
        self.output_tokens = 0

    def take(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        message = data.get("message") if data.get("type") == "message_start" else data
        if isinstance(message, dict) and isinstance(message.get("model"), str):
            self.model = message["model"]
        for source in (message, data):
            usage = _usage(self.provider, source) if isinstance(source, dict) else None
            if usage is not None:
                # Anthropic streams: input tokens arrive in message_start, output tokens in message_delta.
                self.input_tokens = usage[0] or self.input_tokens
                self.output_tokens = usage[1] or self.output_tokens

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "status": self.status,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


class _Tee(httpx2.SyncByteStream):
    """Passes a streamed body through untouched and reads its SSE events when it ends."""

    def __init__(self, inner: httpx2.SyncByteStream, call: _Call) -> None:
        self._inner = inner
        self._call = call
        self._seen = bytearray()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._seen += chunk
            yield chunk

    def close(self) -> None:
        for line in self._seen.decode("utf-8", "replace").splitlines():
            if line.startswith("data:"):
                try:
                    self._call.take(json.loads(line[5:]))
                except ValueError:
                    pass
        self._inner.close()


def _http_client(provider: str, calls: list[_Call]) -> httpx2.Client:
    def on_response(response: httpx2.Response) -> None:
        call = _Call(provider, response.status_code)
        calls.append(call)
        if "text/event-stream" in response.headers.get("content-type", ""):
            assert isinstance(response.stream, httpx2.SyncByteStream)
            response.stream = _Tee(response.stream, call)
            return
        response.read()
        try:
            call.take(response.json())
        except ValueError:
            pass

    factory = openai.DefaultHttpxClient if provider == "openai" else anthropic.DefaultHttpxClient
    return factory(event_hooks={"response": [on_response]})


def _client(provider: str, calls: list[_Call]) -> object:
    http_client = _http_client(provider, calls)
    if provider == "openai":
        return openai.OpenAI(http_client=http_client, max_retries=0, timeout=60.0)
    return anthropic.Anthropic(http_client=http_client, max_retries=0, timeout=60.0)


def _shown(value: object) -> object:
    """What came back, as JSON the parent can print (dict keys become text)."""
    if isinstance(value, dict):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _describe_error(exc: BaseException, directory: Path) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        try:
            relative = Path(frame.filename).resolve().relative_to(directory.resolve())
        except ValueError:
            continue
        where = f" (exercises/{relative.as_posix()}, line {frame.lineno})"
        break
    if isinstance(exc, NotImplementedError):
        return f"not implemented yet{where}: {exc}"
    return f"{type(exc).__name__}{where}: {exc}"


def run(exercise: str, directory: Path, providers: list[str]) -> dict[str, Any]:
    demo = demos.DEMOS[exercise]
    submission.install_package(directory)
    try:
        module = submission.load_exercise(exercise, directory)
    except submission.StudentImportError as exc:
        return {"import_error": str(exc), "steps": []}
    steps = []
    for step in demo.steps:
        if step.provider not in providers:
            continue
        calls: list[_Call] = []
        entry: dict[str, Any] = {"label": step.label, "provider": step.provider}
        try:
            entry["result"] = _shown(step.call(module, _client(step.provider, calls)))
        except Exception as exc:  # the student's code failed: show it and go on with the next step
            entry["error"] = _describe_error(exc, directory)
        entry["calls"] = [c.as_json() for c in calls]
        steps.append(entry)
    return {"steps": steps}


def main(argv: list[str]) -> int:
    exercise, directory, results, *providers = argv
    outcome = run(exercise, Path(directory).resolve(), providers)
    Path(results).write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
