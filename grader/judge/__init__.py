"""The trusted side that runs the suites: it is the API the sandbox talks to, and decides every verdict."""
