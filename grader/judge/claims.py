"""Which judge grades which exercise, when several judges share one submission's exercises.

Every judge of a run is handed every exercise, in the same order, and a folder of claims that only the
parent and its judges can reach. Before an exercise's first check, a judge claims it: a hard link from its own
lane file to the exercise's name, which exactly one judge can make. A judge that lost skips that exercise's
checks. A judge restarted after a crash keeps its lane, so it still owns what it claimed.

So a judge held up by a hanging function leaves the exercises it has not begun to any other judge, one the
parent starts when it sees the hang (`runner`), and the exercises spread over the judges by how long they take,
not by a guess made before grading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Claims:
    """One judge's side of a run's claims folder."""

    def __init__(self, folder: Path, lane: int) -> None:
        self._folder = folder
        self._mine = folder / f"lane-{lane}"
        # Not O_EXCL: a restarted judge of the same lane opens the same file, and so owns the same claims.
        os.close(os.open(self._mine, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        self._won: dict[str, bool] = {}  # a claim, once made, never moves

    def take(self, exercise: str) -> bool:
        """True when this judge grades `exercise`: it claimed it now, or its lane did before."""
        known = self._won.get(exercise)
        if known is not None:
            return known
        target = self._folder / f"exercise-{exercise}"
        try:
            os.link(self._mine, target)
            won = True
        except FileExistsError:
            won = os.path.samestat(os.lstat(target), os.lstat(self._mine))
        self._won[exercise] = won
        return won


def keep_claimed(items: list[T], start: int, exercise_of: Callable[[T], str], claims: Claims) -> None:
    """Leave out of `items[start:]` the checks of each exercise another judge has claimed, up to the first
    exercise this judge claims (the later ones are claimed when their turn comes)."""
    while start < len(items):
        exercise = exercise_of(items[start])
        if claims.take(exercise):
            return
        items[start:] = [item for item in items[start:] if exercise_of(item) != exercise]
