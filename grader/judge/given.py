"""The judge's own copy of the contract's given dataclasses: values of these types are rebuilt here
from their fields, so a check never runs a method of the submission's classes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ChatReply:
    provider: str
    model: str
    text: str
    usage: Usage


GIVEN: dict[str, type] = {"Usage": Usage, "ChatReply": ChatReply}
