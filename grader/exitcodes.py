"""Exit codes of every grader command (a public contract: scripts and CI depend on them)."""

EXIT_OK = 0  # the command completed (for grade: whatever the score)
EXIT_BELOW = 1  # grade: the score is below --fail-under; other commands: the check they make failed
EXIT_CANNOT_GRADE = 2  # the harness itself could not do the job: bad arguments, broken suite or cassette
EXIT_STOPPED = 130  # stopped by Ctrl-C (128 + SIGINT) before it finished; `grade --watch` returns 128 + the signal
