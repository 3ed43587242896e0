"""`grader merge OUT_DIR SHARD_DIR...`: one gradebook, feedback folder and class report from the shards of a batch.

Every submission of the class must appear exactly once across the shards; a missing, repeated or
foreign shard is an error (exit 2) that names it, and nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.exitcodes import EXIT_CANNOT_GRADE, EXIT_OK
from grader.staff import shards

NAME = "merge"
HELP = "combine the output folders of `batch --shard K/N` runs into one gradebook and class report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="where to write the merged gradebook")
    parser.add_argument("shards", type=Path, nargs="+", metavar="SHARD_DIR", help="the output folder of each shard")


def run(args: argparse.Namespace, console: Console) -> int:
    rows = shards.merge(args.out, args.shards, console)
    return EXIT_CANNOT_GRADE if any(r.status == "grader-error" for r in rows) else EXIT_OK
