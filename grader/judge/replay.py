"""Cassette replay with vcrpy: semantic request matching, a record of what was sent, and
plain-language explanations of requests that match nothing.

Explanations are captured here, on the harness side, because the SDKs wrap a cassette miss in
their own exceptions (anthropic even as `APIConnectionError`) and student code may swallow them.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml
from vcr.filters import decode_response
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from grader import matching
from grader.errors import StaffError

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "semantic_body")
PUBLIC_HOSTS = {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}
SCRUBBED_REQUEST_HEADERS = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "openai-organization",
    "openai-project",
    "anthropic-organization-id",
)
SCRUBBED_RESPONSE_HEADERS = (
    "set-cookie",
    "openai-organization",
    "openai-project",
    "anthropic-organization-id",
)


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    path: str
    body: Any  # parsed JSON, or the raw text


@dataclass
class Replay:
    """What one check's cassette holds and what the code under test sent."""

    cassette_path: Path | None
    show_expected: bool = True
    sent: list[SentRequest] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    miss_causes: list[str] = field(default_factory=list)  # one line per miss, alike for every student who made it
    # vcrpy's (request, response) pairs: loaded from the file, or recorded so far in record mode
    interactions: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)

    def response_text(self, index: int = 0) -> str:
        """The body of the cassette's `index`-th response (expected values come from here)."""
        body = self.interactions[index][1]["body"]["string"]
        return body.decode("utf-8") if isinstance(body, bytes) else str(body)

    def response_json(self, index: int = 0) -> Any:
        return json.loads(self.response_text(index))

    def request_json(self, index: int = 0) -> Any:
        return matching.parse_body(self.interactions[index][0].body)

    def sent_json(self) -> list[Any]:
        return [r.body for r in self.sent]


_PUBLIC = "_grader_public_host"  # set on the requests _to_public_host made
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Cassette texts read once before any student code runs, so a submission that deletes or edits the
# files on disk changes nothing (see preload).
_preloaded: dict[Path, str] = {}
# ...and parsed once, there: vcrpy's (requests, responses), kept pickled and handed out as fresh copies (a
# pickle round trip is four times faster than copy.deepcopy; the judge's own data, never the sandbox's),
# and the checked data.
_parsed: dict[Path, bytes] = {}
_checked: dict[Path, dict[str, Any]] = {}


def preload(cassettes_dir: Path) -> None:
    """Read every cassette under `cassettes_dir` into memory; replay then never reads the disk.

    A cassette already parsed with the same text (by a warm judge's zygote, `grader.judge.zygote`) is not
    parsed again; one that changed or went since is read afresh or forgotten."""
    found: set[Path] = set()
    for path in sorted(cassettes_dir.rglob("*.yaml")):
        resolved = path.resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # reported as missing or corrupt by the check that uses it
        found.add(resolved)
        if _preloaded.get(resolved) == text and resolved in _parsed:
            continue
        _forget(resolved)
        _preloaded[resolved] = text
        try:
            load_cassette_file(path)
            _parsed[resolved] = pickle.dumps(deserialize(text, yamlserializer))
        except Exception:  # a corrupt cassette is reported by the check that uses it
            pass
    for gone in [p for p in _preloaded if p.is_relative_to(cassettes_dir.resolve()) and p not in found]:
        _forget(gone)


def _forget(path: Path) -> None:
    for cache in (_preloaded, _parsed, _checked):
        cache.pop(path, None)


def _read_cassette(path: Path) -> str | None:
    if _preloaded:
        return _preloaded.get(path.resolve())
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class _PreloadedPersister:
    """vcrpy persister that serves preloaded cassette texts (and writes files only when recording)."""

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
        parsed = _parsed.get(Path(cassette_path).resolve()) if serializer is yamlserializer else None
        if parsed is not None:
            return pickle.loads(parsed)  # a fresh copy: vcrpy keeps and may change what it is given
        text = _read_cassette(Path(cassette_path))
        if text is None or not text.strip():
            raise CassetteNotFoundError()
        return deserialize(text, serializer)

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: Any, serializer: Any) -> None:
        FilesystemPersister.save_cassette(cassette_path, cassette_dict, serializer)


def load_cassette_file(path: Path) -> dict[str, Any]:
    """Parse and check a cassette; a StaffError names the file when it is missing or corrupt."""
    if path.resolve() in _checked:
        return _checked[path.resolve()]
    text = _read_cassette(path)
    if text is None:
        raise StaffError(
            f"cassette {path} is missing. Record it with `nox -s record -- {path.parent.name}` or restore it from git."
        )
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader, C-accelerated when available
    except yaml.YAMLError as exc:
        raise StaffError(f"cassette {path} is not valid YAML ({exc}); re-record or restore it") from None
    interactions = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(interactions, list) or data.get("version") != 1:
        raise StaffError(f"cassette {path} is not a vcrpy version-1 cassette (no 'interactions' list)")
    for i, it in enumerate(interactions):
        try:
            it["request"]["uri"], it["request"]["method"], it["response"]["status"]["code"]
            it["response"]["body"]["string"]
        except (KeyError, TypeError):
            raise StaffError(f"cassette {path}: interaction {i} lacks request/response fields") from None
    checked: dict[str, Any] = data
    if path.resolve() in _preloaded:
        _checked[path.resolve()] = checked
    return checked


def is_synthetic(path: Path) -> bool:
    """Synthetic cassettes hold edge cases the real API will not produce on demand; never re-recorded."""
    data = load_cassette_file(path)
    metadata = data.get("metadata") or {}
    return bool(isinstance(metadata, dict) and metadata.get("synthetic"))


def _semantic_body(r1: Any, r2: Any) -> None:
    diffs = matching.differences(r1.path, matching.parse_body(r1.body), matching.parse_body(r2.body))
    if diffs:
        raise AssertionError(matching.describe(diffs))


def _to_public_host(request: Any) -> Any:
    """Rewrite a request sent to a local or proxy base URL back to the public API, scrubbed.

    It works on a copy and never changes the request it is given (vcrpy's deep copy before it is not
    needed), and a request it has already rewritten comes back as it is: vcrpy filters the same request
    up to three times per request sent (can_play_response_for, __contains__, play_response), and the
    rewrite is idempotent.
    """
    if getattr(request, _PUBLIC, False):
        return request
    request = copy.copy(request)
    setattr(request, _PUBLIC, True)
    parts = urlsplit(request.uri)
    provider = matching.provider_of(parts.path)
    if provider is not None:
        start = parts.path.find("/v1/")
        query = f"?{parts.query}" if parts.query else ""
        request.uri = PUBLIC_HOSTS[provider] + parts.path[start:] + query
    headers = {k: v for k, v in request.headers.items() if k.lower() not in SCRUBBED_REQUEST_HEADERS}
    for k in list(headers):
        if k.lower() == "host":
            headers[k] = urlsplit(request.uri).netloc
    request.headers = headers
    return request


def _decode_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy's decode_compressed_response, without its deep copy of every uncompressed response.

    Cassette.append has already deep-copied the response it hands here; vcrpy's filter copies it again
    before it even looks for a content-encoding. Compressed responses still go through vcrpy's filter.
    """
    encodings = [v for k, v in response["headers"].items() if k.lower() == "content-encoding"]
    if any(encodings):
        decoded: dict[str, Any] = decode_response(response)
        return decoded
    return response


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in SCRUBBED_RESPONSE_HEADERS}
    return response


# The judge serves every request through httpx2's transport. vcrpy would patch each HTTP library it
# knows, trying to import the absent ones again at every cassette: skipped where vcrpy allows it (9.x).
_SKIPPED = {"skip_patchers": tuple(n for n in getattr(vcr.patch, "PATCHER_NAMES", ()) if n != "httpx2")}


class _VCR(vcr.VCR):  # type: ignore[misc]  # vcrpy has no type hints
    """vcrpy's VCR with our own request and response filters in place of its generic pipelines.

    vcrpy deep-copies every request before each filtering (four times per request sent, once per
    cassette interaction loaded) and every response twice on loading; our filters copy what they
    change, so those copies were most of the judge's CPU per check. The filters are the ones the
    options below name; no other filter option is used.
    """

    def __init__(self, *, record: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record = record

    def _build_before_record_request(self, options: dict[str, Any]) -> Any:
        return _to_public_host

    def _build_before_record_response(self, options: dict[str, Any]) -> Any:
        if self._record:
            return lambda response: _scrub_response(_decode_response(response))
        return _decode_response


def _vcr(record: bool) -> vcr.VCR:
    config = _VCR(
        record=record,
        **(_SKIPPED if _SKIPPED["skip_patchers"] else {}),
        record_mode="all" if record else "none",
        match_on=MATCH_ON,
        # Also while replaying: a synthetic cassette replayed during a recording run sees requests
        # sent to the instructor's base URL. While grading, requests already go to the public hosts.
        before_record_request=_to_public_host,
        before_record_response=_scrub_response if record else None,
        decode_compressed_response=True,
    )
    config.register_matcher("semantic_body", _semantic_body)
    config.register_persister(_PreloadedPersister)
    return config


def _field_name(field: str) -> str:
    """The request's top-level field (`messages`, not `messages.2.content`): one mistake, one cause."""
    return re.split(r"[.\[]", field, maxsplit=1)[0][:60]


def _explain_miss(replay: Replay, cassette: Any, request: Any) -> tuple[str, str]:
    """Why the request matched nothing, field first, and its cause in one line."""
    sent_path = urlsplit(request.uri).path
    sent_body = matching.parse_body(request.body)
    shown = f"{request.method} {sent_path}"
    if not cassette.data:
        return (
            f"Your code sent a request ({shown}) where this check expects none: "
            "nothing may be sent here (for example, validate the arguments before calling the API).",
            "a request sent where none is expected",
        )
    # Compare with the requests still to come first: the one this request stands in for is among them
    # (an earlier request may have taken its place, as when a left-out field makes two requests alike).
    best: tuple[bool, int, int, list[matching.Difference]] | None = None
    for index, (stored, _) in enumerate(cassette.data):
        stored_path = urlsplit(stored.uri).path
        if stored.method != request.method or stored_path != sent_path:
            diffs = [matching.Difference("endpoint", shown, f"{stored.method} {stored_path}")]
        else:
            diffs = matching.differences(sent_path, sent_body, matching.parse_body(stored.body))
        candidate = (cassette.play_counts[index] > 0, len(diffs), index, diffs)
        if best is None or candidate[:3] < best[:3]:
            best = candidate
    assert best is not None
    played, _, index, diffs = best
    if not diffs and played:
        return (
            f"Your code sent the same request ({shown}) more than once; this check expects "
            f"{len(cassette.data)} request(s) in all. Make exactly one API call per request the exercise asks for.",
            "the same request sent more than once",
        )
    details = matching.describe(diffs, show_expected=replay.show_expected)
    fields = list(dict.fromkeys(_field_name(d.field) for d in diffs))
    named = ", ".join(f"`{f}`" for f in fields)
    cause = f"request field {named} differs" if len(fields) == 1 else f"request fields {named} differ"
    if not fields:
        cause = "the request differs"
    return f"{cause[0].upper()}{cause[1:]} from what this check expects ({shown}):\n{details}", cause


@contextmanager
def replaying(
    cassette_path: Path | None,
    *,
    record: bool = False,
    show_expected: bool = True,
    empty_path: Path | None = None,
) -> Iterator[Replay]:
    """Replay (or record) one check's cassette; None means the check expects no request at all."""
    replay = Replay(cassette_path, show_expected)
    if cassette_path is None:
        assert empty_path is not None
        path = empty_path
    elif record:
        cassette_path.parent.mkdir(parents=True, exist_ok=True)
        # vcrpy's `all` mode appends to an existing file; a re-recording replaces it whole. It is written
        # beside it first and moved over it once vcrpy has saved it: the previous cassette is never deleted
        # (a recording that sends nothing, or dies, leaves it as it was).
        path = cassette_path.with_name(cassette_path.name + ".recording")
        path.unlink(missing_ok=True)
    else:
        load_cassette_file(cassette_path)
        path = cassette_path
    try:
        with _vcr(record and cassette_path is not None).use_cassette(str(path)) as cassette:
            replay.interactions = cassette.data
            original = cassette.can_play_response_for

            def can_play_response_for(request: Any) -> bool:
                parts = urlsplit(request.uri)
                body = matching.parse_body(request.body)
                replay.sent.append(SentRequest(request.method, request.uri, parts.path, body))
                playable = bool(original(request))
                if not playable and not record:
                    why, cause = _explain_miss(replay, cassette, request)
                    replay.misses.append(why)
                    replay.miss_causes.append(cause)
                return playable

            cassette.can_play_response_for = can_play_response_for
            yield replay
    finally:
        if record and cassette_path is not None and path.is_file():
            path.replace(cassette_path)
