"""Live mode, no grade: the parent checks keys and prints; `child` runs the submission unconfined on the real APIs."""
