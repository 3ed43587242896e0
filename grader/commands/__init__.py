"""One module per CLI command: NAME, HELP, add_arguments(parser) and run(args, console) -> exit code."""
