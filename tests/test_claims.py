"""Judges sharing a run's exercises (`grader.judge.claims`): each exercise is graded by exactly one judge, a
restarted judge keeps what its lane claimed, and a judge skips only the exercises another one claimed."""

from __future__ import annotations

import threading
from pathlib import Path

from grader.judge.claims import Claims, keep_claimed


def _claimed_at_once(folder: Path, lanes: int, exercise: str) -> list[bool]:
    """Each of `lanes` judges claims `exercise` at the same moment, from threads released together."""
    judges = [Claims(folder, lane) for lane in range(lanes)]
    won = [False] * lanes
    start = threading.Barrier(lanes)

    def claim(i: int) -> None:
        start.wait()
        won[i] = judges[i].take(exercise)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_one_exercise_goes_to_exactly_one_lane_even_when_they_claim_at_once(tmp_path: Path):
    for round_ in range(20):
        folder = tmp_path / str(round_)
        folder.mkdir()
        won = _claimed_at_once(folder, 4, "error_handler")
        assert won.count(True) == 1, won


def test_a_restarted_judge_of_the_same_lane_still_owns_what_its_lane_claimed(tmp_path: Path):
    first, other = Claims(tmp_path, 0), Claims(tmp_path, 1)
    assert first.take("basic_call") and not other.take("basic_call")
    restarted = Claims(tmp_path, 0)  # a judge started again after a crash: same lane, a new process
    assert restarted.take("basic_call")
    assert restarted.take("temperature")  # and it claims more as before
    assert not other.take("temperature")


def test_a_judge_leaves_out_the_exercises_others_claimed_up_to_the_next_one_it_claims(tmp_path: Path):
    mine, other = Claims(tmp_path, 0), Claims(tmp_path, 1)
    assert other.take("b") and other.take("d")
    items = ["a1", "a2", "b1", "b2", "c1", "d1", "e1"]
    exercise_of = lambda item: item[0]  # noqa: E731
    assert mine.take("a")
    keep_claimed(items, 2, exercise_of, mine)  # a ended: b is another's, c is free
    assert items == ["a1", "a2", "c1", "d1", "e1"]
    assert not (tmp_path / "exercise-e").exists()  # e is claimed when its turn comes, not before
    keep_claimed(items, 3, exercise_of, mine)  # c ended: d is another's, e is free
    assert items == ["a1", "a2", "c1", "e1"]
    assert not other.take("c") and not other.take("e")
    everything = ["b1", "d1"]
    keep_claimed(everything, 0, exercise_of, mine)
    assert everything == []  # nothing left for this judge: it runs no check
