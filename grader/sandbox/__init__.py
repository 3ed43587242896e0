"""The untrusted side: the process that imports the submission and makes the calls the judge asks for.

`runtime` serves the judge over an inherited socket; `transport` routes every httpx2 request there.
`confinement` puts the OS around it: a frozen `Policy`, the capability `probe`, and `wrap`, which
turns a command into one that starts already confined (through `python -m grader.sandbox.enter`).
"""
