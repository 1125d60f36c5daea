"""Notebooks under tests/fixtures are inputs of the runner tests, not tests of their own."""

collect_ignore = ["fixtures"]
