"""Exceptions that separate the two audiences: course staff and students."""


class StaffError(Exception):
    """The harness itself cannot grade (broken suite, cassette, rubric or arguments).

    The message is for course staff: it names the file or value at fault and what to do.
    A student never loses points silently because of one; the run exits with code 2.
    """


class UsageError(StaffError):
    """The command line was given something it cannot use (exit code 2)."""
