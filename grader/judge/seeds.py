"""Each check's seed for the sandbox's `random`: the same on every run of the check, and no name of it (a hidden
check's id must never reach the sandbox). Keyed by the check's own source, which the sandbox cannot read: editing
one check of a suite re-draws that check only, never its neighbours' draws (which known-wrong submissions'
expected failures may depend on)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
from collections.abc import Callable, Iterable

import pytest


@functools.cache
def source_key(function: Callable[..., object]) -> bytes:
    # inspect.getsource tokenizes the whole function: 1-2 ms a check, which a zygote pays once for all its judges
    return hashlib.sha256(inspect.getsource(function).encode()).digest()


def seed(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    key = source_key(function) if function is not None else hashlib.sha256(item.path.read_bytes()).digest()
    return hmac.new(key, item.nodeid.encode(), hashlib.sha256).hexdigest()[:32]


def warm(items: Iterable[pytest.Item]) -> None:
    """Every check's source key, computed now (in a warm judge, once for every judge forked from it)."""
    for item in items:
        seed(item)
