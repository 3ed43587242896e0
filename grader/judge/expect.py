"""Strict comparisons for suites: a value must have the expected type as well as compare equal.

Plain `==` trusts the student's object (`__eq__` may always say True, a str subclass may lie);
these helpers check exact built-in types first, recursively, and only then compare. A dict's key
order counts only where the contract gives one (`ordered=True`).
"""

from __future__ import annotations

from typing import Any

_NUMBERS = (int, float)


def same(actual: Any, expected: Any, *, ordered: bool = False) -> bool:
    """True when `actual` equals `expected` with exactly the same built-in types throughout."""
    return difference(actual, expected, ordered=ordered) is None


def _kind(value: Any) -> str:
    name = type(value).__name__
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def difference(actual: Any, expected: Any, *, ordered: bool = False, where: str = "") -> str | None:
    """The first way `actual` differs from `expected`, in words that name the type when the type differs."""
    at = f" at {where}" if where else ""
    if type(expected) in _NUMBERS and type(actual) in _NUMBERS:
        return None if float(actual) == float(expected) else f"{_show(actual)}{at} where {_show(expected)} is expected"
    if type(actual) is not type(expected):
        return f"{_kind(actual)} ({_show(actual)}){at} where {_kind(expected)} is expected"
    if isinstance(expected, dict):
        return _dict_difference(actual, expected, ordered=ordered, where=where)
    if isinstance(expected, list | tuple):
        if len(actual) != len(expected):
            return f"{len(actual)} item(s){at} where {len(expected)} are expected"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            found = difference(a, e, ordered=ordered, where=f"{where}[{i}]")
            if found:
                return found
        return None
    return None if bool(expected == actual) else f"{_show(actual)}{at} where {_show(expected)} is expected"


def _dict_difference(actual: dict[Any, Any], expected: dict[Any, Any], *, ordered: bool, where: str) -> str | None:
    at = f" in {where}" if where else ""
    keys: list[Any] = []
    for ke in expected:
        match = next((ka for ka in actual if same(ka, ke)), _MISSING)
        if match is _MISSING:
            near = next((ka for ka in actual if not same(ka, ke) and _loosely_equal(ka, ke)), _MISSING)
            if near is not _MISSING:
                wanted = f"the key {_show(ke)} ({type(ke).__name__})"
                return f"key {_show(near)} is {_kind(near)}{at} where {wanted} is expected"
            return f"key {_show(ke)} is missing{at}"
        keys.append(match)
    extra = [ka for ka in actual if not any(ka is k for k in keys)]
    if extra:
        return f"unexpected key {_show(extra[0])}{at}"
    if ordered and list(actual) != keys:
        return f"keys{at} are in the order {_show(list(actual))}; the expected order is {_show(list(expected))}"
    for ka, ke in zip(keys, expected, strict=True):
        found = difference(actual[ka], expected[ke], ordered=ordered, where=f"{where}[{ke!r}]")
        if found:
            return found
    return None


def _loosely_equal(a: Any, b: Any) -> bool:
    """The same value written as another type (`'0.0'` for `0.0`): worth naming the type."""
    try:
        return str(a) == str(b) or float(a) == float(b)
    except (TypeError, ValueError):
        return False


_MISSING = object()
