"""Official grading (Gradescope, batch, CI) refuses a sandbox below the full level unless told otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping

from grader.errors import UsageError
from grader.sandbox import confinement


def is_ci(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def require_full(mode: str, *, allow_weak: bool) -> None:
    """UsageError (exit 2) naming the missing layers when this machine cannot confine fully."""
    caps = confinement.probe()
    if allow_weak or confinement.level(caps.available) == "full":
        return
    raise UsageError(
        f"{mode} grading needs the full sandbox, but this machine gives level "
        f"{confinement.level(caps.available)!r}; missing: {confinement.describe_missing(caps)}. "
        "Run the grader as root on Linux 5.13+ with Landlock and libseccomp, or pass --allow-weak-sandbox "
        "to grade anyway (the report names the level)."
    )
