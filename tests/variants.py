"""Correct submissions in other styles than the reference: each must score full marks.

Each variant is the reference solution (`tests/reference/`) with text edits that the contract
(`shared/exercises.md`) allows; a check that fails one of them is unfair to correct code.
"""
# ruff: noqa: E501  (edits quote whole source lines of the reference)

from __future__ import annotations

from tests.wrong.catalogue import Mutant


def variant(exercise: str, name: str, description: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(exercise, name, description, (), tuple(edits))


VARIANTS = (
    variant(
        "error_handler",
        "skips_zero_sleep",
        "does not call sleep(0) when the delay is 0 (nothing observable differs)",
        ("            time.sleep(delay)\n", "            if delay > 0:\n                time.sleep(delay)\n"),
    ),
)
