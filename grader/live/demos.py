"""Live demos: which of a student's functions `grader live EXERCISE` runs against the real APIs, and how.

A demo is data: each step names the provider whose client it needs and calls the student's module
with that client. The parent reads the steps (labels, providers) to check keys before anything is
sent; only the live child process (grader/live/child.py) calls them, so student code never runs in
the parent. To add a demo for another exercise, add a `Demo` to DEMOS: one prompt, few tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
MAX_TOKENS = 60  # live calls cost the student money: short replies are enough to see the point


@dataclass(frozen=True)
class Step:
    label: str  # shown to the student: what was called
    provider: str  # "openai" | "anthropic": the client the step is handed
    call: Callable[[ModuleType, object], object]  # (the student's module, client) -> what came back


@dataclass(frozen=True)
class Demo:
    exercise: str
    prompt: str
    steps: tuple[Step, ...]

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.provider for step in self.steps))


BASIC_PROMPT = "In one sentence, why do LLM APIs charge per token?"
TEMPERATURE_PROMPT = "Invent a name for a coffee shop run by robots. Reply with the name only."

DEMOS: dict[str, Demo] = {
    "basic_call": Demo(
        "basic_call",
        BASIC_PROMPT,
        (
            Step(
                "ask_openai(client, prompt)",
                "openai",
                lambda m, client: m.ask_openai(client, BASIC_PROMPT, max_tokens=MAX_TOKENS),
            ),
            Step(
                "ask_anthropic(client, prompt)",
                "anthropic",
                lambda m, client: m.ask_anthropic(client, BASIC_PROMPT, max_tokens=MAX_TOKENS),
            ),
        ),
    ),
    "temperature": Demo(
        "temperature",
        TEMPERATURE_PROMPT,
        (
            Step(
                "compare_temperatures(client, prompt, (0.0, 1.0))",
                "openai",
                lambda m, client: m.compare_temperatures(client, TEMPERATURE_PROMPT, (0.0, 1.0), max_tokens=MAX_TOKENS),
            ),
            Step(
                "sample_completions(client, prompt, temperature=1.0, n=3)",
                "openai",
                lambda m, client: m.sample_completions(
                    client, TEMPERATURE_PROMPT, temperature=1.0, n=3, max_tokens=MAX_TOKENS
                ),
            ),
        ),
    ),
}
