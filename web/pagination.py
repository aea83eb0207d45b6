"""Opaque list cursors: base64url of a small JSON document naming the list and the keyset position.

Keyset (not offset) positions keep pages stable while a sync inserts people. The list kind is part
of the cursor so that a cursor from one list handed to another is a clean 400, not a wrong page.
Cursors are not signed: a forged one can only select rows its bearer could read anyway.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from shared import clock
from shared.service import ServiceError

_MAX_SEQ = 2**63 - 1


class BadCursor(ServiceError):
    """The cursor was not made by this list (400 validation_failed, naming `cursor`)."""

    def __init__(self) -> None:
        super().__init__("the cursor is not valid for this list",
                         fields={"cursor": ["not a cursor this list produced"]})


def encode(kind: str, position: Any) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(kind: str, cursor: str, check: Callable[[Any], Any]) -> Any:
    """The position inside ``cursor``, passed through ``check`` (which raises or converts).

    Raises:
        BadCursor: not base64url JSON, another list's cursor, or a malformed position.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        doc = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
        if not isinstance(doc, dict) or doc.get("k") != kind or "p" not in doc:
            raise ValueError("another list's cursor")
        return check(doc["p"])
    except (ValueError, TypeError, binascii.Error, RecursionError, OverflowError):
        raise BadCursor() from None


def _text(value: Any, max_length: int) -> str:
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        raise ValueError("bad text")
    return value


def _seq(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SEQ:
        raise ValueError("bad seq")
    return value


def _pair(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("bad pair")
    return value[0], value[1]


# People: (sort_key, id), ascending.
def people_cursor(row: dict[str, Any]) -> str:
    return encode("people", [row["sort_key"], row["id"]])


def people_position(cursor: str) -> tuple[str, str]:
    def check(p: Any) -> tuple[str, str]:
        sort_key, person_id = _pair(p)
        return _text(sort_key, 400), _text(person_id, 36)
    return decode("people", cursor, check)


# Runs: (created_at, id), newest first. Microseconds are kept: runs created within one second
# must not be skipped.
def runs_cursor(row: dict[str, Any]) -> str:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite hands back naive UTC
        created = created.replace(tzinfo=timezone.utc)
    return encode("runs", [created.isoformat(), row["id"]])


def runs_position(cursor: str) -> tuple[datetime, str]:
    def check(p: Any) -> tuple[datetime, str]:
        created, run_id = _pair(p)
        return clock.parse_instant(_text(created, 40)), _text(run_id, 36)
    return decode("runs", cursor, check)


# A run's changes and the store feed: the per-store seq. Different kinds, because the feed's
# cursor has different end-of-list semantics (see web/api.py).
def seq_cursor(kind: str, seq: int) -> str:
    return encode(kind, seq)


def seq_position(kind: str, cursor: str) -> int:
    return decode(kind, cursor, _seq)
