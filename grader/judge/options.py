"""The judge's command-line options, in one table: pytest reads them through the plugin, and
`early.start` reads the same ones before pytest has loaded."""

from __future__ import annotations

from typing import Any

from grader.course import CASSETTES_DIR

# name -> the keyword arguments of argparse's add_argument, which pytest's addoption takes too.
OPTIONS: dict[str, dict[str, Any]] = {
    "--grader-submission": {"metavar": "DIR", "help": "grade this directory as the package `exercises`"},
    "--grader-cassettes": {"metavar": "DIR", "help": f"cassette directory (default {CASSETTES_DIR})"},
    "--grader-record": {"action": "store_true", "help": "record cassettes from the real APIs"},
    "--grader-check-timeout": {"metavar": "S", "type": float, "default": 10.0, "help": "seconds per check"},
    "--grader-sandbox-layers": {"metavar": "L,L", "default": "none", "help": "confinement layers of the sandbox"},
    "--grader-sandbox-uid": {"metavar": "UID", "type": int, "default": None, "help": "the sandbox's own uid"},
    "--grader-fork-server": {"metavar": "FD", "type": int, "default": None, "help": "fork sandboxes from this server"},
    "--grader-claims": {"metavar": "DIR", "default": None, "help": "claim each exercise here before grading it"},
    "--grader-lane": {"metavar": "N", "type": int, "default": 0, "help": "this judge's lane in the claims folder"},
    # Not pytest's --deselect, which matches prefixes: leaving out test_x would also leave out test_x_y.
    "--grader-skip": {"metavar": "ID", "action": "append", "default": [], "help": "leave out this check (exact id)"},
}
