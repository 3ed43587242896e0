"""Offline autograder for the LLM API integration course: a pytest plugin and a CLI."""
