"""Strict comparisons for suites: a value must have the expected type as well as compare equal.

Plain `==` trusts the student's object (`__eq__` may always say True, a str subclass may lie);
these helpers check exact built-in types first, recursively, and only then compare.
"""

from __future__ import annotations

from typing import Any


def same(actual: Any, expected: Any) -> bool:
    """True when `actual` equals `expected` with exactly the same built-in types throughout."""
    if type(expected) in (int, float) and type(actual) in (int, float):
        return bool(float(actual) == float(expected))
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, dict):
        return list(actual) == list(expected) and all(
            same(ka, ke) and same(actual[ka], expected[ke]) for ka, ke in zip(actual, expected, strict=True)
        )
    if isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected, strict=True))
    return bool(expected == actual)
