"""List cursors: they round-trip, and anything else is a clean BadCursor (a 400), never a crash."""
from __future__ import annotations

import contextlib
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web import pagination
from web.pagination import BadCursor


def test_people_cursor_round_trips():
    cursor = pagination.people_cursor({"sort_key": "lee ann", "id": "p-1"})
    assert pagination.people_position(cursor) == ("lee ann", "p-1")


def test_runs_cursor_keeps_microseconds_and_reads_naive_times_as_utc():
    created = datetime(2026, 1, 2, 3, 4, 5, 678901)
    when, run_id = pagination.runs_position(pagination.runs_cursor({"created_at": created, "id": "r"}))
    assert when == created.replace(tzinfo=timezone.utc) and run_id == "r"


def test_seq_cursors_are_bound_to_their_list():
    cursor = pagination.seq_cursor("feed", 42)
    assert pagination.seq_position("feed", cursor) == 42
    with pytest.raises(BadCursor):
        pagination.seq_position("run_changes", cursor)


@pytest.mark.parametrize("cursor", ["", "!!!", "eyJ", "bnVsbA", pagination.encode("feed", "1"),
                                    pagination.encode("feed", 2**63), pagination.encode("feed", 1.0)])
def test_malformed_cursors_are_bad_cursors(cursor):
    with pytest.raises(BadCursor):
        pagination.seq_position("feed", cursor)


@given(st.text(max_size=200))
def test_no_string_crashes_a_decoder(text):
    for decode in (pagination.people_position, pagination.runs_position,
                   lambda c: pagination.seq_position("feed", c)):
        with contextlib.suppress(BadCursor):
            decode(text)
