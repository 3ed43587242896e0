"""The contract's given dataclasses, in one place: the sandbox sends their fields and the judge rebuilds them.

To give students a new dataclass, define it here as the contract states it, under `@given("<exercise id>")`
(the module of `exercises/` that defines it), and write the same class in that exercise's stub. The
sandbox (grader/sandbox/inside/values.py) then sends a value of the submission's class as its fields, and the
judge (grader/judge/given.py, its own import of this file in its own process) rebuilds it as this class,
so a check never runs a method of the submission's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypeVar

T = TypeVar("T")

# class name -> (exercise module that defines it, this module's copy of the class)
REGISTRY: dict[str, tuple[str, type]] = {}


def given(exercise_id: str) -> Callable[[type[T]], type[T]]:
    """Register a given dataclass of the exercise `exercise_id`."""

    def register(cls: type[T]) -> type[T]:
        REGISTRY[cls.__name__] = (exercise_id, cls)
        return cls

    return register


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@given("token_counter")
@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@given("providers")
@dataclass(frozen=True)
class ChatReply:
    provider: str
    model: str
    text: str
    usage: Usage
