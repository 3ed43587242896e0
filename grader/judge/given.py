"""The judge's own copy of the contract's given dataclasses (defined once, in grader/given.py): values of
these types are rebuilt here from their fields, so a check never runs a method of the submission's classes."""

from __future__ import annotations

from grader.given import REGISTRY, ChatReply, Usage

__all__ = ["GIVEN", "ChatReply", "Usage"]

GIVEN: dict[str, type] = {name: cls for name, (_, cls) in REGISTRY.items()}
