"""`python -m grader.judge PYTEST_ARGS...`: the judge; its sandbox starts before pytest loads, then pytest runs here."""

import sys

from grader.judge import early


def main() -> int:
    early.start(sys.argv[1:])
    import pytest  # after the start: loading it and collecting the suites overlaps the sandbox's SDK imports

    return int(pytest.main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
