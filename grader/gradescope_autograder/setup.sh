#!/usr/bin/env bash
# Gradescope runs this once while building the autograder image (as root, in /autograder/source,
# which holds this project: grader/, cassettes/, pyproject.toml, constraints.txt, README.md).
# It installs Python 3.11 and the grader with the exact versions of constraints.txt.
set -euo pipefail
SOURCE="${GRADER_SOURCE:-/autograder/source}"
VENV="${GRADER_VENV:-/autograder/venv}"
export DEBIAN_FRONTEND=noninteractive
if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$SOURCE" -c "$SOURCE/constraints.txt"
# Fail the image build now, not a student's submission later, if the grader cannot start.
"$VENV/bin/python" -m grader grade --help >/dev/null
