"""Ctrl-C in a command that stops its judges and clears their folders on the way out (`grade`, `batch`): the first
Ctrl-C raises KeyboardInterrupt where the command is, and any later one is ignored until the process has exited.
People press Ctrl-C twice; a second KeyboardInterrupt landing in that clean-up would cut it short and leave
judges' folders, or a traceback, behind. `grade --watch` stops on more signals, the same way (`watch.py`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def first_only() -> Iterator[None]:
    # Only Python's own Ctrl-C handling is replaced: a program embedding the grader, or a shell that started it
    # with Ctrl-C ignored (nohup, `&`), keeps its own.
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    pressed: list[int] = []

    def first(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        pressed.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        # Once stopped, the process is on its way out: Ctrl-C stays ignored, or a press as it exits would end it
        # by SIGINT (exit -2) or with a traceback instead of its one line and exit code 130.
        if not pressed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
