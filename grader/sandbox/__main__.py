"""`python -I -B -m grader.sandbox POLICY_JSON FD SUBMISSION`: confine this process, then serve the judge on FD."""

import gc
import sys

# Off while the sandbox imports the SDKs: their million objects would set off collections that find no
# garbage (a fifth of the import time); runtime.main freezes them and turns it back on.
gc.disable()

from grader.sandbox.outside import enter  # noqa: E402 - after gc.disable, on purpose

if __name__ == "__main__":
    enter.confine(sys.argv[1])
    from grader.sandbox.inside import runtime  # only now: the layers are in force before the SDKs load

    runtime.main(int(sys.argv[2]), sys.argv[3])
