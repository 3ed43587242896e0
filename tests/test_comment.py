"""`grader comment` against a local server on 127.0.0.1 acting as the GitHub REST API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from grader import cli
from grader.reports import github
from grader.reports.pr_comment import MARKER

REPO = "course/student-repo"
PR = 7
TOKEN = "ghs-test-token"


@dataclass
class FakeGitHub:
    """Issue comments of one pull request: list (paginated), create, update."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, authorization
    fail: dict[str, int] = field(default_factory=dict)  # method -> status to answer with
    next_id: int = 1000

    def add(self, body: str, login: str = "someone") -> dict[str, Any]:
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.example/{REPO}/pull/{PR}#issuecomment-{self.next_id}",
        }
        self.comments.append(comment)
        return comment

    def ours(self) -> list[dict[str, Any]]:
        return [c for c in self.comments if c["body"].startswith(MARKER)]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    list_path = f"/repos/{REPO}/issues/{PR}/comments"
    edit_prefix = f"/repos/{REPO}/issues/comments/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length", "0"))
            return dict(json.loads(self.rfile.read(length)))

        def _handle(self) -> None:
            url = urlparse(self.path)
            state.requests.append((self.command, url.path, self.headers.get("Authorization")))
            if self.command in state.fail:
                self._send(state.fail[self.command], {"message": "Resource not accessible by integration"})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials"})
                return
            if self.command == "GET" and url.path == list_path:
                query = parse_qs(url.query)
                per_page, page = int(query["per_page"][0]), int(query["page"][0])
                self._send(200, state.comments[(page - 1) * per_page : page * per_page])
            elif self.command == "POST" and url.path == list_path:
                self._send(201, state.add(self._body()["body"], login="github-actions[bot]"))
            elif self.command == "PATCH" and url.path.startswith(edit_prefix):
                wanted = int(url.path.removeprefix(edit_prefix))
                comment = next((c for c in state.comments if c["id"] == wanted), None)
                if comment is None:
                    self._send(404, {"message": "Not Found"})
                    return
                comment["body"] = self._body()["body"]
                self._send(200, comment)
            else:
                self._send(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@pytest.fixture
def github_api() -> Iterator[tuple[FakeGitHub, str]]:
    """A GitHub API stand-in on 127.0.0.1; yields its state and base URL."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _report(path: Path, score: int) -> Path:
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "score": score,
                "max_score": 10,
                "exercises": [
                    {
                        "id": "basic_call",
                        "score": score,
                        "max_score": 10,
                        "hidden_points_not_run": 0,
                        "tests": [
                            {"id": "a", "name": "Check A", "score": score, "max_score": 10,
                             "status": "passed" if score == 10 else "failed", "visibility": "visible",
                             "hint": "Do A.", "feedback": "" if score == 10 else "A went wrong"},
                        ],
                    }
                ],
                "notes": [],
            }
        )
    )  # fmt: skip
    return path


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str, event: dict[str, Any]) -> None:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps at 80 columns when not on a terminal
    monkeypatch.setenv("GITHUB_API_URL", base_url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event_path))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request" if "pull_request" in event else "push")


PR_EVENT = {"action": "synchronize", "number": PR, "pull_request": {"number": PR}}


def test_comment_is_created_then_updated_never_duplicated(github_api, tmp_path, monkeypatch, capsys):
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 4))]) == 0
    assert "created" in capsys.readouterr().out
    assert len(state.ours()) == 1 and "## Grade: 4/10" in state.ours()[0]["body"]
    assert "A went wrong" in state.ours()[0]["body"]
    first_id = state.ours()[0]["id"]

    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 10))]) == 0
    assert "updated" in capsys.readouterr().out
    assert len(state.comments) == 1 and state.ours()[0]["id"] == first_id
    assert "## Grade: 10/10" in state.ours()[0]["body"] and "4/10" not in state.ours()[0]["body"]
    assert [m for m, _, _ in state.requests] == ["GET", "POST", "GET", "PATCH"]
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in state.requests)


def test_the_earlier_comment_is_found_on_a_later_page(github_api, tmp_path, monkeypatch):
    state, url = github_api
    for i in range(100):
        state.add(f"review comment {i}")
    state.add(f"quoting the bot: {MARKER}")  # the marker must open the body
    ours = state.add(f"{MARKER}\nold score", login="github-actions[bot]")
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 6))]) == 0
    assert len(state.comments) == 102
    assert ours["body"].startswith(MARKER) and "## Grade: 6/10" in ours["body"]
    assert [m for m, _, _ in state.requests] == ["GET", "GET", "PATCH"]


def test_missing_token_is_a_no_op(github_api, tmp_path, monkeypatch, capsys):
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    monkeypatch.delenv("GITHUB_TOKEN")
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 4))]) == 0
    assert "No GITHUB_TOKEN" in capsys.readouterr().out
    assert state.requests == []


def test_push_event_is_a_no_op(github_api, tmp_path, monkeypatch, capsys):
    state, url = github_api
    _env(monkeypatch, tmp_path, url, {"ref": "refs/heads/main", "commits": []})
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 4))]) == 0
    assert "Not a pull-request event (push)" in capsys.readouterr().out
    assert state.requests == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_api_error_is_reported_with_its_status(github_api, tmp_path, monkeypatch, capsys, method):
    state, url = github_api
    state.fail[method] = 403
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 4))]) == 1
    out = capsys.readouterr().out
    assert "HTTP 403" in out and "Resource not accessible by integration" in out and method in out
    assert state.ours() == []


def test_unreachable_api_is_an_error(tmp_path, monkeypatch, capsys):
    _env(monkeypatch, tmp_path, "http://127.0.0.1:9", PR_EVENT)  # the discard port: nothing listens
    assert cli.main(["comment", "--report", str(_report(tmp_path / "r.json", 4))]) == 1
    assert "Could not post" in capsys.readouterr().out


def test_missing_report_is_a_staff_error_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    assert cli.main(["comment", "--report", str(tmp_path / "nowhere.json")]) == 2
    assert "nowhere.json" in capsys.readouterr().out


# -- issue 20 class 13: the report comes from the job that ran student code ------------------------------


def _forged(path: Path, mutate: Any) -> Path:
    _report(path, 4)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d.update(exercises="all of them"), id="exercises-not-a-list"),
        pytest.param(lambda d: d["exercises"][0].update(tests=[{"id": 1}]), id="check-without-fields"),
        pytest.param(lambda d: d["exercises"][0]["tests"][0].update(status="passed-honestly"), id="unknown-status"),
        pytest.param(lambda d: d["exercises"][0]["tests"][0].update(name=["a", "list"]), id="name-not-text"),
        pytest.param(lambda d: d.update(score="10/10"), id="score-not-a-number"),
        pytest.param(lambda d: d.update(score=-5), id="score-negative"),
        pytest.param(lambda d: d["exercises"][0].update(tests=7), id="tests-not-a-list"),
        pytest.param(lambda d: d.update(schema=2), id="unknown-schema"),
    ],
)
def test_class13_a_malformed_report_is_refused_with_exit_2_and_no_traceback(
    github_api, tmp_path, monkeypatch, capsys, mutate
):
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    code = cli.main(["comment", "--report", str(_forged(tmp_path / "r.json", mutate))])
    out = capsys.readouterr()
    assert code == 2, out
    assert "r.json" in out.out and "not a valid grade report" in out.out
    assert "Traceback" not in out.out + out.err
    assert state.ours() == []  # nothing posted


def test_class13_a_deeply_nested_or_huge_report_is_refused(github_api, tmp_path, monkeypatch, capsys):
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    deep = tmp_path / "deep.json"
    deep.write_text('{"schema": 1, "score": 1, "max_score": 1, "exercises": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert cli.main(["comment", "--report", str(deep)]) == 2
    huge = tmp_path / "huge.json"
    with open(huge, "w") as f:
        f.write('{"schema": 1, "notes": ["' + "x" * (17 * 1024 * 1024) + '"]}')
    assert cli.main(["comment", "--report", str(huge)]) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "MiB" in out.out
    assert state.ours() == []


def test_class13_names_hints_and_notes_are_capped_so_the_comment_fits(github_api, tmp_path, monkeypatch):
    """Thousands of checks with long names and hints (all within the schema): the comment stays postable."""
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)

    def flood(data: dict[str, Any]) -> None:
        check = {"id": "x", "name": "N" * 1_000, "score": 0, "max_score": 1, "status": "failed",
                 "visibility": "visible", "hint": "H <script>alert(1)</script>" * 40,
                 "feedback": "F" * 1_000}  # fmt: skip
        data["exercises"] = [{"id": f"e{i}", "score": 0, "max_score": 1, "tests": [check] * 100} for i in range(10)]
        data["notes"] = ["n" * 10_000] * 100

    assert cli.main(["comment", "--report", str(_forged(tmp_path / "r.json", flood))]) == 0
    (posted,) = state.ours()
    assert len(posted["body"]) <= 65_536
    assert "<script>" not in posted["body"]
    assert "The rest was cut" in posted["body"]
    assert posted["body"].count("```") % 2 == 0  # no code block left open by the cut


def test_a_grade_that_did_not_complete_is_commented_without_points(github_api, tmp_path, monkeypatch):
    """`complete: false` (a harness problem): the comment says grading did not complete and shows no score."""
    state, url = github_api
    _env(monkeypatch, tmp_path, url, PR_EVENT)
    path = _report(tmp_path / "r.json", 4)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "complete": False}))
    assert cli.main(["comment", "--report", str(path)]) == 0
    body = state.ours()[0]["body"]
    assert github.INCOMPLETE in body and "4/10" not in body and "Grade:" not in body
