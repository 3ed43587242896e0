"""`python -I -m grader.sandbox FD SUBMISSION`: serve the judge on the inherited socket FD."""

from grader.sandbox.runtime import main

if __name__ == "__main__":
    main()
