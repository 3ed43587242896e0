"""`grader comment`: post the score as a pull-request comment, or update the one posted before.

Reads GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN and the event payload at GITHUB_EVENT_PATH
(as set by GitHub Actions). Without a token, or outside a pull request, it does nothing (exit 0).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from grader.errors import UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_OK
from grader.reports import checked, github, markdown, pr_comment

NAME = "comment"
HELP = "post the grade report as a pull-request comment (create, or update the earlier one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", type=Path, default=Path("grade-report.json"), help="the JSON report to post")


def _load_report(path: Path) -> dict[str, Any]:
    """The report, checked and capped: the job that wrote it ran student code, so nothing in it is trusted."""
    try:
        return checked.load(path)
    except checked.ReportError as exc:
        raise UsageError(f"--report {exc}") from None


def _event(environ: Mapping[str, str]) -> dict[str, Any] | None:
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"GITHUB_EVENT_PATH={path}: cannot read the event payload ({exc})") from None
    return data if isinstance(data, dict) else None


def run(args: argparse.Namespace, console: Console) -> int:
    report = _load_report(args.report)
    environ = os.environ
    token = environ.get("GITHUB_TOKEN", "")
    if not token:
        console.print("No GITHUB_TOKEN set: not posting a pull-request comment (nothing to do).")
        return EXIT_OK
    event = _event(environ)
    number = pr_comment.pull_request_number(event) if event is not None else None
    if number is None:
        name = environ.get("GITHUB_EVENT_NAME") or "unknown"
        console.print(f"Not a pull-request event ({escape(name)}): no comment to post (nothing to do).")
        return EXIT_OK
    repository = environ.get("GITHUB_REPOSITORY", "")
    if repository.count("/") != 1:
        raise UsageError(f"GITHUB_REPOSITORY={repository!r}: expected owner/name (GitHub Actions sets it)")
    target = pr_comment.Target(
        api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
        repository=repository,
        number=number,
        token=token,
    )
    try:
        body = markdown.render(report) if report.get("complete", True) is not False else github.INCOMPLETE
        action, url = pr_comment.post(target, body)
    except pr_comment.GitHubAPIError as exc:
        console.print(f"[bold red]Could not post the pull-request comment:[/] {escape(str(exc))}")
        if exc.status in (403, 404):
            console.print(
                "The token may lack `pull-requests: write` (the workflow's permissions), or the pull "
                "request comes from a fork, whose token is read-only."
            )
        return EXIT_BELOW
    console.print(f"Pull-request comment {action} on #{number}{': ' + escape(url) if url else ''}")
    return EXIT_OK
