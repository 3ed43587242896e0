"""Create or update the grader's pull-request comment through the GitHub REST API (urllib only).

The comment carries a hidden HTML marker; the next run finds it and edits it instead of adding
another, so a pull request has one score comment however often it is pushed to.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

MARKER = "<!-- llm-api-grader:score-comment -->"
PER_PAGE = 100
TIMEOUT = 30.0


class GitHubAPIError(Exception):
    """The API answered with an error status, or could not be reached."""

    def __init__(self, method: str, url: str, status: int | None, detail: str) -> None:
        self.status = status
        where = f"{method} {url}"
        super().__init__(f"{where} returned HTTP {status}: {detail}" if status else f"{where} failed: {detail}")


@dataclass(frozen=True)
class Target:
    api_url: str  # e.g. https://api.github.com (GITHUB_API_URL)
    repository: str  # owner/name (GITHUB_REPOSITORY)
    number: int  # the pull request's number
    token: str


def _request(target: Target, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    url = target.api_url.rstrip("/") + path
    data = json.dumps(payload).encode("utf-8") if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("Authorization", f"Bearer {target.token}")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    request.add_header("User-Agent", "llm-api-grader")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        try:
            detail = str(json.loads(detail).get("message", detail))
        except (ValueError, AttributeError):
            pass
        raise GitHubAPIError(method, url, exc.code, detail.strip()[:500] or exc.reason) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise GitHubAPIError(method, url, None, str(reason)) from None
    return json.loads(body) if body else None


def find_existing(target: Target) -> dict[str, Any] | None:
    """Our earlier comment on the pull request (the marker opens its body), else None."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        path = f"/repos/{target.repository}/issues/{target.number}/comments?per_page={PER_PAGE}&page={page}"
        comments = _request(target, "GET", path)
        if not isinstance(comments, list):
            raise GitHubAPIError("GET", path, None, "expected a list of comments")
        found += [c for c in comments if isinstance(c, dict) and str(c.get("body", "")).startswith(MARKER)]
        if len(comments) < PER_PAGE:
            break
        page += 1
    # Prefer the Actions bot's own comment, should someone have pasted the marker into theirs.
    found.sort(key=lambda c: (c.get("user") or {}).get("login") != "github-actions[bot]")
    return found[0] if found else None


def post(target: Target, markdown: str) -> tuple[str, str]:
    """Create the comment or update ours; returns ("created" | "updated", its html_url)."""
    body = f"{MARKER}\n{markdown}"
    existing = find_existing(target)
    if existing is None:
        made = _request(target, "POST", f"/repos/{target.repository}/issues/{target.number}/comments", {"body": body})
        return "created", str((made or {}).get("html_url", ""))
    updated = _request(target, "PATCH", f"/repos/{target.repository}/issues/comments/{existing['id']}", {"body": body})
    return "updated", str((updated or {}).get("html_url", ""))


def pull_request_number(event: dict[str, Any]) -> int | None:
    """The pull request's number from a workflow event payload, None for other events."""
    pull_request = event.get("pull_request")
    if isinstance(pull_request, dict) and isinstance(pull_request.get("number"), int):
        return int(pull_request["number"])
    return None
