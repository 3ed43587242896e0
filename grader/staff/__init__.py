"""Instructor tools (trusted, in the parent process): batch and its gradebook, merge, class report, record, export."""
