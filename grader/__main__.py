"""`python -m grader`: the grading command line."""

import sys

from grader.cli import main

sys.exit(main())
