"""`python -I -m grader.sandbox FD SUBMISSION`: serve the judge on the inherited socket FD."""

import gc

# Off while the sandbox imports the SDKs: their million objects would set off collections that find no
# garbage (a fifth of the import time); runtime.main freezes them and turns it back on.
gc.disable()

from grader.sandbox.runtime import main  # noqa: E402 - after gc.disable, on purpose

if __name__ == "__main__":
    main()
