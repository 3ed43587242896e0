"""The course: which exercises exist, in course order, and what each is worth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
SUITES_DIR = PACKAGE_DIR / "suites"
CASSETTES_DIR = PROJECT_DIR / "cassettes"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    weight: int


# Course order. Each weight is that exercise's own: a new exercise adds its points and the course total
# (COURSE_MAX, which every report shows) grows by them, so no other exercise's points ever change.
# Today's seven sum to 100. An exercise is graded once its suite exists.
COURSE: tuple[Exercise, ...] = (
    Exercise("basic_call", "Basic call", 10),
    Exercise("temperature", "Temperature experiment", 10),
    Exercise("token_counter", "Token counter", 15),
    Exercise("error_handler", "Error handler", 25),
    Exercise("streaming_chat", "Streaming chat", 20),
    Exercise("api_keys", "API keys", 10),
    Exercise("providers", "Providers", 10),
)
COURSE_MAX = sum(e.weight for e in COURSE)

# When Gradescope shows hidden checks to students: "after_due_date", "after_published" or "hidden"
# (never). Gradescope hides a student's total while any test is not yet visible to them.
# `grade --gradescope-hidden VALUE` overrides it for one run.
HIDDEN_VISIBILITY = "after_due_date"


def exercise(exercise_id: str) -> Exercise:
    """The course exercise with that id; KeyError when there is none."""
    for e in COURSE:
        if e.id == exercise_id:
            return e
    raise KeyError(exercise_id)


def gradable(suites_dir: Path = SUITES_DIR) -> tuple[Exercise, ...]:
    """The exercises whose suite directory exists, in course order."""
    return tuple(e for e in COURSE if (suites_dir / e.id).is_dir())
