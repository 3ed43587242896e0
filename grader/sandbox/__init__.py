"""OS confinement of the process that runs student code (uid, seccomp, Landlock, namespaces, rlimits).

`confinement` is the one entry point: a frozen `Policy`, the capability `probe`, and `wrap`, which
turns a command into one that starts already confined (through `python -m grader.sandbox.enter`).
"""
