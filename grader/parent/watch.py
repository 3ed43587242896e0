"""`grade --watch`: grade once, then again each time a module of the submission is saved, until Ctrl-C.

The folder is watched by watchfiles (the OS's own notifications: inotify, FSEvents, ReadDirectoryChangesW),
from before the first round, so a save during any round is never missed: it starts the next round once the
current one has printed its total. Finishing the round, not cancelling it, is deliberate: a student who saves
every few seconds still sees every table, and nothing is killed half-way but on Ctrl-C.

Every round's judge is forked from one warm judge and forks its sandboxes from one warm fork server
(`runner.warm_workers`), so a round costs the checks, not pytest's start-up or an SDK import. Ctrl-C (or
SIGTERM, or the terminal closing) abandons a round where it is; the judge, the warm judge, the fork server
and every sandbox are ended and their folders removed before the command exits with 128 + the signal (130
for Ctrl-C).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console
from watchfiles import Change, PythonFilter
from watchfiles import main as watchfiles_main
from watchfiles._rust_notify import RustNotify

from grader.errors import StaffError
from grader.parent import changes, processes, runner, untrusted

DEBOUNCE_MS = 1600  # watchfiles' default: saves closer together than this (an editor's save-all) are one round
STEP_MS = 50  # a round starts once no further save came for this long
WAIT_MS = 0  # no timeout: the watcher sleeps in the OS until something is saved
# Ctrl-C, `kill`, and the terminal closing: each ends the watch the same clean way.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

_received: list[int] = []  # the stop signal that arrived, for the exit code

Round = Callable[[tuple[str, ...]], None]  # grades these exercises and prints the table; raises what it cannot


class Stopped(KeyboardInterrupt):
    """A stop signal arrived (Ctrl-C): the watch ends, whatever it was doing. A KeyboardInterrupt, so that no
    `except Exception` on the way swallows it and every `finally` (and `except BaseException`) cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Watcher:
    """The submission folder's saved Python modules, as paths relative to it; watching starts at once."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder.resolve()
        self._filter = PythonFilter()
        # The same defaults as watchfiles.watch() (polling on WSL, WATCHFILES_* variables), but the watch
        # starts here, before the first round, not at the first wait.
        self._notify = RustNotify(
            [str(self._folder)],
            watchfiles_main._default_debug(None),
            watchfiles_main._default_force_polling(None),
            watchfiles_main._default_poll_delay_ms(300),
            True,
            watchfiles_main._default_ignore_permission_denied(None),
        )

    def wait(self) -> tuple[str, ...]:
        """Blocks until a module is saved (or created, or deleted); what was saved since the last call."""
        while True:
            raw = self._notify.watch(DEBOUNCE_MS, STEP_MS, WAIT_MS, None)
            if raw == "signal":
                # A stop signal's handler raised while watchfiles waited: watchfiles says "signal" instead.
                raise Stopped(_received[-1] if _received else signal.SIGINT)
            if isinstance(raw, str):  # "timeout" or "stop": neither is asked for; wait on
                continue
            saved = {self._relative(path) for change, path in raw if self._filter(Change(change), path)}
            saved.discard("")
            if saved:
                return tuple(sorted(saved))

    def _relative(self, path: str) -> str:
        try:
            return Path(path).relative_to(self._folder).as_posix()
        except ValueError:
            return ""

    def close(self) -> None:
        self._notify.close()


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Each stop signal raises Stopped where the watch is; later ones are ignored, so that nothing cuts the
    clean-up short (a second Ctrl-C would otherwise leave the judge or the fork server running)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder for everything this watch and its children create, removed at the end: a judge
    killed half-way (Ctrl-C) cannot remove its own boxes, and nobody else knows their names."""
    scratch = Path(tempfile.mkdtemp(prefix="grader-watch-"))
    before, before_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(scratch)  # here and in every judge (it inherits TMPDIR)
    try:
        yield scratch
    finally:
        tempfile.tempdir = before
        if before_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before_env
        _remove(scratch)


def _remove(folder: Path) -> None:
    """`folder` and all in it, also where a sandbox (of our own uid, without root) took away our permissions."""

    def allow_and_retry(function: Callable[..., object], path: str, error: object) -> None:
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                _remove(Path(path))
            else:
                function(path)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=allow_and_retry)
    else:
        shutil.rmtree(folder, onerror=allow_and_retry)


def run(
    folder: Path,
    watched: Sequence[str],
    exercise_ids: Sequence[str],
    grade_round: Round,
    console: Console,
    *,
    every_time: bool = False,
) -> int:
    """Grade `watched`, then re-grade after every save until a stop signal; returns 128 + that signal."""
    stopped: int = signal.SIGINT
    waiting = untrusted.plain(f"Watching {folder} for saved modules (Ctrl-C to stop).")  # a folder name is no markup
    with _stop_on_signals(), _scratch():
        try:
            with runner.warm_workers():
                watcher = Watcher(folder)
                try:
                    _round(grade_round, tuple(watched), console)
                    while True:
                        console.print(waiting, soft_wrap=True)
                        plan = changes.plan(
                            watcher.wait(), watched, exercise_ids, changes.imports_of(folder, exercise_ids),
                            every_time=every_time,
                        )  # fmt: skip
                        console.print(untrusted.plain(plan.header(watched), style="bold"), soft_wrap=True)
                        if plan.regrade:
                            _round(grade_round, plan.regrade, console)
                finally:
                    watcher.close()
        except Stopped as signalled:
            stopped = signalled.signum
        finally:
            processes.end_children()  # a judge caught between its start and its record is ended too
    console.print("Stopped watching: no grading process is left running.")
    return 128 + int(stopped)


def _round(grade_round: Round, exercises: tuple[str, ...], console: Console) -> None:
    """One round; what the harness could not grade is said and the watch goes on (the next save may fix it)."""
    try:
        grade_round(exercises)
    except StaffError as exc:
        console.print(untrusted.plain(f"grader: {exc}", style="bold red"), soft_wrap=True)
