"""`grader live` against the local fake API: what came back, tokens and cost, and nothing sent without a key."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.live import demos, pricing
from tests.conftest import REFERENCE, STUBS
from tests.support.fake_api import FakeAPI, anthropic_message, openai_chat


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    """A fake OpenAI + Anthropic API on 127.0.0.1."""
    with FakeAPI(seed=5) as api:
        yield api


def live(
    fake: FakeAPI, *args: str, keys: tuple[str, ...] = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"), cwd: Path | None = None
):
    env = {k: v for k, v in os.environ.items() if k not in demos.KEY_VARIABLES.values()}
    env.update(OPENAI_BASE_URL=fake.openai_base_url, ANTHROPIC_BASE_URL=fake.base_url, COLUMNS="200")
    env.update({name: f"sk-{'ant-' if 'ANTHROPIC' in name else ''}test-live" for name in keys})
    process = subprocess.run(
        [sys.executable, "-m", "grader", "live", *args], capture_output=True, text=True, env=env, timeout=120, cwd=cwd
    )
    return process.returncode, process.stdout + process.stderr


def test_basic_call_shows_replies_tokens_and_cost(fake: FakeAPI):
    fake.queue(
        openai_chat(["Tokens are the unit of work."], usage=(1000, 2000)),
        anthropic_message(
            [{"type": "text", "text": "Because compute scales with tokens."}],
            usage={"input_tokens": 1000, "output_tokens": 500},
        ),
    )
    code, output = live(fake, "basic_call", "--submission", str(REFERENCE))
    assert code == 0, output
    assert "'Tokens are the unit of work.'" in output and "'Because compute scales with tokens.'" in output
    openai_cost = pricing.cost("gpt-4o-mini", 1000, 2000)
    anthropic_cost = pricing.cost("claude-haiku-4-5", 1000, 500)
    assert openai_cost is not None and anthropic_cost is not None
    assert "│         1000 │          2000 │" in output  # tokens from the reply's usage
    for row in (f"${openai_cost:.6f}", f"${anthropic_cost:.6f}", f"${openai_cost + anthropic_cost:.6f}"):
        assert row in output
    assert "gpt-4o-mini-2024-07-18" in output and "claude-haiku-4-5-20251001" in output
    sent = [r.json() for r in fake.requests]
    assert [r.path for r in fake.requests] == ["/v1/chat/completions", "/v1/messages"]
    assert all(body["messages"][-1]["content"] == demos.BASIC_PROMPT for body in sent)


def test_temperature_runs_both_functions(fake: FakeAPI):
    code, output = live(fake, "temperature", "--submission", str(REFERENCE))
    assert code == 0, output
    temperatures = [r.json().get("temperature") for r in fake.requests]
    assert temperatures == [0.0, 1.0, 1.0]
    assert fake.requests[-1].json()["n"] == 3
    assert "0.0: '" in output and "[2] '" in output and "total" in output


def test_missing_key_names_the_variable_and_sends_nothing(fake: FakeAPI):
    code, output = live(fake, "basic_call", "--submission", str(REFERENCE), keys=("OPENAI_API_KEY",))
    assert code == 2
    assert "ANTHROPIC_API_KEY is not set" in output and "nothing was sent" in output
    assert "--provider openai" in output
    assert fake.requests == []


def test_keys_are_read_from_dot_env_in_the_current_directory(fake: FakeAPI, tmp_path: Path):
    """A key in ./.env is used when the environment has none; the output names the variable, never the value."""
    fake.queue(
        openai_chat(["From the dotenv key."], usage=(10, 20)),
        anthropic_message([{"type": "text", "text": "Also."}], usage={"input_tokens": 10, "output_tokens": 5}),
    )
    (tmp_path / ".env").write_text(
        "# my keys\nexport OPENAI_API_KEY='sk-test-dotenv-openai'\nANTHROPIC_API_KEY=sk-ant-test-dotenv\n"
    )
    code, output = live(fake, "basic_call", "--submission", str(REFERENCE), keys=(), cwd=tmp_path)
    assert code == 0, output
    assert "Read OPENAI_API_KEY, ANTHROPIC_API_KEY from .env" in output
    assert "sk-test-dotenv-openai" not in output
    sent = [r.headers.get("authorization", "") + r.headers.get("x-api-key", "") for r in fake.requests]
    assert any("sk-test-dotenv-openai" in h for h in sent) and any("sk-ant-test-dotenv" in h for h in sent)


def test_missing_key_with_no_dot_env_sends_nothing(fake: FakeAPI, tmp_path: Path):
    """Without a key in the environment or ./.env nothing is sent, and the message says where it looked."""
    code, output = live(fake, "basic_call", "--submission", str(REFERENCE), keys=(), cwd=tmp_path)
    assert code == 2 and "looked in the environment and in .env" in output
    assert fake.requests == []


def test_provider_option_runs_only_that_providers_calls(fake: FakeAPI):
    code, output = live(
        fake, "basic_call", "--submission", str(REFERENCE), "--provider", "openai", keys=("OPENAI_API_KEY",)
    )
    assert code == 0, output
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]
    assert "ask_anthropic" not in output


def test_exercise_without_a_demo_says_so(fake: FakeAPI):
    code, output = live(fake, "error_handler")
    assert code == 2
    assert "has no live demo yet" in output and "basic_call" in output
    assert fake.requests == []


def test_stub_failure_is_shown_per_call_and_exits_1(fake: FakeAPI):
    code, output = live(fake, "basic_call", "--submission", str(STUBS))
    assert code == 1
    assert "not implemented yet (exercises/basic_call.py, line" in output
    assert fake.requests == []


def test_student_code_runs_in_a_child_process(fake: FakeAPI, tmp_path: Path):
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "imported-by.txt"
    module = submission / "basic_call.py"
    source = module.read_text().replace(
        "from __future__ import annotations\n",
        f"from __future__ import annotations\nimport os\nopen({str(marker)!r}, 'w').write(str(os.getppid()))\n",
    )
    module.write_text(source)
    env = {**os.environ, "OPENAI_BASE_URL": fake.openai_base_url, "ANTHROPIC_BASE_URL": fake.base_url}
    env.update(OPENAI_API_KEY="sk-test-live", ANTHROPIC_API_KEY="sk-ant-test-live")
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "live", "basic_call", "--submission", str(submission)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    # The module was imported by a process whose parent is the CLI: a child, never the CLI itself.
    assert marker.read_text() == str(process.pid)
