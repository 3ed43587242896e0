"""Live mode (outside grading): the parent calls the real APIs through `child`, which runs the submission unconfined."""
