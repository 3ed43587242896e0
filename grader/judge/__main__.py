"""`python -m grader.judge PYTEST_ARGS...`: the judge; its sandbox starts before pytest loads, then pytest runs here."""

import gc
import sys

from grader.judge import early


def main() -> int:
    # Off until the suites are collected (the plugin then freezes what is loaded and turns it back on):
    # what loads meanwhile (pytest, vcrpy, the suites, the cassettes) stays to the end, so collections free nothing.
    gc.disable()
    early.start(sys.argv[1:])
    import pytest  # after the start: loading it and collecting the suites overlaps the sandbox's SDK imports

    return int(pytest.main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
