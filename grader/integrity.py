"""Notice and undo a submission's changes to pytest, the grader or builtins.

A submission runs in the same process as the checks, so it can monkeypatch the machinery that
judges it (pytest's runner and reports, the grader's outcome and channel code, builtins). The
originals are captured before any student code runs; after every check anything changed is put
back and the check is failed with the names of what was touched.
"""

from __future__ import annotations

import builtins
from typing import Any

import _pytest.python
import _pytest.reports
import _pytest.runner
import pytest

from grader import channel, clock, faults, leaks, outcomes, replay, streams, timeline


def _watched() -> list[tuple[Any, str]]:
    owners: list[Any] = [
        _pytest.python.Function,
        _pytest.runner,
        _pytest.runner.CallInfo,
        _pytest.reports.TestReport,
        _pytest.python,
        pytest,
        outcomes,
        outcomes.CheckRecord,
        channel.ChildChannel,
        replay,
        leaks,
        leaks.LeakWatch,
        leaks.LogWatcher,
        faults,  # the fault script's counting and notes, and the retry judge, decide retry checks
        faults.FaultInjector,
        clock,
        timeline,
        timeline.Retries,
        streams,  # the gate decides incremental-delivery checks
        streams.Gate,
        streams.Streams,
        streams.RecordingWriter,
    ]
    return [(owner, name) for owner in owners for name in list(vars(owner))]


class Snapshot:
    """The grading machinery as it was before student code ran."""

    def __init__(self) -> None:
        self._items = [(owner, name, vars(owner)[name]) for owner, name in _watched()]
        self._builtins = dict(vars(builtins))

    def restore(self) -> list[str]:
        """Put back whatever changed; the dotted names of what had changed."""
        changed = []
        for owner, name, original in self._items:
            current = vars(owner).get(name, _MISSING)
            if current is not original:
                setattr(owner, name, original)
                changed.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}")
        current_builtins = vars(builtins)
        for name, original in self._builtins.items():
            if current_builtins.get(name, _MISSING) is not original:
                setattr(builtins, name, original)
                changed.append(f"builtins.{name}")
        return changed


_MISSING = object()
