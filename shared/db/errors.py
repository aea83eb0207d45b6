"""Database-level outcomes the callers act on."""
from __future__ import annotations


class Conflict(Exception):
    """The write would break a uniqueness rule (e.g. a second live integration for a store)."""

    def __init__(self, message: str, existing_id: str | None = None):
        super().__init__(message)
        self.existing_id = existing_id
