"""Outside the box: trusted code that builds and polices it. The parent and the judge import these.

`confinement` (the frozen `Policy`, the capability `probe`, the levels), `users` (the sandbox's own uid),
`mounts`, `copying` (the submission into the box, links refused, within a budget), `seccomp`, `landlock`,
`enter` (the sandbox process's first step: every layer in force on itself before anything of the
submission's side is imported) and `forkserver` (the warm process sandboxes are forked from; it never
imports or runs student code).
"""
