"""Official grading (Gradescope, batch, CI) refuses a sandbox that lacks a protection official grades need.

Judged by what the layers protect (`confinement.PROTECTIONS`), not by their names: each platform grades
at the strongest level it allows, and the level is official when every protection is in force some way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from grader.errors import UsageError
from grader.sandbox.outside import confinement


def is_ci(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def require_official(mode: str, *, allow_weak: bool) -> None:
    """UsageError (exit 2) naming the missing protections and the layers behind them, for staff to act on."""
    caps = confinement.probe()
    gaps = confinement.official_gaps(caps.available)
    if allow_weak or not gaps:
        return
    raise UsageError(
        f"{mode} grading needs every protection of an official grade, but this machine's sandbox (level "
        f"{confinement.level(caps.available)!r}) lacks: {'; '.join(gaps)}. Layers missing here: "
        f"{confinement.describe_missing(caps)}. Grade on Linux 5.13+ with Landlock (ABI 6+) and libseccomp2, "
        "as any user. To grade anyway, with the level named in every report: --allow-weak-sandbox "
        "(Gradescope: GRADER_ALLOW_WEAK_SANDBOX=1 in run_autograder's environment)."
    )
