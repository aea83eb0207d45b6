"""Code used by both the web and the worker processes."""
