"""`grader gradescope [--out DIR]`: build Gradescope's autograder.zip (default dist/gradescope/, git-ignored).

Upload the zip as the assignment's autograder; setup.sh installs the pinned grader and run_autograder
grades each submission with the public and hidden checks into results.json.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from rich.console import Console

from grader.exitcodes import EXIT_OK
from grader.staff import gradescope_zip

NAME = "gradescope"
HELP = "build Gradescope's autograder.zip (staff)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=gradescope_zip.DEFAULT_OUT,
        help="directory for autograder.zip (default dist/gradescope)",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    path = gradescope_zip.build(args.out)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    hidden = sum(1 for n in names if n.endswith("/test_hidden.py"))
    cassettes = sum(1 for n in names if n.startswith("cassettes/"))
    console.print(
        f"Built {path} ({path.stat().st_size // 1024} KiB, {len(names)} files: {hidden} hidden suite(s), "
        f"{cassettes} cassette(s)). Upload it as the assignment's autograder on Gradescope."
    )
    return EXIT_OK
